"""Compiled element kernels (numba) for nodal elements with a per-cell coefficient.

The element stiffness matrix of cell c with coefficient k_c is

    K_c = k_c V_c sum_ab (g_a . g_b) T[i, j, a, b]

(see :mod:`parjoint.fem.elements`); the tables are passed folded onto the ten
distinct products g_a . g_b (``elements.pair_table``).  A face term is a constant table times a per-face scale.  Each
kernel loops over cells in compiled code, so nothing loops in Python per cell.
"""

from __future__ import annotations

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True)


@_jit
def _element(grad, c, tab, K):
    """K (flat, m*m) = sum_p (g_a . g_b)_p tab[p] for cell c: the geometric element
    matrix / V.  Flat rows keep the multiply-add contiguous so it vectorizes."""
    mm = K.shape[0]
    for q in range(mm):
        K[q] = 0.0
    p = 0
    for a in range(4):
        for b in range(a, 4):
            s = grad[c, a, 0] * grad[c, b, 0] + grad[c, a, 1] * grad[c, b, 1] + grad[c, a, 2] * grad[c, b, 2]
            for q in range(mm):
                K[q] += s * tab[p, q]
            p += 1


@_jit
def stiffness_scatter(grad, volume, cells, coef, tab, slots, values):
    """values[slots[k, q]] += coef[k] V K_q of cell cells[k] (q = i m + j, flat slots)."""
    mm = slots.shape[1]
    K = np.empty(mm)
    for k in range(cells.shape[0]):
        c = cells[k]
        _element(grad, c, tab, K)
        s = coef[k] * volume[c]
        for q in range(mm):
            values[slots[k, q]] += s * K[q]


@_jit
def stiffness_forms(grad, volume, cells, tab, dofs, u, lam, out):
    """out[k] = u_k^T K_k lam_k with the geometric matrix (coefficient 1) of each cell."""
    m = dofs.shape[1]
    K = np.empty(m * m)
    for k in range(cells.shape[0]):
        c = cells[k]
        _element(grad, c, tab, K)
        s = 0.0
        for i in range(m):
            ui = u[dofs[k, i]]
            for j in range(m):
                s += ui * K[i * m + j] * lam[dofs[k, j]]
        out[k] = s * volume[c]


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
def stiffness_forms_multi(grad, volume, cells, tab, dofs, UT, LT, out):
    """out[k] = sum_s u_s^T K_k lam_s for many vector pairs at once, (n_local, S) columns.

    The element matrix is built once per cell and applied to every pair, which makes
    sums over sources (sensitivities) one pass over the cells; the source index runs
    innermost, along the contiguous rows of UT and LT.
    """
    m = dofs.shape[1]
    S = UT.shape[1]
    K = np.empty(m * m)
    Y = np.empty((m, S))
    for k in range(cells.shape[0]):
        c = cells[k]
        _element(grad, c, tab, K)
        Y[:] = 0.0
        for i in range(m):
            for j in range(m):
                kij = K[i * m + j]
                col = dofs[k, j]
                for s in range(S):
                    Y[i, s] += kij * LT[col, s]
        total = 0.0
        for i in range(m):
            row = dofs[k, i]
            for s in range(S):
                total += UT[row, s] * Y[i, s]
        out[k] = total * volume[c]


@_jit
def stiffness_apply_multi(grad, volume, cells, tab, dofs, weight, UT, outT):
    """outT[:, s] += sum_k weight[k] K_k u_s for every column s of UT."""
    m = dofs.shape[1]
    S = UT.shape[1]
    K = np.empty(m * m)
    for k in range(cells.shape[0]):
        c = cells[k]
        _element(grad, c, tab, K)
        w = weight[k] * volume[c]
        for i in range(m):
            row = dofs[k, i]
            for j in range(m):
                kij = w * K[i * m + j]
                col = dofs[k, j]
                for s in range(S):
                    outT[row, s] += kij * UT[col, s]


@_jit
def face_forms_multi(table, dofs, UT, LT, out):
    """out[f] = sum_s u_s^T table lam_s (multiply by the face scale outside)."""
    m = table.shape[0]
    S = UT.shape[1]
    for f in range(dofs.shape[0]):
        total = 0.0
        for s in range(S):
            for i in range(m):
                for j in range(m):
                    total += UT[dofs[f, i], s] * table[i, j] * LT[dofs[f, j], s]
        out[f] = total


@_jit
def face_apply_multi(table, dofs, weight, UT, outT):
    """outT[:, s] += sum_f weight[f] table u_s for every column s."""
    m = table.shape[0]
    S = UT.shape[1]
    for f in range(dofs.shape[0]):
        for i in range(m):
            for j in range(m):
                t = weight[f] * table[i, j]
                for s in range(S):
                    outT[dofs[f, i], s] += t * UT[dofs[f, j], s]
