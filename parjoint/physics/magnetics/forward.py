"""``parjoint forward`` for ``physics = "magnetics"``.

Config (TOML; SI units unless stated)::

    physics = "magnetics"
    [mesh]
    file = "build/hill.msh"
    [model]
    susceptibility = { block = 0.02 }   # SI, per region (unnamed regions 0), a number or { file, dataset }
    remanence_x = { block = 0.5 }       # optional remanent magnetization, A/m: east,
    remanence_y = 0.0                   #   north
    remanence_z = { block = -1.0 }      #   and down components
    [survey]                            # stations: see parjoint.physics.potential.forward
    grid = { x = [-400.0, 400.0], y = [-400.0, 400.0], nx = 21, ny = 21 }
    height = 2.0
    components = ["tmi"]                # tmi bx by bz (nT; z down)
    inclination = 65.0                  # inducing field: degrees, positive down, in [-90, 90]
    declination = 10.0                  # degrees east of north
    strength = 50000.0                  # nT, positive
    [sensitivity]                       # optional
    [noise]                             # optional, nT
    [output]
    data = "tmi.csv"                    # CSV, or UBC MAG3D (tmi only)
    regional = "none"
    model = "susceptibility.xdmf"       # optional

A UBC MAG3D station file carries the inducing field; the three field keys may then be
left out (if given they must agree with the file).  Air cells are not part of the
model: susceptibility and remanence must be 0 there.  Low-susceptibility assumption,
no demagnetization: see :mod:`parjoint.physics.magnetics.simulation`.
"""

from __future__ import annotations

import time

import numpy as np
from mpi4py import MPI

from ...config import Table
from ...errors import InputError
from ...forward import mesh_from_config
from ...model import property_from_config
from ...noise import noise_from_config
from ...parallel import print0
from ..potential import forward as common
from ...mesh.surface import Topography
from .field import COMPONENTS, InducingField
from .simulation import MagneticSimulation

LARGE_SUSCEPTIBILITY = 0.1  # SI: beyond it the neglected demagnetization exceeds a few percent
_FIELD_KEYS = ("inclination", "declination", "strength")


def run_forward(config: Table, comm: MPI.Comm) -> None:
    config.string("physics")
    mesh = mesh_from_config(config, comm)
    model = config.table("model")
    chi = property_from_config(model, mesh, "susceptibility", "SI", default_region=0.0)
    common.require_zero_in_air(model, "susceptibility", chi, mesh, "SI")
    remanence = None
    if any(f"remanence_{a}" in model for a in "xyz"):
        parts = []
        for axis, name in zip("xyz", ("east", "north", "down")):
            key = f"remanence_{axis}"
            values = (property_from_config(model, mesh, key, f"A/m, {name}", default_region=0.0) if key in model
                      else np.zeros(mesh.n_cells))
            common.require_zero_in_air(model, key, values, mesh, "A/m")
            parts.append(values)
        remanence = np.column_stack(parts)
    model.finish()
    topography = Topography(mesh)
    table = config.table("survey")
    survey = common.survey_from_config(table, mesh, topography, "magnetics", COMPONENTS, ("tmi",))
    field = _field(table, survey)
    table.finish()
    options = common.storage_from_config(config.table("sensitivity", None))
    noise = noise_from_config(config.table("noise", None))
    output = common.output_from_config(config.table("output"), ("tmi",), survey.components, comm)
    config.finish()

    common.report_below(survey, comm)
    chi_max = comm.allreduce(float(np.abs(chi).max(initial=0.0)), op=MPI.MAX)
    if chi_max > LARGE_SUSCEPTIBILITY:
        print0(f"warning: susceptibility up to {chi_max:g} SI; demagnetization is neglected (low-susceptibility "
               f"approximation, error of order chi/3)", comm=comm)
    start = time.perf_counter()
    sim = MagneticSimulation(mesh, survey.xyz, field, survey.components, remanence=remanence, options=options)
    d = sim.dpred(chi)
    seconds = comm.allreduce(time.perf_counter() - start, op=MPI.MAX)
    values, sd = common.finish_data(sim, d, noise, output.regional)
    print0(f"magnetics: {sim.n_stations} stations x {len(sim.components)} component(s) "
           f"({', '.join(sim.components)}), inducing field I {field.inclination:g} D {field.declination:g} deg "
           f"{field.strength:g} nT{', with remanence' if remanence is not None else ''}, "
           f"{comm.allreduce(len(sim.active_index))} earth cells on {comm.size} rank(s), {seconds:.2f} s", comm=comm)
    for name, v in zip(sim.components, values):
        print0(f"  {name}: {v.min():.6g} to {v.max():.6g} nT", comm=comm)
    ubc_field = (field.inclination, field.declination, field.strength)
    common.write_data(output, survey, sim, values, sd, "parjoint magnetic data", ubc_field, comm)
    print0(f"wrote {output.data}", comm=comm)
    if output.model:
        from ...io.xdmf import write_cell_fields
        from ..potential.weighting import sensitivity_weights

        fields = {"susceptibility": chi, "active": sim.active.astype(np.float64),
                  "sensitivity_weight": sensitivity_weights(sim)}
        if remanence is not None:
            fields["remanence_east_north_down"] = remanence
        write_cell_fields(mesh, output.model, fields)
        print0(f"wrote {output.model}", comm=comm)


def _field(table: Table, survey) -> InducingField:
    """The inducing field from the config and/or a MAG3D station file (which must agree)."""
    given = [k for k in _FIELD_KEYS if k in table]
    if survey.field is None and len(given) != 3:
        missing = [k for k in _FIELD_KEYS if k not in table]
        raise table.error(missing[0], "missing (required): the inducing field needs inclination, declination "
                                      "(degrees) and strength (nT)")
    values = {k: table.number(k) for k in given}
    if survey.field is not None:
        for key, value in zip(_FIELD_KEYS, survey.field):
            if key in values and values[key] != value:
                raise table.error(key, f"{values[key]:g} differs from the station file's {value:g}")
            values[key] = value
    field = InducingField(values["inclination"], values["declination"], values["strength"])
    problem = field.problem()
    if problem:
        key = "inclination" if "inclination" in problem else "strength"
        if key in table:
            raise table.error(key, problem)
        raise InputError(f"{survey.source}: {problem}", collective=True)
    return field
