"""Orderings that keep neighbours close in memory.

Mesh generators emit tetrahedra in no spatial order.  Sorting cells along a Morton
(Z-order) curve of their centroids, and numbering vertices and finite-element dofs in
the order those cells first touch them, makes the element scatters, sparsity patterns
and matrix products of every physics walk memory almost sequentially.
"""

from __future__ import annotations

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True)


def morton_order(points: np.ndarray) -> np.ndarray:
    """Permutation sorting points along a Morton (Z-order) curve, 21 bits per axis."""
    if len(points) == 0:
        return np.zeros(0, np.int64)
    lo, hi = points.min(axis=0), points.max(axis=0)
    scale = (2 ** 21 - 1) / np.maximum(hi - lo, 1e-300)
    q = ((points - lo) * scale).astype(np.uint64)
    return np.argsort(_morton_codes(q), kind="stable")


@_jit
def _spread3(v):
    """The low 21 bits of v spread to every third bit (bit b -> bit 3 b)."""
    v &= np.uint64(0x1FFFFF)
    v = (v | (v << np.uint64(32))) & np.uint64(0x1F00000000FFFF)
    v = (v | (v << np.uint64(16))) & np.uint64(0x1F0000FF0000FF)
    v = (v | (v << np.uint64(8))) & np.uint64(0x100F00F00F00F00F)
    v = (v | (v << np.uint64(4))) & np.uint64(0x10C30C30C30C30C3)
    v = (v | (v << np.uint64(2))) & np.uint64(0x1249249249249249)
    return v


@_jit
def _morton_codes(q):
    out = np.empty(q.shape[0], np.uint64)
    for n in range(q.shape[0]):
        out[n] = _spread3(q[n, 0]) | (_spread3(q[n, 1]) << np.uint64(1)) | (_spread3(q[n, 2]) << np.uint64(2))
    return out


def first_appearance(items: np.ndarray, owned: np.ndarray, n_owned: int) -> np.ndarray:
    """Number of each of ``len(owned)`` entities: owned ones 0 .. n_owned - 1 in order of
    first appearance in ``items``, then the others from n_owned likewise (entities that
    never appear go last in their group, in index order)."""
    n = len(owned)
    sequence = np.concatenate([np.ravel(items).astype(np.int64), np.arange(n, dtype=np.int64)])
    return _first_appearance(sequence, np.asarray(owned, np.bool_), n_owned)


@_jit
def _first_appearance(sequence, owned, n_owned):
    out = np.full(owned.shape[0], -1, np.int64)
    next_own, next_other = 0, n_owned
    for e in sequence:
        if out[e] < 0:
            if owned[e]:
                out[e] = next_own
                next_own += 1
            else:
                out[e] = next_other
                next_other += 1
    return out


def locality_order(cells: np.ndarray, coords: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(cell_order, vertex_order) of a serial mesh: cells along the Morton curve of
    their centroids, vertices in the order those cells first touch them (unused
    vertices last, in file order).  New index i holds old cell cell_order[i] and old
    vertex vertex_order[i]."""
    cell_order = morton_order(coords[cells].mean(axis=1))
    new_vertex = first_appearance(cells[cell_order], np.ones(len(coords), np.bool_), len(coords))
    vertex_order = np.empty(len(coords), np.int64)
    vertex_order[new_vertex] = np.arange(len(coords))
    return cell_order, vertex_order
