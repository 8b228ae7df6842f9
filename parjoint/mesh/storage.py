"""Saving and reloading a distributed mesh in parallel HDF5 (PETSc's HDF5 viewer).

PETSc 3.18's own ``DMPlexTopologyLoad`` reads the whole topology on rank 0 ("force
serial load"), which is what a saved mesh is meant to avoid.  parjoint therefore
writes each rank's piece of the DMPlex -- its directed acyclic graph, coordinates
and point star forest -- as slices of parallel datasets with PETSc's HDF5 viewer
(``ISView``/``VecView``), and a reload on the same number of ranks rebuilds every
piece in parallel with ``DMPlexCreateFromDAG``: no rank holds more than its share,
and no partitioning is repeated.  On a different number of ranks the file's global
cell list is read on rank 0 and partitioned again, like a ``.msh``.

File layout (group ``/parjoint_mesh``; integers are PETSc ints, lengths in metres)::

    attributes    format = "parjoint-mesh", version, nranks, regions (JSON tag -> name)
    rank_sizes    per rank: points, cone entries, vertices, SF leaves, cells, owned vertices
    cone_sizes, cones, orientations     per-rank DAG (local point numbers)
    coordinates   per-rank vertex coordinates (x, y, z)
    sf_leaves, sf_remote                per-rank point SF (leaf; owner rank, owner point)
    cell_original, cell_region          per cell: index in the source file, region tag
    vertex_original                     per-rank local vertices: index in the source file
    cells         per cell: 4 global vertex numbers
    vertices, owned_vertex_original     owned vertices in global vertex order
"""

from __future__ import annotations

import json
import os

import numpy as np
from mpi4py import MPI

from ..errors import InputError
from ..parallel import atomic_output, on_root
from ..petsc import IntType, PETSc, plex_cones, plex_create_from_dag
from .plex import sf_graph

GROUP = "parjoint_mesh"
FORMAT = "parjoint-mesh"
VERSION = 1
_SIZES = ("points", "cones", "vertices", "leaves", "cells", "owned_vertices")


def save_mesh(mesh, path: str) -> None:
    """Collective: write ``mesh`` (a :class:`~parjoint.mesh.Mesh`) to ``path`` atomically."""
    comm, dm = mesh.comm, mesh.dm
    pstart, pend = dm.getChart()
    sizes_per_point = _cone_sizes(dm)
    cones, orients = plex_cones(dm)
    ilocal, iremote = sf_graph(dm.getPointSF(), pend - pstart)
    coords = dm.getCoordinatesLocal().getArray(readonly=True)
    cells = mesh.vertex_global[mesh.cell_vertices].ravel()
    owned_xyz = mesh.vertex_coords[mesh.vertex_owned].ravel()
    counts = np.array([pend - pstart, len(cones), len(mesh.vertex_coords), len(ilocal), mesh.n_cells,
                       int(mesh.vertex_owned.sum())], IntType)
    with atomic_output(path, comm) as tmp:
        viewer = PETSc.ViewerHDF5().create(tmp, "w", comm=comm)
        viewer.pushGroup(f"/{GROUP}")
        for name, values in (("rank_sizes", counts), ("cone_sizes", sizes_per_point), ("cones", cones),
                             ("orientations", orients), ("sf_leaves", ilocal), ("sf_remote", iremote.ravel()),
                             ("cell_original", mesh.cell_original), ("cell_region", mesh.cell_region),
                             ("vertex_original", mesh.vertex_original),
                             ("owned_vertex_original", mesh.vertex_original[mesh.vertex_owned]), ("cells", cells)):
            _write_is(viewer, comm, name, values)
        for name, values in (("coordinates", coords), ("vertices", owned_xyz)):
            _write_vec(viewer, comm, name, values)
        viewer.popGroup()
        viewer.destroy()
        comm.Barrier()
        if comm.rank == 0:
            import h5py

            with h5py.File(tmp, "a") as fh:
                attrs = fh[GROUP].attrs
                attrs["format"] = FORMAT
                attrs["version"] = VERSION
                attrs["nranks"] = comm.size
                attrs["regions"] = json.dumps({str(k): v for k, v in mesh.region_names.items()})
                attrs["source"] = mesh.source


def load_saved_mesh(path: str, comm: MPI.Comm):
    """Collective: reload a mesh written by :func:`save_mesh`."""
    from .mesh import Mesh
    from .plex import create_serial_plex, distribute, set_region_label

    meta = on_root(comm, lambda: _read_meta(path))
    regions = {int(k): v for k, v in meta["regions"].items()}
    viewer = PETSc.ViewerHDF5().create(path, "r", comm=comm)
    viewer.pushGroup(f"/{GROUP}")
    try:
        if meta["nranks"] == comm.size:
            counts = dict(zip(_SIZES, _read_is(viewer, comm, "rank_sizes", len(_SIZES))))
            dm = _rebuild_piece(viewer, comm, counts)
            original = _read_is(viewer, comm, "cell_original", counts["cells"]).astype(np.int64)
            region = _read_is(viewer, comm, "cell_region", counts["cells"]).astype(np.int64)
            vertex_original = _read_is(viewer, comm, "vertex_original", counts["vertices"]).astype(np.int64)
            set_region_label(dm, region)
        else:
            n_cells = meta["n_cells"] if comm.rank == 0 else 0
            n_verts = meta["n_vertices"] if comm.rank == 0 else 0
            cells = _read_is(viewer, comm, "cells", 4 * n_cells).reshape(-1, 4).astype(np.int64)
            coords = _read_vec(viewer, comm, "vertices", 3 * n_verts).reshape(-1, 3)
            original = _read_is(viewer, comm, "cell_original", n_cells).astype(np.int64)
            region = _read_is(viewer, comm, "cell_region", n_cells).astype(np.int64)
            vertex_original = _read_is(viewer, comm, "owned_vertex_original", n_verts).astype(np.int64)
            dm = create_serial_plex(comm, cells if comm.rank == 0 else None, coords, path)
            set_region_label(dm, region)
            dm, moved, vmoved = distribute(dm, {"original": original, "region": region},
                                           {"original": vertex_original})
            original, region, vertex_original = moved["original"], moved["region"], vmoved["original"]
    finally:
        viewer.destroy()
    return Mesh(dm, original, region, vertex_original, regions, source=meta.get("source") or path)


def _read_meta(path: str) -> dict:
    import h5py

    if not os.path.exists(path):
        raise InputError(f"{path}: no such file")
    try:
        with h5py.File(path, "r") as fh:
            if GROUP not in fh or fh[GROUP].attrs.get("format") != FORMAT:
                raise InputError(f"{path}: not a parjoint mesh file (write one with 'parjoint mesh convert')")
            attrs = fh[GROUP].attrs
            version = int(attrs["version"])
            if version > VERSION:
                raise InputError(f"{path}: mesh file version {version} is newer than this parjoint reads")
            sizes = fh[GROUP]["rank_sizes"][...].reshape(-1, len(_SIZES))
            meta = {
                "nranks": int(attrs["nranks"]),
                "regions": json.loads(attrs["regions"]),
                "source": str(attrs.get("source", "")),
                "n_cells": int(sizes[:, 4].sum()),
                "n_vertices": int(sizes[:, 5].sum()),
            }
            expected = {"cells": 4 * meta["n_cells"], "vertices": 3 * meta["n_vertices"],
                        "cones": int(sizes[:, 1].sum()), "coordinates": 3 * int(sizes[:, 2].sum())}
            for name, n in expected.items():
                if name not in fh[GROUP] or fh[GROUP][name].size != n:
                    raise InputError(f"{path}: dataset '{GROUP}/{name}' is missing or truncated")
            return meta
    except OSError as exc:
        raise InputError(f"{path}: cannot read as HDF5 ({exc})") from None
    except (KeyError, ValueError) as exc:
        raise InputError(f"{path}: damaged parjoint mesh file ({exc})") from None


def _rebuild_piece(viewer, comm: MPI.Comm, counts: dict) -> PETSc.DMPlex:
    """This rank's DMPlex piece from its slices, then the point SF that joins them."""
    cone_sizes = _read_is(viewer, comm, "cone_sizes", counts["points"])
    cones = _read_is(viewer, comm, "cones", counts["cones"])
    orients = _read_is(viewer, comm, "orientations", counts["cones"])
    coords = _read_vec(viewer, comm, "coordinates", 3 * counts["vertices"])
    leaves = _read_is(viewer, comm, "sf_leaves", counts["leaves"])
    remote = _read_is(viewer, comm, "sf_remote", 2 * counts["leaves"])
    # points per depth: vertices have no cone, edges 2, faces 3, cells 4
    num_points = np.array([(cone_sizes == k).sum() for k in (0, 2, 3, 4)], IntType)
    dm = PETSc.DMPlex().create(comm=comm)
    dm.setDimension(3)
    dm.setCoordinateDim(3)
    plex_create_from_dag(dm, num_points, cone_sizes, cones, orients, coords.reshape(-1, 3))
    sf = PETSc.SF().create(comm=comm)
    sf.setGraph(counts["points"], leaves.astype(IntType), remote.astype(IntType))
    sf.setUp()
    dm.setPointSF(sf)
    dm.getCoordinateDM().setPointSF(sf)
    return dm


def _cone_sizes(dm) -> np.ndarray:
    pstart, pend = dm.getChart()
    out = np.zeros(pend - pstart, IntType)
    for depth, size in ((1, 2), (2, 3), (3, 4)):
        start, end = dm.getDepthStratum(depth)
        out[start - pstart:end - pstart] = size
    return out


def _write_is(viewer, comm, name: str, values: np.ndarray) -> None:
    index_set = PETSc.IS().createGeneral(np.ascontiguousarray(values, dtype=IntType), comm=comm)
    index_set.setName(name)
    index_set.view(viewer)
    index_set.destroy()


def _write_vec(viewer, comm, name: str, values: np.ndarray) -> None:
    values = np.ascontiguousarray(values, dtype=np.float64)
    vec = PETSc.Vec().createMPI((len(values), PETSc.DECIDE), comm=comm)
    vec.setName(name)
    vec.getArray()[:] = values
    vec.view(viewer)
    vec.destroy()


def _read_is(viewer, comm, name: str, local_size: int) -> np.ndarray:
    index_set = PETSc.IS().createGeneral(np.zeros(local_size, IntType), comm=comm)
    index_set.setName(name)
    index_set.load(viewer)
    out = index_set.getIndices().copy()
    index_set.destroy()
    if len(out) != local_size:
        raise RuntimeError(f"dataset '{name}': expected {local_size} values on rank {comm.rank}, read {len(out)}")
    return out


def _read_vec(viewer, comm, name: str, local_size: int) -> np.ndarray:
    vec = PETSc.Vec().createMPI((local_size, PETSc.DECIDE), comm=comm)
    vec.setName(name)
    vec.load(viewer)
    out = vec.getArray(readonly=True).copy()
    vec.destroy()
    return out
