"""Cell gradients of piecewise-constant fields by least squares over face neighbours.

For cell c with active face neighbours n (across ranks through ghost cells) and
D = [x_n - x_c] (centroid offsets, m), the gradient minimising
sum_n (m_n - m_c - g . (x_n - x_c))^2 is g_c = (D^T D + eps I)^-1 D^T (m_n - m_c):
a linear operator G with a 3-vector coefficient per (cell, neighbour) pair; eps
(1e-9 of the mean squared offset) keeps it defined where fewer than three
neighbours are active.  ``apply`` gives g for all owned cells, ``transpose`` applies
G^T and sums ghost contributions on their owners.
"""

from __future__ import annotations

import numpy as np


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
        self.cell, self.nbr = cell, nbr
        eig = np.linalg.eigvalsh(M)
        #: the neighbour offsets span three dimensions: the gradient is exact for linear fields
        self.determined = eig[:, 0] > 1e-3 * eig[:, 2]
        self.coef = np.einsum("pij,pj->pi", Minv[cell], d)  # (pairs, 3)

    def apply(self, values: np.ndarray) -> np.ndarray:
        """Collective: (n_cells, 3) gradients of a field given on the owned cells."""
        full = self.mesh.ghost_values(np.asarray(values, dtype=np.float64))
        diff = full[self.nbr] - full[self.cell]
        n = self.mesh.n_cells
        return np.column_stack([np.bincount(self.cell, weights=self.coef[:, i] * diff, minlength=n)
                                for i in range(3)])

    def transpose(self, y: np.ndarray) -> np.ndarray:
        """Collective: G^T y for per-cell 3-vectors y (n_cells, 3) -> per-cell values."""
        w = np.einsum("pi,pi->p", self.coef, y[self.cell])
        n = self.mesh.n_cells + self.mesh.n_ghosts
        out = np.bincount(self.nbr, weights=w, minlength=n) - np.bincount(self.cell, weights=w, minlength=n)
        return self.mesh.ghost_add(out)
