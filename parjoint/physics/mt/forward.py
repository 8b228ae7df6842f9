"""``parjoint forward`` for ``physics = "mt"``: synthetic impedances and tippers as EDI files.

Config (TOML; SI units)::

    physics = "mt"
    [mesh]
    file = "build/mt_ridge.msh"        # needs an air region; stations are surface nodes
    [model]
    resistivity = { earth = 100.0, block = 10.0 }    # ohm m, per region or {file, dataset};
                                                      # air cells take simulation.air_conductivity
    [survey]
    frequencies = { min = 1e-3, max = 1e3, per_decade = 2 }   # Hz, or a list [0.01, 0.1, ...]
    line = { start = [-500.0, 0.0], end = [500.0, 0.0], count = 11 }  # or grid = {x, y, nx, ny},
                                       # or file = "stations.csv" (x, y; mesh frame, m); draped on the surface
    tipper = true                      # also T_zx, T_zy (default true)
    # or stations and frequencies from EDI files (field data, other codes' output):
    # edi = ["data/*.edi"]             # names or glob patterns, relative to this file
    # positions = "stations.csv"       # optional: name, x, y (mesh frame, m) of each EDI station;
                                       # default: the files' local coordinates (REFTYPE=CART)
    [simulation]
    solver = "ams"                     # ams (FGMRES + PRESB/AMS) | mumps; PETSc options -mt_...
    frequency_groups = 1               # or "auto", or G dividing the rank count
    air_conductivity = 1e-8            # S/m
    station_tolerance = 0.01           # m, station to mesh node
    [noise]                            # optional, Gaussian on real and imaginary parts
    impedance_floor = 0.05             # sd = impedance_floor * |Z_xy Z_yx|^(1/2) for every Z component
    tipper_floor = 0.02                # sd of tipper components (absolute)
    seed = 1
    [output]
    edi = "predicted"                  # folder (created), one <station>.edi each

The boundary values come from the model's own boundary columns (:mod:`.boundary`).
"""

from __future__ import annotations

import glob
import os

import numpy as np
from mpi4py import MPI

from ...config import Table
from ...errors import InputError
from ...forward import mesh_from_config
from ...model import property_from_config
from ...parallel import atomic_output, on_root, print0
from .survey import COMPONENTS, MTSurvey, apparent_resistivity, impedance_floor, phase


def frequencies_from_config(table: Table, key: str = "frequencies") -> np.ndarray:
    """A list of frequencies (Hz) or {min, max, per_decade}: positive, increasing."""
    raw = table.raw(key)
    if isinstance(raw, dict):
        sub = table.table(key)
        lo, hi = sub.number("min", positive=True), sub.number("max", positive=True)
        per = sub.integer("per_decade", 1, min=1)
        sub.finish()
        if hi < lo:
            raise table.error(key, f"max ({hi:g}) is below min ({lo:g})")
        count = int(round(np.log10(hi / lo) * per)) + 1
        return np.logspace(np.log10(lo), np.log10(hi), count)
    if not isinstance(raw, list) or not raw or any(isinstance(v, bool) or not isinstance(v, (int, float))
                                                   for v in raw):
        raise table.error(key, f"expected a list of numbers or {{min, max, per_decade}}, got {raw!r}")
    f = np.array(raw, dtype=np.float64)
    if not np.all(np.isfinite(f)) or np.any(f <= 0):
        bad = f[~(np.isfinite(f) & (f > 0))][0]
        raise table.error(key, f"frequencies must be positive (Hz), got {bad:g}")
    if np.any(np.diff(np.sort(f)) <= 0):
        raise table.error(key, "frequencies must not repeat")
    return np.sort(f)


def read_positions(path: str) -> dict[str, tuple[float, float]]:
    """name, x, y per line (whitespace or commas, # comments, optional header)."""
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file")
    out: dict[str, tuple[float, float]] = {}
    with open(path) as fh:
        lines = [(n, line.split("#", 1)[0].replace(",", " ").split()) for n, line in enumerate(fh, start=1)]
    lines = [(n, w) for n, w in lines if w]
    for k, (n, words) in enumerate(lines):
        try:
            x, y = float(words[1]), float(words[2])
        except (ValueError, IndexError):
            if k == 0:
                continue  # header
            raise InputError(f"{path}: line {n}: expected 'name x y', got {' '.join(words)!r}") from None
        if len(words) != 3 or not (np.isfinite(x) and np.isfinite(y)):
            raise InputError(f"{path}: line {n}: expected 'name x y' with finite x, y")
        if words[0] in out:
            raise InputError(f"{path}: line {n}: station {words[0]} listed twice")
        out[words[0]] = (x, y)
    if not out:
        raise InputError(f"{path}: no stations")
    return out


def survey_from_edi(files: list[str], positions: str | None):
    """(survey, stations) from EDI files; frequencies are the union of the files' sets
    (equal within 1e-6 relative), the mask marks what each file has."""
    from ...io.edi import read_edi

    stations = [read_edi(path) for path in files]
    names = [s.name for s in stations]
    for k, name in enumerate(names):
        if names.index(name) != k:
            other = stations[names.index(name)].source
            raise InputError(f"{stations[k].source}: station name {name} also used by {other}")
    table = read_positions(positions) if positions else None
    xyz = np.empty((len(stations), 3))
    for k, st in enumerate(stations):
        if table is not None:
            if st.name not in table:
                raise InputError(f"{positions}: no position for station {st.name} ({st.source})")
            xyz[k, :2] = table[st.name]
            xyz[k, 2] = np.nan
        elif st.north is None:
            raise InputError(f"{st.source}: no local coordinates (>=DEFINEMEAS REFTYPE=CART with a HX sensor "
                             "position); give [survey] positions = \"stations.csv\" (name, x, y)")
        else:
            xyz[k] = (st.east, st.north, st.elevation if st.elevation is not None else np.nan)
    allf = np.sort(np.concatenate([s.frequencies for s in stations]))
    keep = np.concatenate([[True], np.diff(allf) > 1e-6 * allf[1:]])
    freqs = allf[keep]
    mask = np.zeros((len(freqs), len(stations), len(COMPONENTS)), bool)
    for k, st in enumerate(stations):
        rows = np.searchsorted(freqs, st.frequencies * (1 - 1e-6))
        has = np.zeros((len(st.frequencies), 6), bool)
        has[:, :4] = np.isfinite(st.Z.reshape(-1, 4))
        if st.T is not None:
            has[:, 4:] = np.isfinite(st.T)
        mask[rows, k] = has
    return MTSurvey(xyz, freqs, mask, names, sources=[s.source for s in stations]), stations


def survey_from_config(table: Table, mesh, comm: MPI.Comm) -> MTSurvey:
    """Collective: the survey of an ``[survey]`` table (see the module notes)."""
    from ...mesh.surface import Topography, surface_elevation

    if "edi" in table:
        raw = table.raw("edi")
        patterns = [raw] if isinstance(raw, str) else raw
        if not isinstance(patterns, list) or not patterns or not all(isinstance(p, str) for p in patterns):
            raise table.error("edi", "expected a file name, a glob pattern or a list of them")
        positions = table.path("positions", None)
        table.finish()

        def read():
            files = []
            for p in patterns:
                full = p if os.path.isabs(p) else os.path.join(table.base_dir, p)
                found = sorted(glob.glob(full))
                if not found:
                    raise InputError(f"{table.source}: key 'survey.edi': no file matches {full}")
                files += found
            return survey_from_edi(files, positions)[0]

        survey = on_root(comm, read)
        missing = np.flatnonzero(np.isnan(survey.xyz[:, 2]))
        if len(missing):  # no elevation given: on the surface
            z = Topography(mesh).elevation(survey.xyz[missing, :2])
            off = np.flatnonzero(np.isnan(z))
            if len(off):
                k = int(missing[off[0]])
                raise InputError(f"{survey.label(k)} at ({survey.xyz[k, 0]:.3f}, {survey.xyz[k, 1]:.3f}) is outside "
                                 "the mesh", collective=True)
            survey.xyz[missing, 2] = z
        return survey
    frequencies = frequencies_from_config(table)
    tipper = table.boolean("tipper", True)
    given = [k for k in ("line", "grid", "file") if k in table]
    if len(given) != 1:
        raise table.error(given[1] if given else "line", "give exactly one of 'line', 'grid', 'file' or 'edi'")
    if given[0] == "line":
        sub = table.table("line")
        start, end = np.array(sub.vector("start", 2)), np.array(sub.vector("end", 2))
        xy = start + np.linspace(0.0, 1.0, sub.integer("count", min=1))[:, None] * (end - start)
        sub.finish()
    elif given[0] == "grid":
        sub = table.table("grid")
        gx, gy = np.meshgrid(np.linspace(*sub.vector("x", 2), sub.integer("nx", min=1)),
                             np.linspace(*sub.vector("y", 2), sub.integer("ny", min=1)))
        xy = np.column_stack([gx.ravel(), gy.ravel()])
        sub.finish()
    else:
        from ...mesh.topography import read_columns

        path = table.path("file")
        xy = on_root(comm, lambda: read_columns(path, 2, "x y")[0])
    table.finish()
    xyz = np.column_stack([xy, surface_elevation(mesh, xy)])
    mask = np.zeros((len(frequencies), len(xy), len(COMPONENTS)), bool)
    mask[:, :, :6 if tipper else 4] = True
    return MTSurvey(xyz, frequencies, mask)


def run_forward(config: Table, comm: MPI.Comm) -> None:
    from .simulation import AIR_CONDUCTIVITY, MTSimulation

    config.string("physics")
    mesh = mesh_from_config(config, comm)
    model = config.table("model")
    rho = property_from_config(model, mesh, "resistivity", "ohm m", positive=True, default_region=1e8)
    model.finish()
    survey = survey_from_config(config.table("survey"), mesh, comm)
    sim_cfg = config.table("simulation", None) or Table({}, config.source, "simulation.")
    solver = sim_cfg.string("solver", "ams", choices=("ams", "mumps"))
    groups = sim_cfg.raw("frequency_groups", 1)
    if groups != "auto" and (isinstance(groups, bool) or not isinstance(groups, int) or groups < 1
                             or comm.size % groups):
        raise sim_cfg.error("frequency_groups", f"must be \"auto\" or a divisor of the rank count {comm.size}")
    air = sim_cfg.number("air_conductivity", AIR_CONDUCTIVITY, positive=True)
    tolerance = sim_cfg.number("station_tolerance", 0.01, positive=True)
    sim_cfg.finish()
    noise = config.table("noise", None)
    floor_z = floor_t = 0.0
    seed = None
    if noise is not None:
        floor_z = noise.number("impedance_floor", 0.0, min=0.0)
        floor_t = noise.number("tipper_floor", 0.0, min=0.0)
        seed = noise.integer("seed", 0, min=0)
        noise.finish()
    out = config.table("output")
    folder = out.path("edi", must_exist=False)
    out.finish()
    config.finish()
    parent = os.path.dirname(os.path.abspath(folder))
    if not os.path.isdir(parent):
        raise InputError(f"{config.source}: key 'output.edi': folder {parent} does not exist", collective=True)

    log_sigma = -np.log(rho)
    sim = MTSimulation(mesh, survey, log_sigma, method=solver, air_conductivity=air, frequency_groups=groups,
                       tolerance=tolerance)
    R = sim.responses(log_sigma)
    its = [i for v in sim.iterations.values() for i in v]
    print0(f"mt: {survey.n_stations} stations, {survey.n_frequencies} frequencies, {mesh.n_edges_global} edges, "
           f"solver {sim.method}, {sim.groups.n_groups if sim.groups else 1} frequency group(s); outer "
           f"iterations per solve {min(its) if its else '-'}-{max(its) if its else '-'}", comm=comm)
    sd_z = impedance_floor(R, floor_z)  # (n_f, n_s)
    sd_t = np.full(sd_z.shape, floor_t)
    noisy = R.copy()
    if seed is not None and (floor_z > 0 or floor_t > 0):
        rng = np.random.default_rng(seed)
        sd = np.concatenate([np.repeat(sd_z[:, :, None], 4, axis=2), np.repeat(sd_t[:, :, None], 2, axis=2)], axis=2)
        noisy = R + sd * (rng.standard_normal(R.shape) + 1j * rng.standard_normal(R.shape))
    write_survey_edi(folder, survey, noisy, sd_z, sd_t, comm)
    rho_a = apparent_resistivity(R[:, :, 1], survey.frequencies[:, None])
    print0(f"mt: rho_a(xy) {rho_a.min():.4g}-{rho_a.max():.4g} ohm m, phase(xy) {phase(R[:, :, 1]).min():.2f}-"
           f"{phase(R[:, :, 1]).max():.2f} deg; wrote {survey.n_stations} EDI files to {folder}", comm=comm)
    sim.destroy()


def write_survey_edi(folder: str, survey: MTSurvey, R: np.ndarray, sd_z: np.ndarray, sd_t: np.ndarray,
                     comm: MPI.Comm) -> None:
    """Collective: one EDI per station (rank 0 writes), NaN where the mask has no datum."""
    from ...io.edi import EdiStation, write_edi

    if comm.rank == 0:
        os.makedirs(folder, exist_ok=True)
    comm.Barrier()
    values = np.where(survey.mask, R, np.nan)
    for s, name in enumerate(survey.names):
        rows = survey.mask[:, s].any(axis=1)
        f = survey.frequencies[rows]
        Z = values[rows, s, :4].reshape(-1, 2, 2)
        tipper = survey.mask[rows, s, 4:].any()
        station = EdiStation(name=name, frequencies=f, Z=Z,
                             Z_var=np.repeat(sd_z[rows, s, None] ** 2, 4, axis=1).reshape(-1, 2, 2),
                             T=values[rows, s, 4:] if tipper else None,
                             T_var=np.repeat(sd_t[rows, s, None] ** 2, 2, axis=1) if tipper else None,
                             elevation=float(survey.xyz[s, 2]), north=float(survey.xyz[s, 1]),
                             east=float(survey.xyz[s, 0]))
        with atomic_output(os.path.join(folder, f"{name}.edi"), comm) as tmp:
            if comm.rank == 0:
                write_edi(tmp, station)
