"""Topographic tetrahedral meshes with gmsh: ``parjoint mesh build spec.toml -o mesh.msh``.

The spec is described in :mod:`parjoint.mesh.spec`.  gmsh runs on rank 0 only; the
other ranks wait (sleeping, so that gmsh's threads get the cores).  Steps:

1. Footprint: a 2-D mesh of the domain rectangle at z = 0 with the stations
   embedded as points, sized by the same fields as the volume (evaluated at z = 0).
2. Lift: every footprint node moves to z = topography(x, y) and the lifted mesh
   becomes gmsh *discrete* entities: the terrain surface, its four boundary curves,
   its corners and the station points.  Stations are thus mesh nodes lying exactly
   on the topography, and the terrain is piecewise linear between nodes (on steep
   slopes its triangles are longer than their footprint by 1 / cos(slope)).
3. Volumes: side walls, bottom and air top are built-in (geo) CAD entities attached
   to the lifted boundary; each body is a box cut out of the earth volume.
4. Size fields: a Box around the core and around each body, Distance + Threshold
   around the stations, combined by Min; sizes grow linearly away from each fine
   zone, h(d) = h0 + (growth - 1) d, up to ``max_cell_size``.  Then the 3-D mesher
   (HXT or Delaunay) fills the volumes.
5. Output: gmsh MSH 4.1 (binary unless ASCII is requested), written atomically.

Regions are 3-D physical groups: ``earth`` (tag 1), ``air`` (tag 2, with an
``[air]`` table), then the bodies in spec order (tags 3, 4, ...).  The terrain is
the 2-D physical group ``surface``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np
from mpi4py import MPI

try:
    import gmsh
except ImportError:  # an optional dependency: pip install "parjoint[mesh]"
    gmsh = None

from ..errors import InputError
from ..parallel import agree_on_errors, atomic_output, on_root, print0
from .spec import Body, MeshOptions, MeshSpec, read_spec

_ALGORITHM_3D = {"hxt": 10, "delaunay": 1}
_FRONTAL_DELAUNAY_2D = 6
_TETRAHEDRON = 4  # gmsh element type
_BODY_TAG0 = 3  # physical tag of the first body (1 earth, 2 air)
# The footprint lies at z = 0; its Box fields span this z range around it.
_FOOTPRINT_Z = (-1.0, 1.0)


def build_mesh_from_spec(spec_path: str, output: str, binary: bool = True, comm: MPI.Comm | None = None) -> dict:
    """Collective: read a mesh spec (TOML) and build the mesh into ``output`` (.msh)."""
    comm = comm or MPI.COMM_WORLD
    return build_mesh(read_spec(spec_path, comm), output, binary, comm)


def build_mesh(spec: MeshSpec, output: str, binary: bool = True, comm: MPI.Comm | None = None) -> dict:
    """Collective: build the mesh of ``spec`` and write it to ``output`` (gmsh MSH 4.1).

    Returns (on every rank) a summary: ``tetrahedra``, ``nodes``, ``regions``
    (region name -> tetrahedron count) and ``seconds`` (wall time of the build).
    A failed build leaves no output file.
    """
    comm = comm or MPI.COMM_WORLD
    if gmsh is None:
        raise InputError("building meshes needs the gmsh Python package: pip install gmsh", collective=True)
    on_root(comm, lambda: _check_output(output))
    summary = None
    with atomic_output(output, comm) as partial:
        with agree_on_errors(comm):
            try:
                if comm.rank == 0:
                    summary = _build_on_root(spec, partial, binary)
            finally:
                _wait_for_root(comm)  # reached by every rank even when rank 0 fails
    summary = comm.bcast(summary)
    regions = ", ".join(f"{name} {count}" for name, count in summary["regions"].items())
    print0(f"{output}: {summary['tetrahedra']} tetrahedra, {summary['nodes']} nodes ({regions}), "
           f"{summary['seconds']:.1f} s", comm=comm)
    return summary


def _check_output(output: str) -> None:
    if not output.endswith(".msh"):
        raise InputError(f"{output}: output file name must end in .msh")
    folder = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(folder):
        raise InputError(f"{output}: output folder {folder} does not exist")


def _wait_for_root(comm: MPI.Comm) -> None:
    """A barrier that sleeps instead of spinning, leaving the cores to gmsh's threads."""
    request = comm.Ibarrier()
    while not request.Test():
        time.sleep(0.02)


def _build_on_root(spec: MeshSpec, path: str, binary: bool) -> dict:
    start = time.perf_counter()
    gmsh.initialize(readConfigFiles=False)  # no user gmshrc: the same spec gives the same mesh
    try:
        _set_options(spec.mesh, binary)
        footprint = _mesh_footprint(spec)
        _lift(footprint, spec)
        regions = _add_volumes(spec, footprint)
        _add_physical_groups(regions, footprint.surface)
        _add_size_fields(spec, spec.layout.core_z, footprint.stations, spec.bodies)
        _generate(3, spec)
        summary = _summary(regions)
        _write(path)
    finally:
        gmsh.finalize()
    summary["seconds"] = time.perf_counter() - start
    return summary


def _set_options(mesh: MeshOptions, binary: bool) -> None:
    threads = mesh.threads or _available_cores()
    options = {
        "General.Terminal": 0,
        "General.NumThreads": threads,
        "Mesh.Algorithm": _FRONTAL_DELAUNAY_2D,
        "Mesh.Algorithm3D": _ALGORITHM_3D[mesh.algorithm],
        # sizes come only from the background field, never from the CAD
        "Mesh.MeshSizeExtendFromBoundary": 0,
        "Mesh.MeshSizeFromPoints": 0,
        "Mesh.MeshSizeFromCurvature": 0,
        "Mesh.MshFileVersion": 4.1,
        "Mesh.Binary": int(binary),
    }
    for name, value in options.items():
        gmsh.option.setNumber(name, value)


def _available_cores() -> int:
    """Cores this process may run on: respects core binding by mpirun or taskset (Linux)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _generate(dim: int, spec: MeshSpec) -> None:
    try:
        gmsh.model.mesh.generate(dim)
    except Exception as exc:  # the gmsh API raises plain Exception with gmsh's message
        raise InputError(f"{spec.source}: gmsh could not build the {dim}-D mesh: {exc}") from None


# -- 1. footprint ------------------------------------------------------------------------

@dataclass
class _Entity:
    """One meshed entity of the footprint: its own nodes and its elements (one type)."""

    dim: int
    tag: int
    boundary: list[int]
    node_tags: np.ndarray
    coords: np.ndarray  #: (n, 3) metres; z = 0, then the topography once lifted
    element_type: int
    element_nodes: np.ndarray


@dataclass
class _Footprint:
    entities: list[_Entity]
    corners: list[int]  #: point tags, counter-clockwise from (xmin, ymin)
    sides: list[int]  #: curve tags, side i from corner i to corner i + 1
    surface: int
    stations: list[int]  #: point tags, in spec order


def _corners(x: tuple[float, float], y: tuple[float, float]) -> list[tuple[float, float]]:
    return [(x[0], y[0]), (x[1], y[0]), (x[1], y[1]), (x[0], y[1])]


def _geo_rectangle(x, y, z: float) -> tuple[list[int], list[int]]:
    """Geo points (counter-clockwise from (xmin, ymin)) and the lines joining them."""
    geo = gmsh.model.geo
    points = [geo.addPoint(px, py, z) for px, py in _corners(x, y)]
    lines = [geo.addLine(points[i], points[(i + 1) % 4]) for i in range(4)]
    return points, lines


def _mesh_footprint(spec: MeshSpec) -> _Footprint:
    gmsh.model.add("footprint")
    geo = gmsh.model.geo
    corners, sides = _geo_rectangle(spec.layout.x, spec.layout.y, 0.0)
    surface = geo.addPlaneSurface([geo.addCurveLoop(sides)])
    xy = spec.stations.xy if spec.stations is not None else np.zeros((0, 2))
    stations = [geo.addPoint(x, y, 0.0) for x, y in xy]
    geo.synchronize()
    if stations:
        gmsh.model.mesh.embed(0, stations, 2, surface)
    _add_size_fields(spec, _FOOTPRINT_Z, stations, ())
    _generate(2, spec)
    entities = [_read_entity(dim, tag) for dim, tag in gmsh.model.getEntities()]
    gmsh.model.remove()
    return _Footprint(entities, corners, sides, surface, stations)


def _read_entity(dim: int, tag: int) -> _Entity:
    node_tags, coords, _ = gmsh.model.mesh.getNodes(dim, tag)
    types, _, element_nodes = gmsh.model.mesh.getElements(dim, tag)
    boundary = [abs(t) for _, t in gmsh.model.getBoundary([(dim, tag)], oriented=False)] if dim else []
    return _Entity(dim, tag, boundary, node_tags, coords.reshape(-1, 3), int(types[0]), element_nodes[0])


# -- 2. lift -------------------------------------------------------------------------------

def _lift(footprint: _Footprint, spec: MeshSpec) -> None:
    """Recreate the footprint mesh as discrete entities at z = topography(x, y)."""
    for entity in footprint.entities:
        gmsh.model.addDiscreteEntity(entity.dim, entity.tag, entity.boundary)
        xyz = entity.coords.copy()
        xyz[:, 2] = spec.topography(xyz[:, 0], xyz[:, 1])
        gmsh.model.mesh.addNodes(entity.dim, entity.tag, entity.node_tags, xyz.ravel())
        if entity.dim == 0:
            gmsh.model.setCoordinates(entity.tag, *xyz[0])
        entity.coords = xyz
    # elements after all nodes: a surface's triangles use the nodes of its curves and points
    for entity in footprint.entities:
        gmsh.model.mesh.addElementsByType(entity.tag, entity.element_type, [], entity.element_nodes)
    _check_bodies_below_terrain(footprint, spec)


def _check_bodies_below_terrain(footprint: _Footprint, spec: MeshSpec) -> None:
    """Each body must stay below the *meshed* (piecewise linear) terrain, not only the exact one.

    Conservative: over a body's footprint the terrain is no lower than the lowest
    vertex of the terrain triangles whose bounding boxes meet that footprint.
    """
    if not spec.bodies:
        return
    tags = np.concatenate([e.node_tags for e in footprint.entities])
    xyz = np.concatenate([e.coords for e in footprint.entities])
    index = np.zeros(int(tags.max()) + 1, np.int64)
    index[tags] = np.arange(len(tags))
    terrain = next(e for e in footprint.entities if e.dim == 2 and e.tag == footprint.surface)
    corners = xyz[index[terrain.element_nodes.reshape(-1, 3)]]  # (n_triangles, 3, 3)
    lo, hi = corners[:, :, :2].min(axis=1), corners[:, :, :2].max(axis=1)
    lowest = corners[:, :, 2].min(axis=1)
    for i, body in enumerate(spec.bodies):
        over = ((hi[:, 0] >= body.min[0]) & (lo[:, 0] <= body.max[0])
                & (hi[:, 1] >= body.min[1]) & (lo[:, 1] <= body.max[1]))
        ground = lowest[over].min()
        if ground <= body.max[2]:
            raise InputError(f"{spec.source}: key 'body[{i}].max': the top of the box (z = {body.max[2]:g}) is "
                             f"not below the meshed topography, whose cells over the box reach down to "
                             f"z = {ground:g}; lower the box or refine the mesh above it")


# -- 3. volumes -------------------------------------------------------------------------------

def _add_volumes(spec: MeshSpec, footprint: _Footprint) -> dict[str, int]:
    """Geo volumes for earth, air and bodies; returns region name -> volume tag."""
    geo = gmsh.model.geo
    walls, bottom = _walls_and_cap(spec, footprint, spec.layout.bottom)
    bodies = [_geo_box(body) for body in spec.bodies]
    outer = geo.addSurfaceLoop([footprint.surface, *walls, bottom])
    regions = {"earth": geo.addVolume([outer, *(loop for loop, _ in bodies)])}  # bodies are holes
    if spec.layout.top is not None:
        walls, top = _walls_and_cap(spec, footprint, spec.layout.top)
        regions["air"] = geo.addVolume([geo.addSurfaceLoop([footprint.surface, *walls, top])])
    regions.update((body.name, volume) for body, (_, volume) in zip(spec.bodies, bodies))
    geo.synchronize()
    return regions


def _walls_and_cap(spec: MeshSpec, footprint: _Footprint, z: float) -> tuple[list[int], int]:
    """Vertical walls from the terrain's edges to the plane z, and the horizontal cap at z."""
    geo = gmsh.model.geo
    points, lines = _geo_rectangle(spec.layout.x, spec.layout.y, z)
    verticals = [geo.addLine(p, corner) for p, corner in zip(points, footprint.corners)]
    walls = [geo.addPlaneSurface([geo.addCurveLoop([lines[i], verticals[(i + 1) % 4],
                                                    -footprint.sides[i], -verticals[i]])])
             for i in range(4)]
    return walls, geo.addPlaneSurface([geo.addCurveLoop(lines)])


def _geo_box(body: Body) -> tuple[int, int]:
    """A geo box (extruded rectangle); returns (its surface loop, its volume)."""
    geo = gmsh.model.geo
    _, lines = _geo_rectangle((body.min[0], body.max[0]), (body.min[1], body.max[1]), body.min[2])
    base = geo.addPlaneSurface([geo.addCurveLoop(lines)])
    # extrude returns [top, volume, side surfaces...]
    (_, top), (_, volume), *sides = geo.extrude([(2, base)], 0.0, 0.0, body.max[2] - body.min[2])
    return geo.addSurfaceLoop([base, top, *(tag for _, tag in sides)]), volume


def _add_physical_groups(regions: dict[str, int], terrain: int) -> None:
    tags = {"earth": 1, "air": 2}
    for offset, name in enumerate(n for n in regions if n not in tags):
        tags[name] = _BODY_TAG0 + offset
    for name, volume in regions.items():
        gmsh.model.addPhysicalGroup(3, [volume], tags[name], name)
    gmsh.model.addPhysicalGroup(2, [terrain], 1, "surface")


# -- 4. sizes ---------------------------------------------------------------------------------

def _add_size_fields(spec: MeshSpec, core_z: tuple[float, float], stations: list[int],
                     bodies: tuple[Body, ...]) -> None:
    """Background size: Min of the core Box, the station Threshold and the body Boxes."""
    mesh = spec.mesh
    fields = [_box_field(spec.core.x, spec.core.y, core_z, mesh.cell_size, mesh)]
    if stations:
        fields.append(_station_field(stations, spec.stations.cell_size, mesh))
    fields += [_box_field((b.min[0], b.max[0]), (b.min[1], b.max[1]), (b.min[2], b.max[2]), b.cell_size, mesh)
               for b in bodies]
    field = gmsh.model.mesh.field
    smallest = field.add("Min")
    field.setNumbers(smallest, "FieldsList", fields)
    field.setAsBackgroundMesh(smallest)


def _ramp(size: float, mesh: MeshOptions) -> float:
    """Distance (m) over which h(d) = size + (growth - 1) d reaches max_cell_size."""
    return (mesh.max_cell_size - size) / (mesh.growth - 1.0)


def _box_field(x, y, z, size: float, mesh: MeshOptions) -> int:
    field = gmsh.model.mesh.field
    tag = field.add("Box")
    for key, value in zip(("XMin", "XMax", "YMin", "YMax", "ZMin", "ZMax"), (*x, *y, *z)):
        field.setNumber(tag, key, value)
    field.setNumber(tag, "VIn", size)
    field.setNumber(tag, "VOut", mesh.max_cell_size)
    field.setNumber(tag, "Thickness", _ramp(size, mesh))  # linear transition outside the box
    return tag


def _station_field(points: list[int], size: float, mesh: MeshOptions) -> int:
    field = gmsh.model.mesh.field
    distance = field.add("Distance")
    field.setNumbers(distance, "PointsList", points)
    tag = field.add("Threshold")
    field.setNumber(tag, "InField", distance)
    field.setNumber(tag, "SizeMin", size)
    field.setNumber(tag, "SizeMax", mesh.max_cell_size)
    field.setNumber(tag, "DistMin", 0.0)
    field.setNumber(tag, "DistMax", _ramp(size, mesh))
    return tag


# -- 5. output --------------------------------------------------------------------------------

def _summary(regions: dict[str, int]) -> dict:
    counts = {name: len(gmsh.model.mesh.getElementsByType(_TETRAHEDRON, volume)[0])
              for name, volume in regions.items()}
    return {"tetrahedra": sum(counts.values()), "nodes": len(gmsh.model.mesh.getNodes()[0]), "regions": counts}


def _write(path: str) -> None:
    gmsh.write(path)
