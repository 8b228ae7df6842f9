"""Communicator groups, each holding its own distributed copy of the mesh.

Many independent solves (sources, frequencies) scale better when the ranks are split
into groups that each solve a share on a smaller partition, than when every rank
takes part in every solve.  :class:`MeshGroups` splits the world communicator into
``n_groups`` equal groups, loads the mesh again on each (from its file), and moves
data between the world partition and the group partitions: per-cell values (keyed
by the cell's index in the mesh file) and finite-element vectors (dofs keyed by the
file indices of their vertices), with PETSc scatters built once.
"""

from __future__ import annotations

import os

import numpy as np
from mpi4py import MPI

from ..errors import InputError
from ..petsc import IntType, PETSc


class MeshGroups:
    def __init__(self, mesh, n_groups: int):
        world = mesh.comm
        if n_groups < 1 or world.size % n_groups:
            raise InputError(f"{n_groups} groups do not divide {world.size} ranks evenly", collective=True)
        if not os.path.exists(mesh.source):
            raise InputError(f"groups need the mesh file, and {mesh.source!r} does not exist", collective=True)
        from ..mesh import load_mesh

        self.world_mesh, self.world, self.n_groups = mesh, world, n_groups
        self.group = world.rank // (world.size // n_groups)  #: this rank's group
        self.comm = world.Split(self.group, world.rank)
        self.mesh = load_mesh(mesh.source, self.comm)  #: this group's copy of the mesh
        target = _match(world, mesh.cell_original, mesh.cell_global, self.mesh.cell_original)
        self._world_cells = PETSc.Vec().createMPI((mesh.n_cells, mesh.n_cells_global), comm=world)
        self._group_cells = PETSc.Vec().createMPI((self.mesh.n_cells, PETSc.DECIDE), comm=world)
        first = self._group_cells.getOwnershipRange()[0]
        self._cell_scatter = PETSc.Scatter().create(
            self._world_cells, PETSc.IS().createGeneral(target.astype(IntType), comm=world), self._group_cells,
            PETSc.IS().createGeneral(np.arange(first, first + self.mesh.n_cells, dtype=IntType), comm=world))

    def cells_to_group(self, values: np.ndarray) -> np.ndarray:
        """Collective on the world: per-cell values of the world partition, for this group's cells."""
        self._world_cells.getArray()[:] = values
        self._cell_scatter.scatter(self._world_cells, self._group_cells, PETSc.InsertMode.INSERT,
                                   PETSc.ScatterMode.FORWARD)
        return self._group_cells.getArray(readonly=True).copy()

    def dof_transfer(self, world_space, group_space) -> "DofTransfer":
        """Moves vectors of ``group_space`` (on this group's mesh) to ``world_space``."""
        return DofTransfer(self, world_space, group_space)


def _match(world: MPI.Comm, world_keys, world_global, group_keys) -> np.ndarray:
    """World global numbers of the entities with keys ``group_keys`` (every rank sends
    its world keys to all: memory O(global count) per rank, built once)."""
    keys = np.concatenate(world.allgather(np.asarray(world_keys, np.int64)))
    glob = np.concatenate(world.allgather(np.asarray(world_global, np.int64)))
    order = np.argsort(keys)
    keys, glob = keys[order], glob[order]
    where = np.minimum(np.searchsorted(keys, group_keys), max(len(keys) - 1, 0))
    if len(group_keys) and (keys[where] != group_keys).any():
        raise RuntimeError("the group copy does not match the world copy of the mesh")
    return glob[where]


class DofTransfer:
    """Vectors solved on a group's copy of a space, moved onto the world copy.

    In each :meth:`exchange`, every group offers at most one vector; the result is the
    world vector of each group's offer, so G solves move in one round.
    """

    def __init__(self, groups: MeshGroups, world_space, group_space):
        self.groups = groups
        world, n_owned = groups.world, group_space.n_owned
        self.stack = PETSc.Vec().createMPI((n_owned, PETSc.DECIDE), comm=world)
        first = self.stack.getOwnershipRange()[0]
        target = _match(world, _dof_keys(world_space)[:world_space.n_owned],
                        world_space.global_offset + np.arange(world_space.n_owned),
                        _dof_keys(group_space)[:n_owned])
        self.scatters = []
        self.world_vecs = []
        for g in range(groups.n_groups):
            in_group = groups.group == g
            src = np.arange(first, first + n_owned, dtype=IntType) if in_group else np.zeros(0, IntType)
            dst = target.astype(IntType) if in_group else np.zeros(0, IntType)
            vec = world_space.create_vec()
            self.world_vecs.append(vec)
            self.scatters.append(PETSc.Scatter().create(
                self.stack, PETSc.IS().createGeneral(src, comm=world), vec, PETSc.IS().createGeneral(dst, comm=world)))

    def exchange(self, group_vec: PETSc.Vec | None) -> list[PETSc.Vec]:
        """Collective on the world: each group's vector (or zeros) on the world space."""
        arr = self.stack.getArray()
        arr[:] = 0.0 if group_vec is None else group_vec.getArray(readonly=True)
        for scatter, vec in zip(self.scatters, self.world_vecs):
            vec.set(0.0)
            scatter.scatter(self.stack, vec, PETSc.InsertMode.INSERT, PETSc.ScatterMode.FORWARD)
        return self.world_vecs


def _dof_keys(space) -> np.ndarray:
    """A partition-independent key for every local dof: its vertex's index in the mesh
    file, or for an edge dof the pair of its vertices' file indices."""
    mesh = space.mesh
    n = int(mesh.comm.allreduce(int(mesh.vertex_original.max(initial=-1)), op=MPI.MAX)) + 1
    keys = np.empty(space.n_local, np.int64)
    has = space.vertex_dof >= 0
    keys[space.vertex_dof[has]] = mesh.vertex_original[has]
    if space.order == 2:
        has = space.edge_dof >= 0
        ends = np.sort(mesh.vertex_original[mesh.edge_vertices[has]], axis=1)
        keys[space.edge_dof[has]] = n + ends[:, 0] * n + ends[:, 1]
    return keys
