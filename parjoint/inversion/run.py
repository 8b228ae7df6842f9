"""``parjoint invert config.toml [--restart]``: a (joint) inversion from a TOML config.

::

    [mesh]
    file = "hill.msh"                       # .msh or .h5, relative to this file

    [model.log_conductivity]                # one table per model block
    regions = ["earth"]                     # active regions (default: all but "air")
    start = -4.6                            # block units; log_conductivity also takes
    # start_resistivity = 100.0             #   a resistivity in ohm m
    reference = -4.6                        # default: the start
    background = -18.4                      # property outside the block's regions
    lower = -9.2                            # bounds (blmvm, admm)
    upper = 0.0

    [[dataset]]
    name = "dc"
    physics = "dc"                          # dc | gravity | magnetics
    file = "dc.dat"
    block = "log_conductivity"
    uncertainty = { relative = 0.03, floor = 0.0 }   # default: the file's errors
    norm = "l2"                             # l2 | huber | l1 (IRLS)
    [dataset.simulation]                    # physics options (see `parjoint forward`)
    order = 1

    [[regularization]]
    kind = "smoothness"                     # smoothness | smallness
    block = "log_conductivity"
    weight = 1.0
    anisotropy = [1.0, 1.0, 1.0]            # smoothness weights on x, y, z differences
    depth_weighting = { z0 = 10.0, exponent = 2.0 }   # optional, w = (depth + z0)^(-exponent/2), depth (m) below the surface

    [inversion]
    method = "gauss-newton"                 # gauss-newton | lbfgs | blmvm | admm
    max_iterations = 15
    chi_factor = 1.0                        # target chi^2 = chi_factor N for every data set,
    chi_tolerance = 0.1                     # reached within (1 -/+ tolerance); steps that drop
                                            # below the window are redone with a larger beta
    beta = "auto"                           # or a number; auto = beta_ratio * eigenvalue ratio
    beta_ratio = 10.0                       # or per block: { log_conductivity = 10.0, density = 0.1 }
    cooling = 2.0                           # beta /= cooling every cooling_rate iterations
    cooling_rate = 1
    weighting = "uniform"                   # uniform | sqrt-count | eigenvalue | adaptive | multiplicative
    cg_max_iterations = 20
    cg_rtol = 0.01
    min_decrease = 1e-4
    inner_iterations = 10                   # lbfgs / blmvm steps per beta
    rho = 1.0                               # admm penalty

    [[coupling]]                            # optional; see parjoint/coupling/config.py
    kind = "cross_gradient"                 # cross_gradient | gramian | structural_gramian |
    blocks = ["log_conductivity", "density"]   # local_pearson | fcm | petrophysics
    weight = 1.0

    [joint]
    strategy = "simultaneous"               # simultaneous | cooperative | sequential
    cycles = 3                              # cooperative: outer cycles
    iterations = 3                          # cooperative: Gauss-Newton iterations per block and cycle

    [output]
    folder = "inversion"                    # model.h5, model.xdmf, <dataset>_predicted.*,
    sections = [{ axis = "y", value = 0.0 }]   # history.json, checkpoint.h5 and PNG figures

A checkpoint is written after every iteration; ``--restart`` continues from it.
"""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
from mpi4py import MPI

from ..config import Table, read_toml
from ..errors import InputError
from ..forward import mesh_from_config
from ..parallel import atomic_output, print0
from ..physics.potential.weighting import depth_weights
from .checkpoint import read_checkpoint
from .datasets import build_dataset
from .layout import Block, ModelLayout
from .objective import JointObjective
from .optimizers import METHODS, Inversion, Settings
from .strategies import STRATEGIES, run_cooperative, run_sequential
from .terms import Smallness, Smoothness
from .weighting import SCHEMES

UNITS = {"log_conductivity": "log(S/m)", "density": "kg/m^3", "susceptibility": "SI", "chargeability": "V/V"}
BACKGROUND = {"log_conductivity": np.log(1e-8)}


def run_invert(path: str, comm: MPI.Comm, restart: bool = False) -> None:
    config = read_toml(path, comm)
    mesh = mesh_from_config(config, comm)
    layout, starts, references, bounds = _blocks(config.table("model"), mesh)
    tables = config.tables("dataset")
    if not tables:
        raise config.error("dataset", "no [[dataset]] given")
    regularization = [_regularization(t, layout, references) for t in config.tables("regularization")]
    if not regularization:
        raise config.error("regularization", "give at least one [[regularization]] term")
    settings = _settings(config.table("inversion", None) or Table({}, config.source, "inversion."), layout, bounds)
    from ..coupling.config import coupling_from_table

    couplings = [coupling_from_table(t, layout) for t in config.tables("coupling")]
    joint = config.table("joint", None) or Table({}, config.source, "joint.")
    strategy = joint.string("strategy", "simultaneous", choices=STRATEGIES)
    cycles = joint.integer("cycles", 3, min=1)
    stage_iterations = joint.integer("iterations", 3, min=1)
    joint.finish()
    if strategy != "simultaneous" and settings.method != "gauss-newton":
        raise InputError(f"{config.source}: key 'joint.strategy': {strategy} runs Gauss-Newton stages; "
                         "set inversion.method = \"gauss-newton\"", collective=True)
    if restart and strategy != "simultaneous":
        raise InputError(f"{config.source}: --restart continues simultaneous inversions only", collective=True)
    out = config.table("output")
    folder = out.path("folder", must_exist=False)
    sections = out.raw("sections", [])
    out.finish()
    config.finish()
    _check_sections(sections, config)
    # the cheap checks above come first; building the data sets runs the physics
    datasets = [build_dataset(t, mesh, layout, comm) for t in tables]
    names = [d.name for d in datasets]
    if len(set(names)) != len(names):
        raise config.error("dataset", f"data set names repeat: {names}")
    if comm.rank == 0:
        os.makedirs(folder, exist_ok=True)
    comm.Barrier()

    log = lambda *a: print0(*a, comm=comm)  # noqa: E731
    fingerprint = _fingerprint(mesh, layout, datasets, regularization + couplings)
    checkpoint = os.path.join(folder, "checkpoint.h5")
    state = read_checkpoint(checkpoint, layout, fingerprint) if restart else None
    log(f"invert: {layout.n_global} model values in block(s) {', '.join(layout.blocks)}; data sets "
        + ", ".join(f"{d.name} ({d.term.n_data})" for d in datasets) + f"; {strategy} {settings.method} on "
        f"{comm.size} rank(s)" + (f"; restarting after iteration {state['scalars']['iteration']}" if state else ""))
    x0 = layout.join(starts)
    data = [d.term for d in datasets]
    if strategy == "simultaneous":
        inversion = Inversion(JointObjective(layout, data, regularization, coupling=couplings), settings,
                              checkpoint=checkpoint, fingerprint=fingerprint, log=log)
        x = inversion.run(x0, state)
        history = inversion.history
    elif strategy == "cooperative":
        x, history = run_cooperative(layout, data, regularization, couplings, settings, x0, cycles,
                                     stage_iterations, log)
    else:
        x, history = run_sequential(layout, data, regularization, couplings, settings, x0, log)
    _write_outputs(folder, layout, datasets, x, history, sections, couplings)


def _blocks(table: Table, mesh):
    blocks, starts, references, bounds = [], {}, {}, {}
    names = list(table.keys())
    if not names:
        raise table.error("model", "define at least one block, e.g. [model.log_conductivity]")
    region_names = list(mesh.region_names.values())
    for name in names:
        sub = table.table(name)
        regions = sub.raw("regions", [r for r in region_names if r.lower() != "air"])
        if not isinstance(regions, list) or any(r not in region_names for r in regions):
            raise sub.error("regions", f"expected a list of region names from {region_names}")
        active = np.isin(mesh.cell_region, [mesh.region_tag(r) for r in regions])
        if "start_resistivity" in sub and name == "log_conductivity":
            start = -np.log(sub.number("start_resistivity", positive=True))
        else:
            start = sub.number("start", 0.0)
        reference = sub.number("reference", start)
        background = sub.number("background", BACKGROUND.get(name, 0.0))
        lower, upper = sub.number("lower", -np.inf), sub.number("upper", np.inf)
        if not lower < upper:
            raise sub.error("upper", "must exceed lower")
        units = sub.string("units", UNITS.get(name, "1"))
        sub.finish()
        blocks.append(Block(name, active, units, background))
        starts[name], references[name], bounds[name] = start, reference, (lower, upper)
    layout = ModelLayout(mesh, blocks)
    empty = [n for n, b in layout.blocks.items() if b.size_global == 0]
    if empty:
        raise table.error(empty[0], "the block has no cells (check its regions)")
    full = {n: np.full(b.size, starts[n]) for n, b in layout.blocks.items()}
    refs = {n: np.full(b.size, references[n]) for n, b in layout.blocks.items()}
    return layout, full, refs, bounds


def _regularization(table: Table, layout: ModelLayout, references: dict):
    kind = table.string("kind", choices=("smoothness", "smallness"))
    block = table.string("block")
    if block not in layout.blocks:
        raise table.error("block", f"no model block {block!r} (blocks: {', '.join(layout.blocks)})")
    weight = table.number("weight", 1.0, min=0.0)
    weights = None
    depth = table.table("depth_weighting", None)
    if depth is not None:
        z0 = depth.number("z0", positive=True)
        exponent = depth.number("exponent", 2.0, min=0.0)
        depth.finish()
        active = layout[block].active
        weights = depth_weights(layout.mesh, z0, exponent, active)[active]
    if kind == "smoothness":
        anisotropy = table.vector("anisotropy", 3, [1.0, 1.0, 1.0])
        if min(anisotropy) < 0:
            raise table.error("anisotropy", "weights must not be negative")
        table.finish()
        return weight, Smoothness(layout, block, anisotropy, weights)
    table.finish()
    return weight, Smallness(layout, block, references[block], weights)


def _settings(table: Table, layout: ModelLayout, bounds: dict) -> Settings:
    s = Settings()
    s.method = table.string("method", s.method, choices=METHODS)
    s.max_iterations = table.integer("max_iterations", s.max_iterations, min=1)
    s.chi_factor = table.number("chi_factor", s.chi_factor, positive=True)
    s.chi_tolerance = table.number("chi_tolerance", s.chi_tolerance, min=0.0, max=0.9)
    beta = table.raw("beta", "auto")
    if beta != "auto":
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not beta >= 0:
            raise table.error("beta", f"must be \"auto\" or a number >= 0, got {beta!r}")
        s.beta = float(beta)
    ratio = table.raw("beta_ratio", s.beta_ratio)
    if isinstance(ratio, dict):
        for name, value in ratio.items():
            if name not in layout.blocks:
                raise table.error("beta_ratio", f"no model block {name!r} (blocks: {', '.join(layout.blocks)})")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise table.error("beta_ratio", f"{name}: expected a positive number, got {value!r}")
        s.beta_ratio = {name: float(v) for name, v in ratio.items()}
    else:
        s.beta_ratio = table.number("beta_ratio", s.beta_ratio, positive=True)
    s.cooling = table.number("cooling", s.cooling, min=1.0)
    s.cooling_rate = table.integer("cooling_rate", s.cooling_rate, min=1)
    s.weighting = table.string("weighting", s.weighting, choices=SCHEMES)
    s.cg_max_iterations = table.integer("cg_max_iterations", s.cg_max_iterations, min=1)
    s.cg_rtol = table.number("cg_rtol", s.cg_rtol, positive=True)
    s.min_decrease = table.number("min_decrease", s.min_decrease, min=0.0)
    s.inner_iterations = table.integer("inner_iterations", s.inner_iterations, min=1)
    s.rho = table.number("rho", s.rho, positive=True)
    table.finish()
    if s.method in ("blmvm", "admm"):
        s.lower = layout.join({n: np.full(b.size, bounds[n][0]) for n, b in layout.blocks.items()})
        s.upper = layout.join({n: np.full(b.size, bounds[n][1]) for n, b in layout.blocks.items()})
    return s


def _check_sections(sections, config: Table) -> None:
    if not isinstance(sections, list):
        raise InputError(f"{config.source}: key 'output.sections': expected a list of tables", collective=True)
    for k, sec in enumerate(sections):
        if (not isinstance(sec, dict) or set(sec) != {"axis", "value"} or sec["axis"] not in ("x", "y", "z")
                or isinstance(sec["value"], bool) or not isinstance(sec["value"], (int, float))):
            raise InputError(f"{config.source}: key 'output.sections[{k}]': expected {{ axis = \"x\"|\"y\"|\"z\", "
                             "value = <m> }", collective=True)


def _fingerprint(mesh, layout, datasets, regularization) -> str:
    h = hashlib.sha256()
    h.update(f"{mesh.n_cells_global} {mesh.n_vertices_global}".encode())
    for name, b in layout.blocks.items():
        h.update(f"{name}:{b.size_global}".encode())
    for d in datasets:
        h.update(d.name.encode())
        h.update(np.ascontiguousarray(d.term.observed).tobytes())
        h.update(np.ascontiguousarray(d.term.sd).tobytes())
    for weight, term in regularization:
        h.update(f"{term.name}:{weight}".encode())
    return h.hexdigest()


def _write_outputs(folder, layout, datasets, x, history, sections, couplings=()) -> None:
    from ..io.xdmf import write_cell_fields
    from ..mesh.locate import sample_cells
    from ..model import write_cell_arrays
    from . import figures

    mesh, comm = layout.mesh, layout.comm
    parts = layout.split(x)
    fields = {name: layout.to_cells(name, values) for name, values in parts.items()}
    arrays = {name: (fields[name], layout[name].units) for name in parts}
    for d in datasets:  # what a petrophysical relation made of the block: density from porosity...
        if d.mapped and d.mapped[0] not in arrays:
            block = d.term.block
            arrays[d.mapped[0]] = (layout.to_cells(block.name, d.term.model(x)[block.active]), d.mapped[1])
    if "log_conductivity" in arrays:
        arrays["resistivity"] = (np.exp(-arrays["log_conductivity"][0]), "ohm m")
    from ..coupling.clustering import FuzzyCMeans

    for _, term in couplings:
        if isinstance(term, FuzzyCMeans):  # the lithology map clustering found
            arrays[f"lithology_{'_'.join(term.blocks)}"] = (term.lithology(x).astype(float), "cluster index")
    write_cell_arrays(os.path.join(folder, "model.h5"), arrays, mesh)
    write_cell_fields(mesh, os.path.join(folder, "model.xdmf"), {n: v for n, (v, _) in arrays.items()})
    for d in datasets:
        d.write_predicted(folder, x)
    predicted = [d.term.predicted(x) for d in datasets]
    section_values = {}
    for k, sec in enumerate(sections):
        lo, hi = mesh.bounds
        for name, values in fields.items():
            # frame the section on the finer half of the block's cells (the survey area)
            active = layout[name].active
            vol = mesh.volume[active]
            c = mesh.centroid[active][vol <= np.median(vol)] if len(vol) else np.zeros((0, 3))
            blo = np.array(c.min(axis=0) if len(c) else hi, dtype=float)
            bhi = np.array(c.max(axis=0) if len(c) else lo, dtype=float)
            comm.Allreduce(MPI.IN_PLACE, blo, op=MPI.MIN)
            comm.Allreduce(MPI.IN_PLACE, bhi, op=MPI.MAX)
            pts, A, B, axes = figures.section_grid(np.stack([blo, bhi]), sec["axis"], float(sec["value"]))
            section_values[(k, name)] = (sample_cells(mesh, values, pts).reshape(A.shape), A, B, axes)
    if comm.rank == 0:
        with atomic_output(os.path.join(folder, "history.json"), MPI.COMM_SELF) as tmp:
            with open(tmp, "w") as fh:
                json.dump(history, fh, indent=1)
        figures.convergence(history, [d.name for d in datasets], os.path.join(folder, "convergence.png"))
        for d, pred in zip(datasets, predicted):
            figures.data_fit(d.term.observed, pred, d.term.sd, d.observed_label, d.name,
                             os.path.join(folder, f"data_{d.name}.png"))
        for (k, name), (values, A, B, axes) in section_values.items():
            sec = sections[k]
            figures.section(A, B, values, axes, f"{name} ({layout[name].units})",
                            f"{name}, {sec['axis']} = {sec['value']} m",
                            os.path.join(folder, f"section_{k}_{name}.png"))
    comm.Barrier()
    print0(f"wrote {folder}/model.h5, model.xdmf, predicted data, history.json and figures", comm=comm)
