"""``parjoint forward`` for ``physics = "gravity"``.

Config (TOML; SI units unless stated)::

    physics = "gravity"
    [mesh]
    file = "build/hill.msh"
    [model]
    density = { block = 300.0 }     # density contrast, kg/m^3: per region (unnamed regions 0),
                                    # a number, or { file = "model.h5", dataset = "density" }
    [survey]                        # stations: see parjoint.physics.potential.forward
    grid = { x = [-400.0, 400.0], y = [-400.0, 400.0], nx = 21, ny = 21 }
    height = 1.0
    components = ["gz"]             # gx gy gz (mGal), gxx gxy gxz gyy gyz gzz (Eotvos)
    [sensitivity]                   # optional: storage, compression, max_memory_gb
    [noise]                         # optional: sd = relative |d| + floor (mGal / Eotvos)
    [output]
    data = "gz.csv"                 # CSV, or UBC GRAV3D (gz only)
    regional = "none"
    model = "density.xdmf"          # optional

Air cells are not part of the model: their density contrast must be 0 (which is what
regions left out of a region table get).
"""

from __future__ import annotations

import time

import numpy as np
from mpi4py import MPI

from ...config import Table
from ...forward import mesh_from_config
from ...model import property_from_config
from ...noise import noise_from_config
from ...parallel import print0
from ..potential import forward as common
from ...mesh.surface import Topography
from .simulation import COMPONENTS, GravitySimulation


def run_forward(config: Table, comm: MPI.Comm) -> None:
    config.string("physics")
    mesh = mesh_from_config(config, comm)
    model = config.table("model")
    units = "kg/m^3 density contrast"
    rho = property_from_config(model, mesh, "density", units, default_region=0.0)
    model.finish()
    common.require_zero_in_air(model, "density", rho, mesh, units)
    topography = Topography(mesh)
    table = config.table("survey")
    survey = common.survey_from_config(table, mesh, topography, "gravity", COMPONENTS, ("gz",))
    table.finish()
    options = common.storage_from_config(config.table("sensitivity", None))
    noise = noise_from_config(config.table("noise", None))
    output = common.output_from_config(config.table("output"), ("gz",), survey.components, comm)
    config.finish()

    common.report_below(survey, comm)
    start = time.perf_counter()
    sim = GravitySimulation(mesh, survey.xyz, survey.components, options=options)
    d = sim.dpred(rho)
    seconds = comm.allreduce(time.perf_counter() - start, op=MPI.MAX)
    values, sd = common.finish_data(sim, d, noise, output.regional)
    print0(f"gravity: {sim.n_stations} stations x {len(sim.components)} component(s) "
           f"({', '.join(sim.components)}), {comm.allreduce(len(sim.active_index))} earth cells on {comm.size} "
           f"rank(s), {seconds:.2f} s", comm=comm)
    for name, unit, v in zip(sim.components, sim.units, values):
        print0(f"  {name}: {v.min():.6g} to {v.max():.6g} {unit}", comm=comm)
    common.write_data(output, survey, sim, values, sd, "parjoint gravity data", None, comm)
    print0(f"wrote {output.data}", comm=comm)
    if output.model:
        from ...io.xdmf import write_cell_fields
        from ..potential.weighting import sensitivity_weights

        write_cell_fields(mesh, output.model, {"density_contrast": rho, "active": sim.active.astype(np.float64),
                                               "sensitivity_weight": sensitivity_weights(sim)})
        print0(f"wrote {output.model}", comm=comm)
