"""Values of a cell field at arbitrary points (for sections and profiles)."""

from __future__ import annotations

import numpy as np
from mpi4py import MPI
from scipy.spatial import cKDTree


def sample_cells(mesh, values: np.ndarray, points: np.ndarray, candidates: int = 16) -> np.ndarray:
    """Collective: the value of the cell containing each point (NaN outside the mesh).

    Each rank tests its own cells (the ``candidates`` nearest centroids of each point,
    by barycentric coordinates); the results are combined across ranks.
    """
    points = np.asarray(points, float).reshape(-1, 3)
    found = np.full(len(points), -np.inf)
    if mesh.n_cells:
        k = min(candidates, mesh.n_cells)
        _, near = cKDTree(mesh.centroid).query(points, k=k)
        near = near.reshape(len(points), k)
        p0 = mesh.vertex_coords[mesh.cell_vertices[near, 0]]  # (n, k, 3)
        grad = mesh.grad_p1[near]  # (n, k, 4, 3): barycentric coordinate L_i = 1 + ... via gradients
        rel = points[:, None, :] - p0
        bary = np.einsum("nkij,nkj->nki", grad[:, :, 1:], rel)
        inside = (bary >= -1e-9).all(axis=2) & (bary.sum(axis=2) <= 1 + 1e-9)
        hit = inside.any(axis=1)
        first = np.argmax(inside, axis=1)
        found[hit] = np.asarray(values, float)[near[hit, first[hit]]]
    mesh.comm.Allreduce(MPI.IN_PLACE, found, op=MPI.MAX)
    found[~np.isfinite(found)] = np.nan
    return found
