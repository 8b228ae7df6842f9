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


def sorted_pattern(n_rows: int, dofs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rowptr, cols, slots): the CSR pattern (columns sorted in each row) of the dofs
    sharing a row of ``dofs`` (cells x local dofs), and each element entry's
    position *within its row*, ``slots[c, k, l]`` (entry (dofs[c, k], dofs[c, l]) is at
    ``rowptr[dofs[c, k]] + slots[c, k, l]``).  The slots are one byte while rows have
    at most 256 entries (always, on tetrahedral meshes of sane quality), two otherwise:
    a quarter of absolute 32-bit positions."""
    if n_rows + dofs.shape[0] * dofs.shape[1] ** 2 >= 2 ** 31:
        raise ValueError("too many cells on one rank for 32-bit indices; use more ranks")
    slots = np.empty((dofs.shape[0], dofs.shape[1], dofs.shape[1]), np.uint16)
    rowptr, cols, longest = _sorted_pattern(n_rows, dofs, slots)
    if longest > 65536:
        raise ValueError(f"a matrix row has {longest} entries: the mesh is degenerate")
    if longest <= 256:
        slots = slots.astype(np.uint8)
    return rowptr, cols, slots


@_jit
def _sorted_pattern(n_rows, dofs, slots):
    """Fills ``slots`` (positions within rows) and returns (rowptr, cols, longest row).
    Rows are built one at a time from the dof's cells, with a marker array for
    de-duplication and insertion into the sorted row."""
    nc, m = dofs.shape
    first = np.zeros(n_rows + 1, np.int64)  # incidence: the (cell, local index) pairs of each dof
    for k in range(nc):
        for i in range(m):
            first[dofs[k, i] + 1] += 1
    for r in range(n_rows):
        first[r + 1] += first[r]
    fill = first[:-1].copy()
    inc = np.empty(first[n_rows], np.int64)  # cell * m + local index
    for k in range(nc):
        for i in range(m):
            r = dofs[k, i]
            inc[fill[r]] = k * m + i
            fill[r] += 1
    mark = np.full(n_rows, -1, np.int64)
    pos = np.empty(n_rows, np.int64)
    rowptr = np.zeros(n_rows + 1, np.int64)
    cols = np.empty(n_rows + nc * m * (m - 1), dofs.dtype)  # room enough: a cell adds at most m (m - 1)
    nnz = 0
    longest = 0
    for r in range(n_rows):
        start = nnz
        for a in range(first[r], first[r + 1]):
            k = inc[a] // m
            for j in range(m):
                c = dofs[k, j]
                if mark[c] != r:
                    mark[c] = r
                    b = nnz
                    while b > start and cols[b - 1] > c:
                        cols[b] = cols[b - 1]
                        b -= 1
                    cols[b] = c
                    nnz += 1
        longest = max(longest, nnz - start)
        for b in range(start, nnz):
            pos[cols[b]] = b - start
        for a in range(first[r], first[r + 1]):
            k, i = inc[a] // m, inc[a] % m
            for j in range(m):
                slots[k, i, j] = pos[dofs[k, j]]
        rowptr[r + 1] = nnz
    return rowptr, cols[:nnz].copy(), longest


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
        dofs = np.ascontiguousarray(cell_dofs, dtype=np.int64)
        self.rowptr, self.cols, within = sorted_pattern(space.n_local, dofs)
        self.cell_slots = self.rowptr[dofs][:, :, None] + within  #: (n, m, m) positions in the value array
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
