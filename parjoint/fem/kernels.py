"""Compiled element kernels (numba) for nodal elements with a per-cell coefficient.

The element stiffness matrix of cell c with coefficient k_c is

    K_c = k_c V_c sum_ab (g_a . g_b) T[i, j, a, b]

(see :mod:`parjoint.fem.elements`); the tables are passed as their nonzeros, rows
(i, j, a, b, value).  A face term is a constant table times a per-face scale.  Each
kernel loops over cells in compiled code, so nothing loops in Python per cell.
"""

from __future__ import annotations

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True)


@_jit
def _element(grad, c, tab, K):
    m = K.shape[0]
    G = np.empty((4, 4))
    for a in range(4):
        for b in range(a, 4):
            s = grad[c, a, 0] * grad[c, b, 0] + grad[c, a, 1] * grad[c, b, 1] + grad[c, a, 2] * grad[c, b, 2]
            G[a, b] = s
            G[b, a] = s
    for i in range(m):
        for j in range(m):
            K[i, j] = 0.0
    for r in range(tab.shape[0]):
        K[int(tab[r, 0]), int(tab[r, 1])] += tab[r, 4] * G[int(tab[r, 2]), int(tab[r, 3])]


@_jit
def stiffness_scatter(grad, volume, cells, coef, tab, slots, values):
    """values[slots[k, i, j]] += coef[k] V K_ij of cell cells[k]."""
    m = slots.shape[1]
    K = np.empty((m, m))
    for k in range(cells.shape[0]):
        c = cells[k]
        _element(grad, c, tab, K)
        s = coef[k] * volume[c]
        for i in range(m):
            for j in range(m):
                values[slots[k, i, j]] += s * K[i, j]


@_jit
def stiffness_forms(grad, volume, cells, tab, dofs, u, lam, out):
    """out[k] = u_k^T K_k lam_k with the geometric matrix (coefficient 1) of each cell."""
    m = dofs.shape[1]
    K = np.empty((m, m))
    for k in range(cells.shape[0]):
        c = cells[k]
        _element(grad, c, tab, K)
        s = 0.0
        for i in range(m):
            ui = u[dofs[k, i]]
            for j in range(m):
                s += ui * K[i, j] * lam[dofs[k, j]]
        out[k] = s * volume[c]


@_jit
def stiffness_apply(grad, volume, cells, tab, dofs, weight, u, out):
    """out += sum_k weight[k] K_k u_k, scattered to local dofs."""
    m = dofs.shape[1]
    K = np.empty((m, m))
    for k in range(cells.shape[0]):
        c = cells[k]
        _element(grad, c, tab, K)
        s = weight[k] * volume[c]
        for i in range(m):
            acc = 0.0
            for j in range(m):
                acc += K[i, j] * u[dofs[k, j]]
            out[dofs[k, i]] += s * acc


@_jit
def face_scatter(scale, table, slots, values):
    """values[slots[f, i, j]] += scale[f] table[i, j]."""
    m = table.shape[0]
    for f in range(scale.shape[0]):
        for i in range(m):
            for j in range(m):
                values[slots[f, i, j]] += scale[f] * table[i, j]


@_jit
def face_forms(table, dofs, u, lam, out):
    """out[f] = u_f^T table lam_f (multiply by the face scale outside)."""
    m = table.shape[0]
    for f in range(dofs.shape[0]):
        s = 0.0
        for i in range(m):
            for j in range(m):
                s += u[dofs[f, i]] * table[i, j] * lam[dofs[f, j]]
        out[f] = s


@_jit
def face_apply(table, dofs, weight, u, out):
    """out += sum_f weight[f] table u_f, scattered to local dofs."""
    m = table.shape[0]
    for f in range(dofs.shape[0]):
        for i in range(m):
            acc = 0.0
            for j in range(m):
                acc += table[i, j] * u[dofs[f, j]]
            out[dofs[f, i]] += weight[f] * acc
