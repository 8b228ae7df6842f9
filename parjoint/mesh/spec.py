"""Mesh specification: the TOML file read by ``parjoint mesh build``.

All lengths are in metres (x east, y north, z up).  Example (``meshes/hill.toml``)::

    [mesh]
    cell_size = 40.0        # target edge length in the core (required)
    max_cell_size = 1500.0  # cap far away; default min(padding.horizontal, padding.depth) / 2
    growth = 1.3            # size ratio between neighbouring cells away from fine zones (> 1)
    algorithm = "hxt"       # 3-D mesher: "hxt" (parallel, default) or "delaunay"
    threads = 0             # gmsh threads; 0 = all cores this process may use

    [core]                  # region of interest, finest mesh
    x = [-600.0, 600.0]
    y = [-400.0, 400.0]
    depth = 400.0           # below the lowest topography inside the core

    [padding]
    horizontal = 3000.0     # from the core to each side boundary
    depth = 3000.0          # from the core bottom to the bottom boundary

    [topography]
    kind = "gaussian_hill"  # flat | gaussian_hill | ridge | dem
    elevation = 0.0         # base level (not for dem)
    height = 80.0
    center = [0.0, 0.0]     # optional, default [0, 0]
    sigma = 250.0
    # ridge: height, center, strike (deg clockwise from north), top_width, base_width
    # dem:   file = "dem.xyz" (or .asc), relative to this file

    [air]                   # optional; without it the mesh has no air region
    height = 4000.0         # above the highest topography in the domain

    [stations]              # optional; exactly one of line, grid, file
    line = { start = [-500.0, 0.0], end = [500.0, 0.0], count = 21 }
    # grid = { x = [-500.0, 500.0], y = [-300.0, 300.0], nx = 11, ny = 7 }
    # file = "stations.csv"  # columns x, y
    cell_size = 10.0        # mesh size at each station; default mesh.cell_size / 4

    [[body]]                # zero or more buried boxes, each its own region
    name = "block"
    min = [-100.0, -100.0, -250.0]
    max = [100.0, 100.0, -120.0]
    cell_size = 25.0        # default mesh.cell_size

Sizes grow linearly with distance d from a fine zone, h(d) = h0 + (growth - 1) d,
which makes neighbouring cells differ by about the factor ``growth``.  Sizes are
gmsh mesh sizes: edges on the terrain follow them closely, while gmsh's 3-D meshers
make interior edges about 1.4 times longer (median; measured with gmsh 4.15, HXT).

:func:`read_spec` checks everything that can be checked before meshing, on every
rank (collective errors naming the file and key): unknown or missing keys, ranges,
bodies that cross the topography, leave the domain or overlap, stations outside the
domain or outside the DEM.  It also derives the domain :class:`Layout` from the
topography.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from mpi4py import MPI
from scipy.spatial import cKDTree

from ..config import Table, read_toml
from ..parallel import on_root
from .topography import Flat, GaussianHill, Ridge, Surface, read_columns, read_dem

RESERVED_REGIONS = ("earth", "air")
_NAME = re.compile(r"[A-Za-z0-9_.-]+")
# Stations closer than this fraction of the station cell size count as the same point.
_COINCIDENT = 1e-3


@dataclass(frozen=True)
class MeshOptions:
    """The ``[mesh]`` table: sizes in metres."""

    cell_size: float
    max_cell_size: float
    growth: float
    algorithm: str  #: "hxt" or "delaunay"
    threads: int  #: 0 = all cores available to the process


@dataclass(frozen=True)
class Core:
    """The region of interest: x and y ranges and depth below its lowest topography (m)."""

    x: tuple[float, float]
    y: tuple[float, float]
    depth: float


@dataclass(frozen=True)
class Padding:
    """Distances (m) from the core to the side boundaries and to the bottom."""

    horizontal: float
    depth: float


@dataclass(frozen=True)
class Stations:
    """Station positions (n, 2) in metres, draped on the topography, and their mesh size."""

    xy: np.ndarray
    cell_size: float


@dataclass(frozen=True)
class Body:
    """A buried box, meshed as its own region (metres)."""

    name: str
    min: tuple[float, float, float]
    max: tuple[float, float, float]
    cell_size: float


@dataclass(frozen=True)
class Layout:
    """The domain derived from the spec and the topography (metres).

    The core box spans ``core_z`` = (lowest core topography - core.depth, highest
    core topography); the bottom lies ``padding.depth`` below the core box; the air
    top (``None`` without air) ``air.height`` above the highest topography in the
    domain.
    """

    x: tuple[float, float]
    y: tuple[float, float]
    bottom: float
    top: float | None
    core_z: tuple[float, float]


@dataclass(frozen=True)
class MeshSpec:
    source: str  #: the spec file, for messages
    mesh: MeshOptions
    core: Core
    padding: Padding
    topography: Surface
    air_height: float | None  #: None: no air region
    stations: Stations | None
    bodies: tuple[Body, ...]
    layout: Layout


def read_spec(path: str, comm: MPI.Comm | None = None) -> MeshSpec:
    """Collective: read and check a mesh spec; errors are InputErrors naming file and key."""
    comm = comm or MPI.COMM_WORLD
    root = read_toml(path, comm)
    mesh_table, core_table, padding_table = root.table("mesh"), root.table("core"), root.table("padding")
    core = _read_core(core_table)
    padding = Padding(horizontal=padding_table.number("horizontal", positive=True),
                      depth=padding_table.number("depth", positive=True))
    mesh = _read_mesh_options(mesh_table, padding)
    topography = _read_topography(root.table("topography"), comm)
    air = root.table("air", None)
    air_height = air.number("height", positive=True) if air is not None else None
    layout = _layout(core, padding, topography, air_height, mesh.cell_size, padding_table)
    station_table = root.table("stations", None)
    stations = _read_stations(station_table, mesh, topography, layout, comm) if station_table is not None else None
    bodies = _read_bodies(root.tables("body"), mesh, topography, layout)
    for table in (root, mesh_table, core_table, padding_table, air, station_table):
        if table is not None:
            table.finish()
    return MeshSpec(source=path, mesh=mesh, core=core, padding=padding, topography=topography,
                    air_height=air_height, stations=stations, bodies=bodies, layout=layout)


def _increasing(pair: list[float]) -> str | None:
    return None if pair[0] < pair[1] else f"must be an increasing pair [min, max], got {pair}"


def _read_core(table: Table) -> Core:
    x = table.vector("x", 2, check=_increasing)
    y = table.vector("y", 2, check=_increasing)
    return Core(x=tuple(x), y=tuple(y), depth=table.number("depth", positive=True))


def _read_mesh_options(table: Table, padding: Padding) -> MeshOptions:
    cell = table.number("cell_size", positive=True)
    max_cell = table.number("max_cell_size", min(padding.horizontal, padding.depth) / 2, positive=True)
    if max_cell < cell:
        raise table.error("max_cell_size", f"must be at least cell_size ({cell:g}), got {max_cell:g}")
    growth = table.number("growth", 1.3)
    if growth <= 1:
        raise table.error("growth", f"must be greater than 1, got {growth:g}")
    return MeshOptions(cell_size=cell, max_cell_size=max_cell, growth=growth,
                       algorithm=table.string("algorithm", "hxt", choices=("hxt", "delaunay")),
                       threads=table.integer("threads", 0, min=0))


def _read_topography(table: Table, comm: MPI.Comm) -> Surface:
    kind = table.string("kind", choices=("flat", "gaussian_hill", "ridge", "dem"))
    if kind == "dem":
        file = table.path("file")
        surface = on_root(comm, lambda: read_dem(file))
    elif kind == "flat":
        surface = Flat(table.number("elevation", 0.0))
    elif kind == "gaussian_hill":
        surface = GaussianHill(elevation=table.number("elevation", 0.0), height=table.number("height"),
                               center=tuple(table.vector("center", 2, [0.0, 0.0])),
                               sigma=table.number("sigma", positive=True))
    else:
        top = table.number("top_width", min=0.0)
        base = table.number("base_width", positive=True)
        if base <= top:
            raise table.error("base_width", f"must exceed top_width ({top:g}), got {base:g}")
        surface = Ridge(elevation=table.number("elevation", 0.0), height=table.number("height"),
                        center=tuple(table.vector("center", 2, [0.0, 0.0])),
                        strike=table.number("strike"), top_width=top, base_width=base)
    table.finish()
    return surface


def _layout(core: Core, padding: Padding, topography: Surface, air_height: float | None,
            cell_size: float, padding_table: Table) -> Layout:
    spacing = cell_size / 4  # finer than the mesh, so the extremes are close to the meshed ones
    core_low, core_high = topography.extremes(core.x, core.y, spacing)
    x = (core.x[0] - padding.horizontal, core.x[1] + padding.horizontal)
    y = (core.y[0] - padding.horizontal, core.y[1] + padding.horizontal)
    low, high = topography.extremes(x, y, spacing)
    bottom = core_low - core.depth - padding.depth
    if low <= bottom:
        raise padding_table.error("depth", f"the bottom of the domain (z = {bottom:g} m) is not below the lowest "
                                  f"topography in the padding (z = {low:g} m); increase core.depth or padding.depth")
    return Layout(x=x, y=y, bottom=bottom, top=None if air_height is None else high + air_height,
                  core_z=(core_low - core.depth, core_high))


# -- stations ------------------------------------------------------------------------

def _read_stations(table: Table, mesh: MeshOptions, topography: Surface, layout: Layout,
                   comm: MPI.Comm) -> Stations:
    given = [key for key in ("line", "grid", "file") if key in table]
    if len(given) != 1:
        raise table.error(given[1] if given else "line",
                          "exactly one of stations.line, stations.grid or stations.file is required")
    key = given[0]
    if key == "line":
        xy = _station_line(table.table("line"))
    elif key == "grid":
        xy = _station_grid(table.table("grid"))
    else:
        file = table.path("file")
        xy = on_root(comm, lambda: read_columns(file, 2, "x y")[0])
    cell = table.number("cell_size", mesh.cell_size / 4, positive=True, max=mesh.max_cell_size)
    _check_stations(table, key, xy, cell, topography, layout)
    return Stations(xy=xy, cell_size=cell)


def _station_line(table: Table) -> np.ndarray:
    start = np.array(table.vector("start", 2))
    end = np.array(table.vector("end", 2))
    count = table.integer("count", min=2)
    table.finish()
    return start + np.linspace(0.0, 1.0, count)[:, None] * (end - start)


def _station_grid(table: Table) -> np.ndarray:
    x = table.vector("x", 2, check=_increasing)
    y = table.vector("y", 2, check=_increasing)
    gx, gy = np.meshgrid(np.linspace(*x, table.integer("nx", min=2)), np.linspace(*y, table.integer("ny", min=2)))
    table.finish()
    return np.column_stack([gx.ravel(), gy.ravel()])


def _check_stations(table: Table, key: str, xy: np.ndarray, cell: float, topography: Surface,
                    layout: Layout) -> None:
    def fail(index: int, problem: str):
        return table.error(key, f"station {index} at (x={xy[index, 0]:g}, y={xy[index, 1]:g}) {problem}")

    inside = ((xy[:, 0] > layout.x[0]) & (xy[:, 0] < layout.x[1])
              & (xy[:, 1] > layout.y[0]) & (xy[:, 1] < layout.y[1]))
    if not inside.all():
        raise fail(int(np.argmin(inside)), f"is not inside the domain x {layout.x}, y {layout.y}")
    on_dem = topography.contains(xy[:, 0], xy[:, 1])
    if not on_dem.all():  # only a DEM has an extent
        raise fail(int(np.argmin(on_dem)), f"lies outside the DEM {topography.source} ({topography.extent()})")
    pairs = cKDTree(xy).query_pairs(_COINCIDENT * cell, output_type="ndarray")
    if len(pairs):
        i, j = np.sort(pairs[np.argmin(pairs.max(axis=1))])
        raise fail(int(j), f"coincides with station {i} (closer than {_COINCIDENT * cell:g} m)")


# -- bodies --------------------------------------------------------------------------

def _read_bodies(tables: list[Table], mesh: MeshOptions, topography: Surface, layout: Layout) -> tuple[Body, ...]:
    bodies: list[Body] = []
    for table in tables:
        body = _read_body(table, mesh, topography, layout)
        if body.name in {b.name for b in bodies}:
            raise table.error("name", f"region name {body.name!r} is used twice")
        for other_index, other in enumerate(bodies):
            if all(body.min[k] <= other.max[k] and other.min[k] <= body.max[k] for k in range(3)):
                raise table.error("min", f"the box overlaps or touches body[{other_index}] ({other.name!r}); "
                                  "bodies must be disjoint")
        table.finish()
        bodies.append(body)
    return tuple(bodies)


def _read_body(table: Table, mesh: MeshOptions, topography: Surface, layout: Layout) -> Body:
    name = table.string("name")
    if name in RESERVED_REGIONS or not _NAME.fullmatch(name):
        raise table.error("name", f"{name!r} is not allowed: use letters, digits, '_', '-' or '.', "
                          f"and not {' or '.join(RESERVED_REGIONS)}")
    lo = table.vector("min", 3)
    hi = table.vector("max", 3)
    if any(h <= l for l, h in zip(lo, hi)):
        raise table.error("max", f"must exceed min {lo} in every coordinate, got {hi}")
    if lo[0] <= layout.x[0] or lo[1] <= layout.y[0] or lo[2] <= layout.bottom:
        raise table.error("min", f"the box must lie inside the domain x {layout.x}, y {layout.y}, "
                          f"above the bottom z = {layout.bottom:g}")
    if hi[0] >= layout.x[1] or hi[1] >= layout.y[1]:
        raise table.error("max", f"the box must lie inside the domain x {layout.x}, y {layout.y}")
    cell = table.number("cell_size", mesh.cell_size, positive=True, max=mesh.max_cell_size)
    ground, _ = topography.extremes((lo[0], hi[0]), (lo[1], hi[1]), min(cell, mesh.cell_size) / 4)
    if hi[2] >= ground:
        raise table.error("max", f"the top of the box (z = {hi[2]:g}) must be below the topography "
                          f"(lowest z = {ground:g} over the box)")
    return Body(name=name, min=tuple(lo), max=tuple(hi), cell_size=cell)
