"""Assembly of finite-element matrices on a fixed sparsity pattern.

The pattern (which local dof couples with which) is built once from the cells' dof
lists by a compiled counting sort, together with a *slot map*: for every entry (i, j)
of every element matrix, its position in the pattern.  PETSc receives the pattern
once (``MatSetPreallocationCOOLocal`` with unique entries only, several times fewer
than the raw element entries), and for every new model the element kernels add
their values straight into the pattern's value array, which one
``MatSetValuesCOO`` call hands over.  Rows of ghost dofs are summed by PETSc on
their owning rank.
"""

from __future__ import annotations

import numba
import numpy as np

from ..petsc import PETSc, mat_preallocate_coo_local, mat_set_values_coo

_jit = numba.njit(cache=True, nogil=True)


@_jit
def _pattern(n_rows, dofs):
    """CSR pattern of all pairs of dofs sharing a row of ``dofs``, and the slot of every
    element entry.  Rows are built one at a time from the dof's cells, with a marker
    array for de-duplication, so memory is touched almost sequentially; columns within
    a row are sorted (PETSc's COO preallocation is faster on sorted input)."""
    nc, m = dofs.shape
    first = np.zeros(n_rows + 1, np.int64)  # incidence: the (cell, local index) pairs of each dof
    for k in range(nc):
        for i in range(m):
            first[dofs[k, i] + 1] += 1
    for r in range(n_rows):
        first[r + 1] += first[r]
    fill = first[:-1].copy()
    inc_cell = np.empty(first[n_rows], np.int64)
    inc_local = np.empty(first[n_rows], np.int64)
    for k in range(nc):
        for i in range(m):
            r = dofs[k, i]
            inc_cell[fill[r]] = k
            inc_local[fill[r]] = i
            fill[r] += 1
    mark = np.full(n_rows, -1, np.int64)
    pos = np.empty(n_rows, np.int64)
    rowptr = np.zeros(n_rows + 1, np.int64)
    cols = np.empty(nc * m * m, np.int64)
    slots = np.empty((nc, m, m), np.int64)
    nnz = 0
    for r in range(n_rows):
        start = nnz
        for a in range(first[r], first[r + 1]):
            k = inc_cell[a]
            for j in range(m):
                c = dofs[k, j]
                if mark[c] != r:
                    mark[c] = r
                    cols[nnz] = c
                    nnz += 1
        cols[start:nnz].sort()
        for a in range(start, nnz):
            pos[cols[a]] = a
        for a in range(first[r], first[r + 1]):
            k, i = inc_cell[a], inc_local[a]
            for j in range(m):
                slots[k, i, j] = pos[dofs[k, j]]
        rowptr[r + 1] = nnz
    return rowptr, cols[:nnz].copy(), slots


@_jit
def _slots(dofs, rowptr, cols, out):
    """Slots of element entries whose rows and columns are already in the pattern."""
    nc, m = dofs.shape
    for k in range(nc):
        for i in range(m):
            r = dofs[k, i]
            for j in range(m):
                c = dofs[k, j]
                a = rowptr[r]
                while cols[a] != c:  # rows are short (tens of entries): a linear scan
                    a += 1
                out[k, i, j] = a


class Pattern:
    """A PETSc matrix of a space with the coupling of ``cell_dofs``; ``cell_slots`` is
    the slot map of the cells, :meth:`slots` gives it for subsets such as faces."""

    def __init__(self, space, cell_dofs: np.ndarray):
        self.space = space
        self.rowptr, self.cols, self.cell_slots = _pattern(space.n_local,
                                                           np.ascontiguousarray(cell_dofs, dtype=np.int64))
        rows = np.repeat(np.arange(space.n_local), np.diff(self.rowptr))
        self.mat = space.create_matrix()
        mat_preallocate_coo_local(self.mat, rows, self.cols)
        self.values = np.zeros(len(self.cols))

    def slots(self, dofs: np.ndarray) -> np.ndarray:
        """(n, m, m) positions in the value array of each element matrix's entries
        (every pair of ``dofs`` rows must also share a cell of the pattern)."""
        dofs = np.ascontiguousarray(dofs, dtype=np.int64)
        out = np.empty((len(dofs), dofs.shape[1], dofs.shape[1]), np.int64)
        _slots(dofs, self.rowptr, self.cols, out)
        return out

    def commit(self) -> PETSc.Mat:
        """Hand the accumulated values to PETSc (rows of ghost dofs are summed there)."""
        mat_set_values_coo(self.mat, self.values)
        return self.mat
