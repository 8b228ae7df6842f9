"""Distributed tetrahedral meshes: reading, building, partitioning, geometry.

``load_mesh(path)`` reads a gmsh ``.msh`` (4.1) or a parjoint ``.h5`` and returns a
:class:`Mesh` distributed over the communicator.  ``parjoint mesh build`` makes
topographic meshes (:mod:`parjoint.mesh.builder`).
"""

from __future__ import annotations

import os

import numpy as np
from mpi4py import MPI

from ..errors import InputError
from ..parallel import agree_on_errors
from .mesh import BoundaryFaces, Mesh

__all__ = ["BoundaryFaces", "Mesh", "load_mesh"]


def load_mesh(path: str, comm: MPI.Comm | None = None, partitioner: str | None = None) -> Mesh:
    """Collective: load and distribute a mesh (``.msh`` gmsh 4.1, or ``.h5`` saved by parjoint)."""
    comm = comm or MPI.COMM_WORLD
    if path.endswith(".h5"):
        from .storage import load_saved_mesh

        return load_saved_mesh(path, comm)
    if not path.endswith(".msh"):
        raise InputError(f"{path}: unknown mesh format (expected .msh or .h5)", collective=True)
    return _load_msh(path, comm, partitioner)


def _load_msh(path: str, comm: MPI.Comm, partitioner: str | None) -> Mesh:
    from .gmsh_reader import read_msh
    from .order import locality_order
    from .plex import create_serial_plex, distribute, set_region_label

    data = None
    with agree_on_errors(comm):
        if comm.rank == 0:
            if not os.path.exists(path):
                raise InputError(f"{path}: no such file")
            data = read_msh(path)
    names = comm.bcast(data.region_names if data is not None else None)
    if comm.rank == 0:
        cell_order, vertex_order = locality_order(data.cells, data.coords)
        new_vertex = np.empty(len(vertex_order), np.int64)  # inverse of vertex_order
        new_vertex[vertex_order] = np.arange(len(vertex_order))
        cells, coords = new_vertex[data.cells[cell_order]], data.coords[vertex_order]
        region = data.cell_region[cell_order]
    else:
        cells, coords, region = None, None, np.zeros(0, np.int64)
        cell_order = vertex_order = np.zeros(0, np.int64)
    del data
    dm = create_serial_plex(comm, cells, coords, path)
    del cells, coords
    set_region_label(dm, region)
    dm, cells, vertices = distribute(dm, {"original": cell_order, "region": region},
                                     {"original": vertex_order}, partitioner)
    return Mesh(dm, cells["original"], cells["region"], vertices["original"], names, source=path)
