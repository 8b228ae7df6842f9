"""Assembly of finite-element matrices on a fixed sparsity pattern.

The pattern (which local dof couples with which) is built once from the cells' dof
lists by a compiled counting sort, together with a *slot map*: for every entry (i, j)
of every element matrix, its position in the pattern.  Element kernels add their
values straight into a value array in this *local layout* (rows of the rank's owned
dofs, then of its ghost dofs).

PETSc's matrices are made with ``MatCreateMPIAIJWithSplitArrays``: the owned rows'
diagonal block (owned columns) and off-diagonal block (other columns) are numpy
arrays that PETSc reads in place.  Filling a matrix is one gather from the local
layout into those arrays, and one PetscSF reduction that adds the ghost rows into
their owners' rows; then ``MatAssembly`` marks the new values.  Against PETSc's COO
interface (``MatSetPreallocationCOO``) this halves the set-up time on two ranks and
keeps no COO maps (16 bytes per entry).
"""

from __future__ import annotations

import numba
import numpy as np
from mpi4py import MPI

from ..petsc import IntType, PETSc

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
def _group(keys, n):
    """Counting sort of ``keys`` (values 0 .. n - 1): (first, members), the positions of
    the keys equal to r being members[first[r]:first[r + 1]], in order."""
    first = np.zeros(n + 1, np.int64)
    for t in range(len(keys)):
        first[keys[t] + 1] += 1
    for r in range(n):
        first[r + 1] += first[r]
    fill = first[:-1].copy()
    members = np.empty(len(keys), np.int64)
    for t in range(len(keys)):
        members[fill[keys[t]]] = t
        fill[keys[t]] += 1
    return first, members


@_jit
def _sorted_pattern(n_rows, dofs, slots):
    """Fills ``slots`` (positions within rows) and returns (rowptr, cols, longest row).
    Rows are built one at a time from the dof's cells, with a marker array for
    de-duplication and insertion into the sorted row."""
    nc, m = dofs.shape
    first, inc = _group(dofs.ravel(), n_rows)  # incidence: the entries cell * m + local index of each dof
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


@_jit
def _split_rows(rowptr, cols, l2g, start, end, recv_row, recv_col):
    """PETSc's split layout of the owned rows: the rank's own entries of each row
    (columns ``l2g[cols[rowptr[r]:rowptr[r + 1]]]``, unique) merged with those other
    ranks sent for it (``recv_row``, ``recv_col``), columns ascending.  Returns the
    diagonal block (ai, aj: columns start..end - 1 as local numbers), the off-diagonal
    block (bi, bj: global columns), and the position of every own entry, received
    entry, and entry only received, in the value array [diagonal | off-diagonal]."""
    n_rows = len(rowptr) - 1
    n_recv = len(recv_row)
    first, received = _group(recv_row, n_rows)
    cap = rowptr[n_rows] + n_recv
    ai = np.zeros(n_rows + 1, np.int64)
    bi = np.zeros(n_rows + 1, np.int64)
    aj = np.empty(cap, np.int64)
    bj = np.empty(cap, np.int64)
    na = nb = 0  # entries in the diagonal and off-diagonal blocks so far
    # positions: diagonal-block index k as k, off-diagonal index b as -1 - b until the end
    pos_own = np.empty(rowptr[n_rows], np.int64)
    pos_recv = np.empty(n_recv, np.int64)
    remote_only = np.empty(n_recv, np.int64)
    n_remote = 0
    for r in range(n_rows):
        a0, a1, b0, b1 = rowptr[r], rowptr[r + 1], first[r], first[r + 1]
        ordered = b0 == b1
        for a in range(a0 + 1, a1):
            if l2g[cols[a]] < l2g[cols[a - 1]]:
                ordered = False
                break
        # (the diagonal / off-diagonal choice is written out in both branches: as a call
        # in this loop it doubled the time)
        if ordered:  # most rows: nothing received, columns already ascending
            for a in range(a0, a1):
                g = l2g[cols[a]]
                if start <= g < end:
                    aj[na] = g - start
                    pos_own[a] = na
                    na += 1
                else:
                    bj[nb] = g
                    pos_own[a] = -1 - nb
                    nb += 1
        else:
            k = a1 - a0 + b1 - b0
            keys = np.empty(k, np.int64)
            src = np.empty(k, np.int64)  # own entry a, or received entry t as -1 - t
            for a in range(a0, a1):
                keys[a - a0] = l2g[cols[a]]
                src[a - a0] = a
            for b in range(b0, b1):
                t = received[b]
                keys[a1 - a0 + b - b0] = recv_col[t]
                src[a1 - a0 + b - b0] = -1 - t
            order = np.argsort(keys, kind="mergesort")
            q0 = 0
            while q0 < k:  # one unique column: its entries order[q0:q1]
                g = keys[order[q0]]
                q1 = q0
                own = False
                while q1 < k and keys[order[q1]] == g:
                    own = own or src[order[q1]] >= 0
                    q1 += 1
                if start <= g < end:
                    aj[na] = g - start
                    here = na
                    na += 1
                else:
                    bj[nb] = g
                    here = -1 - nb
                    nb += 1
                if not own:
                    remote_only[n_remote] = here
                    n_remote += 1
                for q in range(q0, q1):
                    if src[order[q]] >= 0:
                        pos_own[src[order[q]]] = here
                    else:
                        pos_recv[-1 - src[order[q]]] = here
                q0 = q1
        ai[r + 1], bi[r + 1] = na, nb
    remote_only = remote_only[:n_remote]
    for p in (pos_own, pos_recv, remote_only):  # off-diagonal positions follow the diagonal block
        for i in range(len(p)):
            if p[i] < 0:
                p[i] = na - 1 - p[i]
    return ai, aj[:na].copy(), bi, bj[:nb].copy(), pos_own, pos_recv, remote_only


@_jit
def _place(pos, values, out):
    """out[pos[i]] = values[i] (a compiled loop: twice numpy's fancy assignment)."""
    for i in range(len(pos)):
        out[pos[i]] = values[i]


def _alltoallv(comm, send: np.ndarray, counts: np.ndarray, recv_counts: np.ndarray) -> np.ndarray:
    recv = np.empty(int(recv_counts.sum()), send.dtype)
    comm.Alltoallv([send, (counts, None)], [recv, (recv_counts, None)])
    return recv


class Pattern:
    """The matrix pattern of a space's cell couplings and PETSc matrices on it.

    ``space`` gives ``comm``, ``n_owned`` and ``local_to_global`` (local dofs numbered
    owned first, global numbers contiguous per rank); ``cell_dofs`` (cells x local
    dofs) the couplings.  ``rowptr``, ``cols`` and ``within`` are the local layout:
    entry (k, l) of cell c is at ``rowptr[cell_dofs[c, k]] + within[c, k, l]``.
    :meth:`new_matrix` makes matrices of the pattern, :meth:`fill` sets one from
    local-layout values.
    """

    def __init__(self, space, cell_dofs: np.ndarray):
        self.comm = comm = space.comm
        dofs = np.ascontiguousarray(cell_dofs)
        self.cell_dofs = dofs
        n_owned = space.n_owned
        self.rowptr, self.cols, self.within = sorted_pattern(len(space.local_to_global), dofs)
        self.nnz = len(self.cols)
        self._n_own_entries = n_own = int(self.rowptr[n_owned])
        l2g = np.asarray(space.local_to_global, dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(comm.allgather(n_owned))]).astype(np.int64)
        self._sizes = (n_owned, int(starts[-1]))
        if starts[-1] > np.iinfo(IntType).max:
            raise ValueError(f"{starts[-1]} dofs need a PETSc built with 64-bit indices")
        start, end = starts[comm.rank], starts[comm.rank + 1]
        # ghost rows' entries go to the ranks owning the rows
        ghost_entries = np.arange(n_own, self.nnz)
        entry_row = np.repeat(np.arange(n_owned, len(l2g)), np.diff(self.rowptr[n_owned:]))
        owner = np.searchsorted(starts, l2g[entry_row], side="right") - 1
        order = np.argsort(owner, kind="stable")
        ghost_entries, owner = ghost_entries[order], owner[order]
        counts = np.bincount(owner, minlength=comm.size).astype(np.int64)
        recv_counts = np.array(comm.alltoall(counts.tolist()), np.int64)
        recv_row = _alltoallv(comm, l2g[entry_row[order]], counts, recv_counts) - start
        recv_col = _alltoallv(comm, l2g[self.cols[ghost_entries]], counts, recv_counts)
        ai, aj, bi, bj, pos_own, pos_recv, self._remote_only = _split_rows(
            self.rowptr[:n_owned + 1], self.cols[:n_own], l2g, start, end, recv_row, recv_col)
        self._n_diag, self._n_values = len(aj), len(aj) + len(bj)
        self._pos_own = pos_own.astype(np.int32) if self._n_values < 2 ** 31 else pos_own
        self._diag = (ai.astype(IntType), aj.astype(IntType))
        self._off = (bi.astype(IntType), bj.astype(IntType))
        # where this rank's ghost entries land on their owners: a PetscSF for the sums
        root = _alltoallv(comm, pos_recv, recv_counts, counts)
        remote = np.column_stack([owner, root]).astype(IntType)
        self._sf = PETSc.SF().create(comm=comm)
        self._sf.setGraph(self._n_values, (ghost_entries - n_own).astype(IntType), remote)
        self._sf.setUp()

    @property
    def cell_slots(self) -> np.ndarray:
        """(n, m, m) positions of the cells' element entries in the local value array."""
        return self.rowptr[self.cell_dofs][:, :, None] + self.within

    def slots(self, dofs: np.ndarray) -> np.ndarray:
        """(n, m, m) positions in the value array of each element matrix's entries
        (every pair of ``dofs`` rows must also share a cell of the pattern)."""
        dofs = np.ascontiguousarray(dofs, dtype=np.int64)
        out = np.empty((len(dofs), dofs.shape[1], dofs.shape[1]), np.int64)
        _slots(dofs, self.rowptr, self.cols, out)
        return out

    def new_matrix(self) -> PETSc.Mat:
        """Collective: a matrix of this pattern, zero, its values in :meth:`array`."""
        values = np.zeros(self._n_values)
        n, N = self._sizes
        diag = (*self._diag, values[:self._n_diag])
        if self.comm.size == 1:
            csr = diag
        else:  # PETSc renumbers the off-diagonal columns in place: each matrix its own copy
            csr = (diag, (self._off[0], self._off[1].copy(), values[self._n_diag:]))
        mat = PETSc.Mat().createAIJWithArrays(((n, N), (n, N)), csr, comm=self.comm)
        mat.setOption(PETSc.Mat.Option.NO_OFF_PROC_ENTRIES, True)
        mat.setOption(PETSc.Mat.Option.NEW_NONZERO_LOCATION_ERR, True)
        mat.setAttr("parjoint_values", values)
        mat.assemble()
        return mat

    @staticmethod
    def array(mat: PETSc.Mat) -> np.ndarray:
        """The values PETSc reads for a matrix of :meth:`new_matrix` (diagonal block, then
        off-diagonal block); call ``mat.assemble()`` after changing them."""
        return mat.getAttr("parjoint_values")

    def gather(self, values: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Collective: local-layout ``values`` as a matrix value array (ghost rows summed
        into their owners' rows), in ``out`` or a new array."""
        if out is None:
            out = np.empty(self._n_values)
        _place(self._pos_own, values, out)
        out[self._remote_only] = 0.0
        ghost = np.ascontiguousarray(values[self._n_own_entries:])
        self._sf.reduceBegin(MPI.DOUBLE, ghost, out, MPI.SUM)
        self._sf.reduceEnd(MPI.DOUBLE, ghost, out, MPI.SUM)
        return out

    def fill(self, mat: PETSc.Mat, values: np.ndarray) -> PETSc.Mat:
        """Collective: set a matrix of this pattern from local-layout values."""
        self.gather(values, self.array(mat))
        mat.assemble()
        return mat

    def destroy(self) -> None:
        self._sf.destroy()
