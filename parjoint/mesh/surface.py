"""Elevation of the earth surface of a distributed mesh at given (x, y) positions."""

from __future__ import annotations

import numpy as np
from mpi4py import MPI
from scipy.spatial import cKDTree

from ..errors import InputError


def surface_elevation(mesh, xy: np.ndarray) -> np.ndarray:
    """Collective: z (m) of the top of the earth (``mesh.boundary("surface")``) at each
    (x, y), by linear interpolation on the surface triangle that contains it.

    Points outside the mesh footprint raise an InputError naming the first one.
    """
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    surf = mesh.boundary("surface")
    tri = mesh.vertex_coords[mesh.face_vertices[surf.face]]  # (n, 3, 3)
    z = np.full(len(xy), np.nan)
    if len(tri):
        # a few nearest triangles (by centroid) are enough to find the one containing a point
        k = min(12, len(tri))
        _, near = cKDTree(tri[:, :, :2].mean(axis=1)).query(xy, k=k)
        near = near.reshape(len(xy), k)
        p = tri[near]  # (npts, k, 3, 3)
        a, b, c = p[..., 0, :], p[..., 1, :], p[..., 2, :]
        v0, v1 = b[..., :2] - a[..., :2], c[..., :2] - a[..., :2]
        v2 = xy[:, None, :] - a[..., :2]
        det = v0[..., 0] * v1[..., 1] - v0[..., 1] * v1[..., 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            s = (v2[..., 0] * v1[..., 1] - v2[..., 1] * v1[..., 0]) / det
            t = (v0[..., 0] * v2[..., 1] - v0[..., 1] * v2[..., 0]) / det
        tol = 1e-9
        inside = (s >= -tol) & (t >= -tol) & (s + t <= 1 + tol) & (np.abs(det) > 0)
        zz = a[..., 2] + s * (b[..., 2] - a[..., 2]) + t * (c[..., 2] - a[..., 2])
        hit = inside.any(axis=1)
        first = np.argmax(inside, axis=1)
        z[hit] = zz[hit, first[hit]]
    # several ranks may hold a triangle through a shared edge; they agree to round-off
    found = np.where(np.isnan(z), -np.inf, z)
    mesh.comm.Allreduce(MPI.IN_PLACE, found, op=MPI.MAX)
    missing = np.flatnonzero(~np.isfinite(found))
    if len(missing):
        k = int(missing[0])
        raise InputError(f"position ({xy[k, 0]:.3f}, {xy[k, 1]:.3f}) is outside the mesh surface", collective=True)
    return found
