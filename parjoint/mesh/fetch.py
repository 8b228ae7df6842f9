"""Values of arbitrary cells of a distributed mesh, wherever they are owned.

A :class:`CellFetcher` is built once for a list of global cell numbers (each rank
its own list); ``fetch`` returns the current values of those cells from their owning
ranks, and ``add`` sends contributions back and sums them on the owners (the
transpose of ``fetch``, needed for gradients).  It is a PETSc star forest whose
leaves are the requested cells; owners are found from the contiguous global cell
numbering, so building it needs no search.
"""

from __future__ import annotations

import numpy as np
from mpi4py import MPI

from ..petsc import IntType, PETSc


class CellFetcher:
    def __init__(self, mesh, global_ids: np.ndarray):
        self.mesh = mesh
        ids = np.asarray(global_ids, np.int64)
        owner = np.searchsorted(mesh.cell_offsets, ids, side="right") - 1
        local = ids - mesh.cell_offsets[owner]
        self.n = len(ids)
        self.sf = PETSc.SF().create(comm=mesh.dm.getComm())
        self.sf.setGraph(mesh.n_cells, np.arange(self.n, dtype=IntType),
                         np.stack([owner, local], axis=1).ravel().astype(IntType))
        self.sf.setUp()
        self._types: dict = {}

    def _unit(self, width: int):
        if width not in self._types:
            self._types[width] = MPI.DOUBLE if width == 1 else MPI.DOUBLE.Create_contiguous(width).Commit()
        return self._types[width]

    def fetch(self, values: np.ndarray) -> np.ndarray:
        """Collective: values (n_cells, ...) of the owned cells -> values of the requested cells."""
        values = np.ascontiguousarray(values, dtype=np.float64)
        width = int(np.prod(values.shape[1:], dtype=np.int64))
        out = np.empty((self.n,) + values.shape[1:])
        unit = self._unit(width)
        self.sf.bcastBegin(unit, values, out, MPI.REPLACE)
        self.sf.bcastEnd(unit, values, out, MPI.REPLACE)
        return out

    def add(self, contributions: np.ndarray) -> np.ndarray:
        """Collective: the transpose of :meth:`fetch`: per-owned-cell sums of contributions."""
        contributions = np.ascontiguousarray(contributions, dtype=np.float64)
        width = int(np.prod(contributions.shape[1:], dtype=np.int64))
        out = np.zeros((self.mesh.n_cells,) + contributions.shape[1:])
        unit = self._unit(width)
        self.sf.reduceBegin(unit, contributions, out, MPI.SUM)
        self.sf.reduceEnd(unit, contributions, out, MPI.SUM)
        return out


def neighbour_rings(mesh, rings: int) -> tuple[np.ndarray, np.ndarray]:
    """For every owned cell, the global numbers of the cells within ``rings`` face-neighbour
    steps (itself included), as CSR (offsets, ids), rows sorted; identical on any partition."""
    nb = mesh.cell_neighbors
    glob_all = np.concatenate([mesh.cell_global, mesh.ghost_global])
    nb_global = np.where(nb >= 0, glob_all[np.maximum(nb, 0)], -1)  # (nc, 4), -1 outside the domain
    rows = np.repeat(np.arange(mesh.n_cells), 5)
    ids = np.column_stack([mesh.cell_global, nb_global]).ravel()
    for _ in range(rings - 1):
        keep = ids >= 0
        rows, ids = rows[keep], ids[keep]
        wanted, where = np.unique(ids, return_inverse=True)
        their = CellFetcher(mesh, wanted).fetch(nb_global.astype(np.float64)).astype(np.int64)  # (n_wanted, 4)
        rows = np.concatenate([rows, np.repeat(rows, 4)])
        ids = np.concatenate([ids, their[where].ravel()])
    keep = ids >= 0
    n = mesh.n_cells_global
    code = np.unique(rows[keep] * n + ids[keep])
    rows, ids = code // n, code % n
    offsets = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=mesh.n_cells))])
    return offsets, ids
