"""Nodal (Lagrange) P1 and P2 finite-element spaces on a subset of the mesh cells.

A :class:`NodalSpace` numbers the degrees of freedom of the cells selected by a mask
(for DC resistivity: the earth, not the air).  P1 dofs sit on vertices; P2 adds one
dof per edge (the edge midpoint).  Each rank's local dofs are its *owned* dofs first,
then the *ghost* dofs it shares with other ranks; ``lgmap`` maps them to global
numbers, which are contiguous per rank (PETSc's layout).  Element-local dof order:
the cell's four vertices (``Mesh.cell_vertices`` order), then for P2 its six edges
in ``parjoint.mesh.mesh.TET_EDGES`` order.
"""

from __future__ import annotations

import numpy as np
from mpi4py import MPI

from ..mesh.mesh import TET_EDGES, Mesh
from ..mesh.order import first_appearance
from ..mesh.plex import or_over_ranks, sf_graph
from ..petsc import IntType, PETSc
from .dofs import DistributedDofs


class NodalSpace(DistributedDofs):
    """Continuous P1 or P2 space on the cells where ``cell_mask`` is true."""

    def __init__(self, mesh: Mesh, order: int, cell_mask: np.ndarray | None = None):
        if order not in (1, 2):
            raise ValueError(f"order must be 1 or 2, got {order}")
        self.mesh, self.order, self.comm = mesh, order, mesh.comm
        mask = np.ones(mesh.n_cells, bool) if cell_mask is None else np.asarray(cell_mask, bool)
        self.cells = np.flatnonzero(mask)  #: local cells of the space
        self.n_local_basis = 4 if order == 1 else 10

        # entities carrying dofs: vertex points, then (P2) edge points of the DMPlex
        dm = mesh.dm
        v0, v1 = dm.getDepthStratum(0)
        e0, e1 = dm.getDepthStratum(1)
        nv, ne = v1 - v0, e1 - e0
        used_v = np.zeros(nv, bool)
        used_v[mesh.cell_vertices[self.cells].ravel()] = True
        entity_points = [v0 + np.arange(nv)]
        used = [used_v]
        if order == 2:
            edges, _ = mesh.cell_edges
            used_e = np.zeros(ne, bool)
            used_e[edges[self.cells].ravel()] = True
            entity_points.append(e0 + np.arange(ne))
            used.append(used_e)
        points = np.concatenate(entity_points)
        used = or_over_ranks(dm, points, np.concatenate(used))

        owned_point = np.ones(dm.getChart()[1], bool)
        leaves, _ = sf_graph(dm.getPointSF(), dm.getChart()[1])
        owned_point[leaves] = False
        owned = owned_point[points] & used
        ghost = ~owned_point[points] & used
        n_owned = int(owned.sum())
        first = self.comm.exscan(n_owned) or 0
        self.n_owned = n_owned
        self.n_global = self.comm.allreduce(n_owned)
        self.global_offset = first

        # local dof index of each entity: owned first, then ghosts, each in the order the
        # cells first touch them, so an element's rows lie close together in the matrix
        # (P2 re-assembly is bound by the memory traffic of its scattered entries)
        cell_entities = [mesh.cell_vertices[self.cells]]
        if order == 2:
            cell_entities.append(nv + edges[self.cells])
        in_space = np.flatnonzero(used)
        compact = np.full(len(points), -1, np.int64)
        compact[in_space] = np.arange(len(in_space))
        local = np.full(len(points), -1, np.int64)
        local[in_space] = first_appearance(compact[np.concatenate(cell_entities, axis=1)], owned[in_space], n_owned)
        self.n_local = n_owned + int(ghost.sum())
        glob = np.full(dm.getChart()[1], -1, np.int64)
        glob[points[owned]] = first + local[owned]
        roots = glob.copy()
        sf = dm.getPointSF()
        sf.bcastBegin(MPI.INT64_T, roots, glob, MPI.REPLACE)
        sf.bcastEnd(MPI.INT64_T, roots, glob, MPI.REPLACE)
        self.local_to_global = np.empty(self.n_local, np.int64)
        self.local_to_global[local[used]] = glob[points[used]]
        self.lgmap = PETSc.LGMap().create(self.local_to_global.astype(IntType), comm=self.comm)

        self.vertex_dof = local[:nv]  #: local dof of each mesh vertex (-1 if not in the space)
        cell_dofs = [self.vertex_dof[mesh.cell_vertices[self.cells]]]
        if order == 2:
            self.edge_dof = local[nv:]  #: local dof of each mesh edge (-1 if not in the space)
            cell_dofs.append(self.edge_dof[edges[self.cells]])
        self.cell_dofs = np.ascontiguousarray(np.concatenate(cell_dofs, axis=1))  #: (n_space_cells, 4|10)

        coords = np.empty((self.n_local, 3))
        in_v = self.vertex_dof >= 0
        coords[self.vertex_dof[in_v]] = mesh.vertex_coords[in_v]
        if order == 2:
            in_e = self.edge_dof >= 0
            ends = mesh.vertex_coords[mesh.edge_vertices[in_e]]
            coords[self.edge_dof[in_e]] = ends.mean(axis=1)
        self.dof_coords = coords  #: (n_local, 3) position of each local dof, m
        self._column_scatters: dict = {}

    # ---------------------------------------------------------------- vectors
    def add_local_columns(self, values: np.ndarray) -> np.ndarray:
        """Collective: sum over ranks of local-dof columns (n_local, S) -> owned rows (n_owned, S).

        The many-vector version of :meth:`add_local`: one blocked scatter moves every
        column's ghost rows to their owners.
        """
        S = values.shape[1]
        key = ("cols", S)
        if key not in self._column_scatters:
            glob = PETSc.Vec().createMPI((self.n_owned * S, self.n_global * S), bsize=S, comm=self.comm)
            loc = PETSc.Vec().createSeq(self.n_local * S, bsize=S, comm=PETSc.COMM_SELF)
            index = PETSc.IS().createBlock(S, self.local_to_global.astype(IntType), comm=self.comm)
            self._column_scatters[key] = (glob, loc, PETSc.Scatter().create(glob, index, loc, None))
        glob, loc, scatter = self._column_scatters[key]
        loc.getArray()[:] = np.ascontiguousarray(values).ravel()
        glob.set(0.0)
        scatter.scatter(loc, glob, PETSc.InsertMode.ADD, PETSc.ScatterMode.REVERSE)
        return glob.getArray(readonly=True).reshape(self.n_owned, S).copy()


__all__ = ["NodalSpace", "TET_EDGES"]
