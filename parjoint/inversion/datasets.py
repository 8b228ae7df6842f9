"""Data sets of an inversion config: one builder per physics.

A builder reads a ``[[dataset]]`` table and returns a :class:`Dataset`: the data
misfit term (observations, standard deviations, the simulation and the map from the
model block) and a writer for predicted data in the input file's format.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..config import Table
from ..errors import InputError
from .maps import Injection
from .terms import NORMS, DataMisfit


@dataclass
class Dataset:
    name: str
    physics: str
    term: DataMisfit
    observed_label: str  #: axis label of the data (with units) for figures
    write_predicted: Callable[[str, np.ndarray], None]  #: (folder, x) -> writes the predicted data file
    #: (name, units) of the physical property the block drives through a petrophysical
    #: relation, written beside the block's own values; None without a relation
    mapped: tuple[str, str] | None = None


def _uncertainty(table: Table, default_sd: np.ndarray | None, data: np.ndarray, name: str) -> np.ndarray:
    """sd = relative |d| + floor from ``uncertainty = {relative, floor}``, else from the file."""
    sub = table.table("uncertainty", None)
    if sub is None:
        if default_sd is None:
            raise table.error("uncertainty", "the data file has no errors; give { relative = ..., floor = ... }")
        return default_sd
    relative = sub.number("relative", 0.0)
    floor = sub.number("floor", 0.0)
    sub.finish()
    if relative < 0 or floor < 0:
        raise table.error("uncertainty", "relative error and floor must not be negative")
    sd = relative * np.abs(data) + floor
    if (sd <= 0).any():
        raise table.error("uncertainty", f"data set {name!r}: some standard deviations are zero; add a floor")
    return sd


def block_map(relation_table: Table | None, layout, block: str, physics_background: float):
    """Block values -> the physics property on every owned cell.

    Without a relation the block holds the property itself (the block's ``background``
    fills the other cells); with ``relation = {...}`` the block drives the physics
    through a petrophysical relation (direct parameter coupling), and the cells outside
    the block take the physics' own background.
    """
    active = layout[block].active
    if relation_table is None:
        return Injection(active, layout[block].background)
    from ..coupling.config import relation_from_table
    from ..coupling.petrophysics import PetroMap

    return Injection(active, physics_background) * PetroMap(relation_from_table(relation_table, layout, block))


def dc_dataset(table: Table, name: str, mesh, layout, comm) -> Dataset:
    """DC resistivity: observed apparent resistivity (BERT .dat or UBC), inverted as log(rho_a)."""
    from ..parallel import on_root
    from ..physics.dc.data import LogApparentResistivity
    from ..physics.dc.forward import geometric_factors, read_survey, write_survey_data
    from ..physics.dc.simulation import DCSimulation

    path = table.path("file")
    block = table.string("block", "log_conductivity")
    if block not in layout.blocks:
        raise table.error("block", f"no model block {block!r} (blocks: {', '.join(layout.blocks)})")
    sim_cfg = table.table("simulation", None) or Table({}, table.source, table.prefix + "simulation.")
    order = sim_cfg.integer("order", 1, min=1)
    solver = sim_cfg.string("solver", "auto", choices=("auto", "amg", "mumps"))
    tolerance = sim_cfg.number("electrode_tolerance", 1e-3, positive=True)
    groups = sim_cfg.raw("source_groups", 1)
    sim_cfg.finish()
    survey = on_root(comm, lambda: read_survey(path))
    sim = DCSimulation(mesh, survey, order=order, method=solver, tolerance=tolerance, source_groups=groups)
    k = geometric_factors(sim)
    values = survey.values
    if "rhoa" in values:
        rhoa = values["rhoa"]
    elif "r" in values or "value" in values:
        rhoa = k * values.get("r", values.get("value"))
    else:
        raise table.error("file", f"{path}: no apparent resistivity ('rhoa') or resistance ('r') column")
    if (rhoa <= 0).any() or not np.isfinite(rhoa).all():
        raise table.error("file", f"{path}: apparent resistivities must be positive to invert their logarithm")
    relative = values["err"] if "err" in values else (values["sd"] / np.abs(values["value"]) if "sd" in values
                                                      else None)
    sd_rhoa = _uncertainty(table, None if relative is None else relative * rhoa, rhoa, name)
    norm = table.string("norm", "l2", choices=NORMS)
    relation_table = table.table("relation", None)
    table.finish()
    model_map = block_map(relation_table, layout, block, np.log(1e-8))
    term = DataMisfit(name, LogApparentResistivity(sim, k), layout, block, model_map, np.log(rhoa), sd_rhoa / rhoa,
                      norm=norm)

    def write(folder: str, x: np.ndarray) -> None:
        predicted = np.exp(term.predicted(x))
        ext = os.path.splitext(path)[1]
        out = os.path.join(folder, f"{name}_predicted{ext}")
        write_survey_data(out, survey, {"r": predicted / k, "rhoa": predicted, "err": sd_rhoa / rhoa, "k": k},
                          predicted / k, sd_rhoa / np.abs(k), False, comm)

    return Dataset(name, "dc", term, "log apparent resistivity (log ohm m)", write,
                   None if relation_table is None else ("log_conductivity", "log(S/m)"))


def ip_dataset(table: Table, name: str, mesh, layout, comm) -> Dataset:
    """IP: apparent chargeability (the ``ip`` column of a BERT file, V/V; or a UBC .ip file)
    for the block ``chargeability`` (V/V), Seigel's formulation on a fixed conductivity
    given by ``[dataset.simulation] resistivity`` (ohm m: a number, per-region table or
    ``{ file = "model.h5", dataset = "resistivity" }``, e.g. a DC inversion's result)."""
    from ..model import property_from_config
    from ..parallel import on_root
    from ..physics.dc.forward import read_survey, write_survey_data
    from ..physics.dc.ip import MODES, IPSimulation
    from ..physics.dc.simulation import DCSimulation

    path = table.path("file")
    block = table.string("block", "chargeability")
    if block not in layout.blocks:
        raise table.error("block", f"no model block {block!r} (blocks: {', '.join(layout.blocks)})")
    sim_cfg = table.table("simulation", None) or Table({}, table.source, table.prefix + "simulation.")
    order = sim_cfg.integer("order", 1, min=1)
    solver = sim_cfg.string("solver", "auto", choices=("auto", "amg", "mumps"))
    tolerance = sim_cfg.number("electrode_tolerance", 1e-3, positive=True)
    mode = sim_cfg.string("ip_mode", "linear", choices=MODES)
    if "resistivity" not in sim_cfg:
        raise sim_cfg.error("resistivity", "IP needs the conductivity it sits on: give resistivity = <ohm m>, "
                                           "per-region values or { file = ..., dataset = ... }")
    rho = property_from_config(sim_cfg, mesh, "resistivity", "ohm m", positive=True, default_region=1e8)
    sim_cfg.finish()
    survey = on_root(comm, lambda: read_survey(path))
    values = survey.values
    observed = values.get("ip", values.get("value") if path.lower().endswith(".ip") else None)
    if observed is None:
        raise table.error("file", f"{path}: no apparent chargeability ('ip') column")
    file_sd = values["sd"] if "sd" in values and "ip" not in values else None
    sd = _uncertainty(table, file_sd, observed, name)
    norm = table.string("norm", "l2", choices=NORMS)
    relation_table = table.table("relation", None)
    table.finish()
    dc = DCSimulation(mesh, survey, order=order, method=solver, tolerance=tolerance)
    sim = IPSimulation(dc, -np.log(rho), mode)
    term = DataMisfit(name, sim, layout, block, block_map(relation_table, layout, block, 0.0), observed, sd,
                      norm=norm)

    def write(folder: str, x: np.ndarray) -> None:
        predicted = term.predicted(x)
        out = os.path.join(folder, f"{name}_predicted{os.path.splitext(path)[1]}")
        write_survey_data(out, survey, {"r": sim.R0, "ip": predicted}, predicted, sd, True, comm)

    return Dataset(name, "ip", term, "apparent chargeability (V/V)", write,
                   None if relation_table is None else ("chargeability", "V/V"))


def _potential_dataset(table: Table, name: str, mesh, layout, comm, physics: str) -> Dataset:
    """Gravity (density contrast, kg/m^3) or magnetics (susceptibility, SI) data from CSV or UBC files."""
    from ..io.potential_csv import read_potential_csv, write_potential_csv
    from ..io.ubc_potential import read_ubc_gravity, read_ubc_magnetics
    from ..parallel import atomic_output, on_root

    path = table.path("file")
    csv = path.lower().endswith(".csv")
    default_component, default_block = ("gz", "density") if physics == "gravity" else ("tmi", "susceptibility")
    component = table.string("component", default_component)
    block = table.string("block", default_block)
    if block not in layout.blocks:
        raise table.error("block", f"no model block {block!r} (blocks: {', '.join(layout.blocks)})")
    field = None
    if physics == "gravity":
        stations = on_root(comm, lambda: read_potential_csv(path) if csv else read_ubc_gravity(path))
    else:
        from ..physics.magnetics.field import InducingField

        if csv:
            stations = on_root(comm, lambda: read_potential_csv(path))
            sub = table.table("field")
            field = InducingField(sub.number("inclination"), sub.number("declination"), sub.number("strength"))
            sub.finish()
        else:
            field_values, stations = on_root(comm, lambda: read_ubc_magnetics(path))
            field = InducingField(*field_values)
        problem = field.problem()
        if problem:
            raise table.error("field", problem)
    observed = stations.values.get(component, stations.values.get("value"))
    if observed is None:
        raise table.error("file", f"{path}: no {component!r} (or 'value') column of observations")
    file_sd = stations.uncertainties.get(component, stations.uncertainties.get("uncertainty"))
    sd = _uncertainty(table, file_sd, observed, name)
    if (sd <= 0).any() or not np.isfinite(sd).all():
        raise table.error("uncertainty", f"data set {name!r}: standard deviations must be positive")
    norm = table.string("norm", "l2", choices=NORMS)
    relation_table = table.table("relation", None)
    table.finish()
    if physics == "gravity":
        from ..physics.gravity.simulation import GravitySimulation

        sim = GravitySimulation(mesh, stations.xyz, (component,), verbose=False)
        units = "mGal"
    else:
        from ..physics.magnetics.simulation import MagneticSimulation

        sim = MagneticSimulation(mesh, stations.xyz, field, (component,), verbose=False)
        units = "nT"
    term = DataMisfit(name, sim, layout, block, block_map(relation_table, layout, block, 0.0), observed, sd,
                      norm=norm)

    def write(folder: str, x: np.ndarray) -> None:
        predicted = term.predicted(x)
        out = os.path.join(folder, f"{name}_predicted.csv")
        with atomic_output(out, comm) as tmp:
            if comm.rank == 0:
                write_potential_csv(tmp, stations.xyz, {component: predicted}, {component: sd}, {component: units},
                                    np.zeros(len(predicted)), f"parjoint {physics} data predicted by the inversion")

    mapped = ("density", "kg/m^3") if physics == "gravity" else ("susceptibility", "SI")
    return Dataset(name, physics, term, f"{component} ({units})", write, None if relation_table is None else mapped)


def gravity_dataset(table: Table, name: str, mesh, layout, comm) -> Dataset:
    return _potential_dataset(table, name, mesh, layout, comm, "gravity")


def magnetics_dataset(table: Table, name: str, mesh, layout, comm) -> Dataset:
    return _potential_dataset(table, name, mesh, layout, comm, "magnetics")


BUILDERS: dict[str, Callable] = {"dc": dc_dataset, "ip": ip_dataset, "gravity": gravity_dataset, "magnetics": magnetics_dataset}


def build_dataset(table: Table, mesh, layout, comm) -> Dataset:
    name = table.string("name")
    physics = table.string("physics", choices=tuple(BUILDERS))
    dataset = BUILDERS[physics](table, name, mesh, layout, comm)
    check_map_size(dataset, layout, table.source)
    return dataset


def check_map_size(dataset: Dataset, layout, source: str) -> None:
    """The model map must give the simulation one value per cell."""
    expected = dataset.term.map.output_size(layout[dataset.term.block.name].size)
    if expected != layout.mesh.n_cells:
        raise InputError(f"{source}: data set {dataset.name!r}: the model map gives {expected} values, the "
                         f"{dataset.physics} simulation needs one per cell ({layout.mesh.n_cells})", collective=True)
