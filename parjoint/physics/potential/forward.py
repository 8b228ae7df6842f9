"""The parts of a gravity or magnetics ``parjoint forward`` config both physics share.

::

    [survey]
    file = "stations.csv"           # CSV (x, y, z[, ...]) or UBC-GIF (GRAV3D / MAG3D) station file
    # grid = { x = [-400.0, 400.0], y = [-400.0, 400.0], nx = 21, ny = 21 }
    # line = { start = [-500.0, 0.0], end = [500.0, 0.0], count = 51 }
    format = "csv"                  # csv | ubc; default from the extension (.csv; .obs .grv .gra .mag .loc)
    height = 1.0                    # drape: z = mesh surface + height (m), replacing the file's z
    # elevation = 50.0              # grid/line only, instead of height: absolute z (m)
    components = ["gz"]
    [sensitivity]                   # optional
    storage = "float64"             # float64 | float32 | none (recompute every product)
    compression = 0.0               # truncation tolerance tau (0: off); see parjoint.physics.potential.sensitivity
    max_memory_gb = 8.0             # per rank; default: available memory / ranks on the node
    [output]
    data = "gz.csv"                 # CSV or UBC (by format / extension)
    format = "csv"
    regional = "none"               # none | constant | plane: removed from the output data
    model = "model.xdmf"            # optional: the model (and sensitivity weights) for ParaView

Stations below the topography (boreholes) are allowed; rank 0 prints how many and
the output marks them (CSV column ``below_surface``, UBC comment line).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from mpi4py import MPI

from ...config import Table
from ...errors import InputError
from ...noise import add_noise, standard_deviation
from ...parallel import atomic_output, on_root, print0
from .regional import KINDS, remove_regional
from .sensitivity import STORAGES, StorageOptions
from ...mesh.surface import Topography

FORMATS = ("csv", "ubc")
UBC_EXTENSIONS = (".obs", ".grv", ".gra", ".mag", ".loc")


@dataclass
class Survey:
    xyz: np.ndarray  #: (n, 3) m
    below: np.ndarray  #: (n,) station below the topography
    components: tuple[str, ...]
    field: tuple[float, float, float] | None  #: inducing field from a MAG3D file
    source: str  #: the station file, or "grid" / "line"


@dataclass
class Output:
    data: str
    format: str
    regional: str
    model: str | None


def file_format(table: Table, key: str, path: str) -> str:
    """``format`` from the table, else from the extension of ``path``."""
    fmt = table.string("format", None, choices=FORMATS)
    if fmt is not None:
        return fmt
    ext = os.path.splitext(path)[1].lower()
    if ext == ".csv":
        return "csv"
    if ext in UBC_EXTENSIONS:
        return "ubc"
    raise table.error(key, f"cannot tell the format of '{os.path.basename(path)}' from its extension "
                           f"(.csv, or UBC {' '.join(UBC_EXTENSIONS)}): add format = \"csv\" or \"ubc\"")


def survey_from_config(table: Table, mesh, topography: Topography, physics: str, choices: tuple[str, ...],
                       default: tuple[str, ...]) -> Survey:
    """Collective: stations (from a file, a grid or a line, draped if asked) and components."""
    comm = mesh.comm
    sources = [k for k in ("file", "grid", "line") if k in table]
    if len(sources) != 1:
        raise table.error("file", "give exactly one of 'file', 'grid' or 'line' for the stations")
    height = table.number("height", None)
    field = None
    source = sources[0]
    if sources[0] == "file":
        path = source = table.path("file")
        fmt = file_format(table, "file", path)
        xyz, field = on_root(comm, lambda: _read_station_file(path, fmt, physics))
    else:
        elevation = table.number("elevation", None)
        if (height is None) == (elevation is None):
            raise table.error(sources[0], "give exactly one of 'height' (above the mesh surface) or 'elevation'")
        xy = _grid(table) if sources[0] == "grid" else _line(table)
        xyz = np.column_stack([xy, np.full(len(xy), 0.0 if elevation is None else elevation)])
    components = table.raw("components", list(default))
    if (not isinstance(components, list) or not components or any(c not in choices for c in components)
            or len(set(components)) != len(components)):
        raise table.error("components", f"expected a list of distinct components from {', '.join(choices)}; "
                                        f"got {components!r}")
    if height is not None:
        ground = topography.elevation(xyz[:, :2])
        outside = np.flatnonzero(~np.isfinite(ground))
        if len(outside):
            k = outside[0]
            raise table.error("height", f"{len(outside)} station(s) outside the mesh surface, the first at "
                                        f"({xyz[k, 0]:g}, {xyz[k, 1]:g}) m: cannot drape them")
        xyz[:, 2] = ground + height
    lo, hi = mesh.bounds
    below = topography.below(xyz, tolerance=1e-9 * (1.0 + float(np.linalg.norm(hi - lo))))
    return Survey(xyz=xyz, below=below, components=tuple(components), field=field, source=source)


def _read_station_file(path: str, fmt: str, physics: str):
    from ...io.potential_csv import read_potential_csv
    from ...io.ubc_potential import read_ubc_gravity, read_ubc_magnetics

    if fmt == "csv":
        return read_potential_csv(path).xyz, None
    if physics == "gravity":
        return read_ubc_gravity(path).xyz, None
    field, table = read_ubc_magnetics(path)
    return table.xyz, field


def _grid(table: Table) -> np.ndarray:
    sub = table.table("grid")
    x = sub.vector("x", 2)
    y = sub.vector("y", 2)
    nx, ny = sub.integer("nx", min=1), sub.integer("ny", min=1)
    sub.finish()
    X, Y = np.meshgrid(np.linspace(x[0], x[1], nx), np.linspace(y[0], y[1], ny))
    return np.column_stack([X.ravel(), Y.ravel()])


def _line(table: Table) -> np.ndarray:
    sub = table.table("line")
    start, end = np.array(sub.vector("start", 2)), np.array(sub.vector("end", 2))
    count = sub.integer("count", min=1)
    sub.finish()
    t = np.linspace(0.0, 1.0, count)[:, None]
    return start + t * (end - start)


def storage_from_config(table: Table | None) -> StorageOptions:
    if table is None:
        return StorageOptions()
    storage = table.string("storage", "float64", choices=STORAGES)
    compression = table.number("compression", 0.0, min=0.0, max=0.5)
    limit = table.number("max_memory_gb", None, positive=True)
    table.finish()
    if compression and storage == "none":
        raise table.error("compression", "has no effect with storage = \"none\" (nothing is stored)")
    return StorageOptions(storage=storage, compression=compression, max_memory_gb=limit)


def output_from_config(table: Table, ubc_components: tuple[str, ...], components: tuple[str, ...],
                       comm: MPI.Comm) -> Output:
    data = table.path("data", must_exist=False)
    fmt = file_format(table, "data", data)
    regional = table.string("regional", "none", choices=KINDS)
    model = table.path("model", None, must_exist=False)
    table.finish()
    if fmt == "ubc" and components != ubc_components:
        raise table.error("data", f"the UBC format holds {' '.join(ubc_components)} only; requested "
                                  f"{', '.join(components)} (use CSV)")
    if model is not None and not model.endswith(".xdmf"):
        raise table.error("model", "must end in .xdmf")
    for path in (data, model):
        if path is not None and not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            raise InputError(f"{path}: output folder does not exist", collective=True)
    return Output(data=data, format=fmt, regional=regional, model=model)


def report_below(survey: Survey, comm: MPI.Comm) -> None:
    n = int(np.count_nonzero(survey.below))
    if n:
        first = ", ".join(str(i + 1) for i in np.flatnonzero(survey.below)[:10])
        print0(f"warning: {n} of {len(survey.below)} station(s) below the topography (borehole; allowed, marked in "
               f"the output): station(s) {first}{', ...' if n > 10 else ''}", comm=comm)


def finish_data(sim, d: np.ndarray, noise: tuple, regional: str) -> tuple[np.ndarray, np.ndarray]:
    """(values, uncertainties) per component (n_components, n_stations): noise, then regional removal."""
    relative, floor, seed = noise
    sd = standard_deviation(d, relative, floor)
    noisy = add_noise(d, sd, seed)
    values, _ = remove_regional(sim.stations, sim.by_component(noisy), regional)
    return values, sim.by_component(sd)


def write_data(output: Output, survey: Survey, sim, values: np.ndarray, sd: np.ndarray, title: str,
               field: tuple[float, float, float] | None, comm: MPI.Comm) -> None:
    """Collective: write on rank 0, atomically."""
    from ...io.potential_csv import write_potential_csv
    from ...io.ubc_potential import write_ubc_gravity, write_ubc_magnetics

    with atomic_output(output.data, comm) as tmp:
        if comm.rank == 0:
            if output.format == "csv":
                write_potential_csv(tmp, survey.xyz, dict(zip(sim.components, values)),
                                    dict(zip(sim.components, sd)), dict(zip(sim.components, sim.units)),
                                    survey.below, title)
            elif field is None:
                write_ubc_gravity(tmp, survey.xyz, values[0], sd[0] if np.any(sd) else None, survey.below, title)
            else:
                write_ubc_magnetics(tmp, field, survey.xyz, values[0], sd[0] if np.any(sd) else None,
                                    survey.below, title)


def require_zero_in_air(table: Table, key: str, values: np.ndarray, mesh, units: str) -> None:
    """Collective: air cells are not part of a potential-field model; refuse nonzero values there."""
    bad = mesh.comm.allreduce(int(np.count_nonzero(values[mesh.is_air])))
    if bad:
        raise table.error(key, f"must be 0 in the air ({bad} air cell(s) have another value; air cells are not "
                               f"part of the model; {units})")
