"""The earth surface of a distributed mesh, on every rank, as a function z(x, y).

The surface triangles (``mesh.boundary("surface")``: the air-earth interface, or the
top of a mesh without air) are few compared with the cells (a 2-D set), so they are
gathered on every rank once; after that any rank interpolates any points, its own or
replicated ones, without communication and with the same result on any number of
ranks (the triangles are put in a canonical order).

z(x, y) is linear on the triangle whose horizontal projection contains (x, y); on a
side shared by two triangles both give the same value up to round-off and the larger
is taken (a deterministic choice).  Vertical faces are skipped.  Outside the
footprint of the surface the elevation is NaN.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from ..errors import InputError

# relative tolerance of barycentric coordinates: points on a side belong to both triangles
_EDGE_TOL = 1e-10
_FIRST_K = 8  # nearest triangles tried first; more where none of them contains the point


class Topography:
    """Collective constructor: the surface of ``mesh`` gathered on every rank."""

    def __init__(self, mesh):
        surf = mesh.boundary("surface")
        local = mesh.vertex_coords[mesh.face_vertices[surf.face]].reshape(-1, 9)
        tri = np.concatenate(mesh.comm.allgather(local)).reshape(-1, 3, 3)
        a, b, c = tri[:, 0, :2], tri[:, 1, :2], tri[:, 2, :2]
        det = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
        tri = tri[np.abs(det) > 1e-12 * np.abs(tri[..., :2]).max(initial=1.0) ** 2]
        centre = tri[:, :, :2].mean(axis=1)
        order = np.lexsort((tri[:, :, 2].sum(axis=1), centre[:, 1], centre[:, 0]))
        self.triangles = tri[order]  #: (n, 3, 3) m, canonical order
        self._centre = centre[order]
        self._tree = cKDTree(self._centre) if len(self._centre) else None
        xy = self.triangles[:, :, :2].reshape(-1, 2)
        self.extent = (np.array([xy[:, 0].min(), xy[:, 1].min()]), np.array([xy[:, 0].max(), xy[:, 1].max()]))

    def elevation(self, xy: np.ndarray) -> np.ndarray:
        """z (m) of the surface at each (x, y); NaN outside it.  Not collective."""
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        z = np.full(len(xy), np.nan)
        todo = np.arange(len(xy))
        n = len(self.triangles)
        k = min(_FIRST_K, n)
        while len(todo) and k:
            found, zk = self._try(xy[todo], k)
            z[todo[found]] = zk[found]
            if k == n:
                break
            todo = todo[~found]
            k = min(4 * k, n)
        return z

    def _try(self, xy: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        _, near = self._tree.query(xy, k=k)
        near = near.reshape(len(xy), k)
        p = self.triangles[near]  # (npts, k, 3, 3)
        a, b, c = p[..., 0, :], p[..., 1, :], p[..., 2, :]
        e1, e2 = b[..., :2] - a[..., :2], c[..., :2] - a[..., :2]
        q = xy[:, None, :] - a[..., :2]
        det = e1[..., 0] * e2[..., 1] - e1[..., 1] * e2[..., 0]
        s = (q[..., 0] * e2[..., 1] - q[..., 1] * e2[..., 0]) / det
        t = (e1[..., 0] * q[..., 1] - e1[..., 1] * q[..., 0]) / det
        inside = (s >= -_EDGE_TOL) & (t >= -_EDGE_TOL) & (s + t <= 1.0 + _EDGE_TOL)
        zz = a[..., 2] + s * (b[..., 2] - a[..., 2]) + t * (c[..., 2] - a[..., 2])
        zz = np.where(inside, zz, -np.inf)
        return inside.any(axis=1), zz.max(axis=1)

    def below(self, xyz: np.ndarray, tolerance: float = 1e-6) -> np.ndarray:
        """True for points more than ``tolerance`` m below the surface (boreholes);
        False above it, on it, or outside its footprint."""
        xyz = np.asarray(xyz, dtype=np.float64).reshape(-1, 3)
        z = self.elevation(xyz[:, :2])
        with np.errstate(invalid="ignore"):
            return xyz[:, 2] < z - tolerance


def surface_elevation(mesh, xy: np.ndarray) -> np.ndarray:
    """Collective: z (m) of the earth surface at each (x, y), the same points on every rank.

    Points outside the surface raise an InputError naming the first one.
    """
    z = Topography(mesh).elevation(xy)
    missing = np.flatnonzero(np.isnan(z))
    if len(missing):
        x, y = np.asarray(xy, float).reshape(-1, 2)[missing[0]]
        raise InputError(f"position ({x:.3f}, {y:.3f}) is outside the mesh surface", collective=True)
    return z
