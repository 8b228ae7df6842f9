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


def _uncertainty(table: Table, default_relative: np.ndarray | None, data: np.ndarray, name: str) -> np.ndarray:
    """sd = relative |d| + floor from ``uncertainty = {relative, floor}``, else from the file."""
    sub = table.table("uncertainty", None)
    if sub is None:
        if default_relative is None:
            raise table.error("uncertainty", "the data file has no errors; give { relative = ..., floor = ... }")
        return default_relative
    relative = sub.number("relative", 0.0)
    floor = sub.number("floor", 0.0)
    sub.finish()
    if relative < 0 or floor < 0:
        raise table.error("uncertainty", "relative error and floor must not be negative")
    sd = relative * np.abs(data) + floor
    if (sd <= 0).any():
        raise table.error("uncertainty", f"data set {name!r}: some standard deviations are zero; add a floor")
    return sd


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
    table.finish()
    background = layout[block].background
    term = DataMisfit(name, LogApparentResistivity(sim, k), layout, block,
                      Injection(layout[block].active, background), np.log(rhoa), sd_rhoa / rhoa, norm=norm)

    def write(folder: str, x: np.ndarray) -> None:
        predicted = np.exp(term.predicted(x))
        ext = os.path.splitext(path)[1]
        out = os.path.join(folder, f"{name}_predicted{ext}")
        write_survey_data(out, survey, {"r": predicted / k, "rhoa": predicted, "err": sd_rhoa / rhoa, "k": k},
                          predicted / k, sd_rhoa / np.abs(k), False, comm)

    return Dataset(name, "dc", term, "log apparent resistivity (log ohm m)", write)


BUILDERS: dict[str, Callable] = {"dc": dc_dataset}


def build_dataset(table: Table, mesh, layout, comm) -> Dataset:
    name = table.string("name")
    physics = table.string("physics", choices=tuple(BUILDERS))
    dataset = BUILDERS[physics](table, name, mesh, layout, comm)
    expected = dataset.term.map.output_size(layout[dataset.term.block.name].size)
    if expected != mesh.n_cells:
        raise InputError(f"{table.source}: data set {name!r}: the model map gives {expected} values, the "
                         f"{physics} simulation needs one per cell ({mesh.n_cells})", collective=True)
    return dataset
