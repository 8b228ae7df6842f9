"""Cell gradients of piecewise-constant fields by least squares over face neighbours.

For cell c with active face neighbours n (across ranks through ghost cells) and
D = [x_n - x_c] (centroid offsets, m), the gradient minimising
sum_n (m_n - m_c - g . (x_n - x_c))^2 is g_c = (D^T D + eps I)^-1 D^T (m_n - m_c):
a linear operator G with a 3-vector coefficient per (cell, neighbour) pair; eps
(1e-9 of the mean squared offset) keeps it defined where fewer than three
neighbours are active.  The (cell, neighbour) pairs are sorted by cell and applied by
compiled loops; ``apply`` gives g for all owned cells (of one field or of several at
once, with one ghost exchange), ``transpose`` applies G^T and sums ghost contributions
on their owners.
"""

from __future__ import annotations

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True)


@_jit
def _apply(start, nbr, coef, f, g):
    """g[c, :, j] = sum over c's pairs p of coef[p] (f[nbr[p], j] - f[c, j])."""
    for c in range(len(start) - 1):
        for p in range(start[c], start[c + 1]):
            n = nbr[p]
            for j in range(f.shape[1]):
                d = f[n, j] - f[c, j]
                for i in range(3):
                    g[c, i, j] += coef[p, i] * d


@_jit
def _transpose(start, nbr, coef, y, out):
    """out += G^T y: each pair adds coef[p] . y[c, :, j] to its neighbour and takes it from c."""
    for c in range(len(start) - 1):
        for p in range(start[c], start[c + 1]):
            n = nbr[p]
            for j in range(y.shape[2]):
                w = coef[p, 0] * y[c, 0, j] + coef[p, 1] * y[c, 1, j] + coef[p, 2] * y[c, 2, j]
                out[n, j] += w
                out[c, j] -= w


class CellGradient:
    def __init__(self, mesh, active: np.ndarray):
        self.mesh = mesh
        nc = mesh.n_cells
        self.active = np.asarray(active, bool)
        active_all = mesh.ghost_values(self.active.astype(np.int64)).astype(bool)
        centroids = mesh.ghost_values(mesh.centroid)
        cell, k = np.nonzero(mesh.cell_neighbors >= 0)
        nbr = mesh.cell_neighbors[cell, k]
        keep = self.active[cell] & active_all[nbr]
        cell, nbr = cell[keep], nbr[keep]
        d = centroids[nbr] - mesh.centroid[cell]  # (pairs, 3)
        M = np.zeros((nc, 3, 3))
        np.add.at(M, cell, d[:, :, None] * d[:, None, :])
        scale = np.einsum("ijj->i", M) / 3.0
        eps = 1e-9 * np.where(scale > 0, scale, 1.0)
        M += eps[:, None, None] * np.eye(3)
        Minv = np.linalg.inv(M)
        eig = np.linalg.eigvalsh(M)
        #: the neighbour offsets span three dimensions: the gradient is exact for linear fields
        self.determined = eig[:, 0] > 1e-3 * eig[:, 2]
        order = np.argsort(cell, kind="stable")
        self.nbr = np.ascontiguousarray(nbr[order])
        self.coef = np.ascontiguousarray(np.einsum("pij,pj->pi", Minv[cell], d)[order])  # (pairs, 3)
        self.start = np.concatenate([[0], np.cumsum(np.bincount(cell, minlength=nc))])

    def apply(self, values: np.ndarray) -> np.ndarray:
        """Collective: gradients (n_cells, 3) of a field on the owned cells, or (n_cells, 3, k)
        of k fields given as columns (n_cells, k)."""
        values = np.asarray(values, dtype=np.float64)
        full = self.mesh.ghost_values(values.reshape(len(values), -1))
        g = np.zeros((self.mesh.n_cells, 3, full.shape[1]))
        _apply(self.start, self.nbr, self.coef, full, g)
        return g.reshape((self.mesh.n_cells, 3) + values.shape[1:])

    def transpose(self, y: np.ndarray) -> np.ndarray:
        """Collective: G^T y for per-cell 3-vectors y (n_cells, 3[, k]) -> per-cell values (n_cells[, k])."""
        y = np.asarray(y, dtype=np.float64)
        k = y.shape[2:]
        out = np.zeros((self.mesh.n_cells + self.mesh.n_ghosts, int(np.prod(k, dtype=int))))
        _transpose(self.start, self.nbr, self.coef, np.ascontiguousarray(y.reshape(len(y), 3, -1)), out)
        return self.mesh.ghost_add(out).reshape((self.mesh.n_cells,) + k)
