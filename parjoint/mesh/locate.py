"""Values of a cell field at arbitrary points (for sections and profiles)."""

from __future__ import annotations

import numpy as np
from mpi4py import MPI
from scipy.spatial import cKDTree


def sample_cells(mesh, values: np.ndarray, points: np.ndarray, candidates: tuple = (16, 64, 256)) -> np.ndarray:
    """Collective: the value of the cell containing each point (NaN outside the mesh).

    Each rank tests its own cells by barycentric coordinates: first the 16 cells with the
    nearest centroids, then, for points still without a cell, 64 and 256 (a small cell
    beside a large one can have its centroid nearer than the large cell that holds the
    point).  The results are combined across ranks.
    """
    points = np.asarray(points, float).reshape(-1, 3)
    values = np.asarray(values, float)
    index = np.full(len(points), -1)
    if mesh.n_cells:
        tree = cKDTree(mesh.centroid)
        todo = np.arange(len(points))
        for k in candidates:
            k = min(k, mesh.n_cells)
            for chunk in np.array_split(todo, max(1, len(todo) * k // 500_000)):
                index[chunk] = _containing(mesh, tree, points[chunk], k)
            todo = np.flatnonzero(index < 0)
            if k == mesh.n_cells or not len(todo):
                break
    found = np.full(len(points), -np.inf)
    hit = index >= 0
    # NaN values (air, inactive cells) must survive the MAX across ranks: mark them +inf
    found[hit] = np.where(np.isnan(values[index[hit]]), np.inf, values[index[hit]])
    mesh.comm.Allreduce(MPI.IN_PLACE, found, op=MPI.MAX)
    found[~np.isfinite(found)] = np.nan
    return found


def _containing(mesh, tree, points: np.ndarray, k: int) -> np.ndarray:
    """Index of a local cell among the k nearest centroids that contains each point, or -1."""
    if not len(points):
        return np.zeros(0, int)
    _, near = tree.query(points, k=k)
    near = near.reshape(len(points), k)
    p0 = mesh.vertex_coords[mesh.cell_vertices[near, 0]]  # (n, k, 3)
    grad = mesh.grad_p1[near]  # (n, k, 4, 3): barycentric coordinates from the P1 gradients
    bary = np.einsum("nkij,nkj->nki", grad[:, :, 1:], points[:, None, :] - p0)
    inside = (bary >= -1e-9).all(axis=2) & (bary.sum(axis=2) <= 1 + 1e-9)
    first = np.argmax(inside, axis=1)
    return np.where(inside.any(axis=1), near[np.arange(len(points)), first], -1)
