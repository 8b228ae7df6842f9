"""Dirichlet values of the MT fields on the outer boundary, from 1-D columns of a model.

Choice (documented in the README): the tangential electric field on the boundary is
the 1-D plane-wave solution of the model's own edge columns.  The four side walls of
the box domain are triangulated by the mesh; at a position s along a wall the
vertical line through s crosses a stack of wall triangles, each belonging to a cell
with a conductivity, which is the layered column at s (air included, the lowest
layer continued as a half-space).  Its 1-D field (:func:`layered_field`), normalised
to a unit magnetic field at the top of the domain (the source: a uniform plane wave
from above), gives E at any height on the wall.  On the top and bottom faces the
field is the transfinite (Coons) interpolation of the four walls' values along their
top or bottom rims, which is continuous with the walls and exact wherever the model
is 1-D at the boundary.  Polarization 0 has E along mesh x (east), polarization 1
along mesh y (north).

Each boundary edge's value is the line integral of that field along the edge (3-point
Gauss-Legendre), the edge's Nedelec dof.  The columns come from the model given when
the simulation is built (its ``boundary_model``), so the boundary values are fixed
data of the simulation and do not depend on the model being evaluated: sensitivities
are then exact, and a background model can be imposed by passing it instead.

Every rank gathers all wall triangles (a 2-D set, small next to the mesh) in a
canonical order, so the values are the same on any number of ranks.
"""

from __future__ import annotations

import numba
import numpy as np

from ...errors import InputError
from .layered import layered_field

_jit = numba.njit(cache=True, nogil=True)
WALLS = ("xmin", "xmax", "ymin", "ymax")
_GAUSS_T = np.array([0.5 - np.sqrt(15.0) / 10.0, 0.5, 0.5 + np.sqrt(15.0) / 10.0])
_GAUSS_W = np.array([5.0, 8.0, 5.0]) / 18.0


class _Wall:
    """The triangles of one side wall in (s, z) coordinates, binned along s."""

    def __init__(self, s: np.ndarray, z: np.ndarray, sigma: np.ndarray):
        order = np.lexsort((z.mean(axis=1), s.mean(axis=1)))  # canonical: partition-independent
        self.s, self.z, self.sigma = (np.ascontiguousarray(a[order]) for a in (s, z, sigma))
        self.lo, self.hi = float(s.min()), float(s.max())
        n_bins = max(1, int(np.sqrt(len(s))))
        self.width = (self.hi - self.lo) / n_bins
        first = np.clip(((self.s.min(axis=1) - self.lo) / self.width).astype(np.int64), 0, n_bins - 1)
        last = np.clip(((self.s.max(axis=1) - self.lo) / self.width).astype(np.int64), 0, n_bins - 1)
        count = last - first + 1
        tri = np.repeat(np.arange(len(s)), count)
        bins = np.repeat(first, count) + (np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count))
        order = np.argsort(bins, kind="stable")
        self.bin_tri = tri[order]
        self.bin_ptr = np.concatenate([[0], np.cumsum(np.bincount(bins, minlength=n_bins))])
        self.n_bins = n_bins
        self.capacity = int(np.diff(self.bin_ptr).max())

    def field(self, omega: float, s: np.ndarray, z: np.ndarray, z_top: float) -> np.ndarray:
        """E (V/m for unit H at the top) of the column at each s, at heights z."""
        eps = 1e-9 * (self.hi - self.lo)
        s = np.clip(s, self.lo, self.hi - eps)  # the half-open rule below needs s < hi
        out = np.empty(len(s), np.complex128)
        gaps = np.zeros(len(s), np.float64)
        _wall_fields(omega, self.s, self.z, self.sigma, self.bin_ptr, self.bin_tri, self.lo, self.width,
                     self.n_bins, self.capacity, z_top, s, z, out, gaps)
        if gaps.max(initial=0.0) > 1e-6 * (self.z.max() - self.z.min()):
            raise RuntimeError("a boundary wall column has gaps: the mesh's side walls are not vertical planes")
        return out


@_jit
def _wall_fields(omega, ts, tz, tsig, bin_ptr, bin_tri, lo, width, n_bins, capacity, z_top, qs, qz, out, gaps):
    tops = np.empty(capacity)
    bots = np.empty(capacity)
    sig = np.empty(capacity)
    sliver = 1e-9 * (tz.max() - tz.min())
    for q in range(qs.shape[0]):
        s = qs[q]
        b = min(max(int((s - lo) / width), 0), n_bins - 1)
        n = 0
        for a in range(bin_ptr[b], bin_ptr[b + 1]):
            t = bin_tri[a]
            smin = min(ts[t, 0], ts[t, 1], ts[t, 2])
            smax = max(ts[t, 0], ts[t, 1], ts[t, 2])
            if not (smin <= s < smax):  # half-open: a line through a vertical edge takes one side
                continue
            zlo, zhi = np.inf, -np.inf
            for e in range(3):
                p, r = e, (e + 1) % 3
                sp, sr = ts[t, p], ts[t, r]
                if sp == sr:
                    if sp == s:
                        zlo = min(zlo, tz[t, p], tz[t, r])
                        zhi = max(zhi, tz[t, p], tz[t, r])
                elif min(sp, sr) <= s <= max(sp, sr):
                    zz = tz[t, p] + (s - sp) * (tz[t, r] - tz[t, p]) / (sr - sp)
                    zlo = min(zlo, zz)
                    zhi = max(zhi, zz)
            if zhi - zlo <= sliver:  # touches the line at a vertex (up to round-off)
                continue
            # insertion by decreasing top
            k = n
            while k > 0 and tops[k - 1] < zhi:
                tops[k], bots[k], sig[k] = tops[k - 1], bots[k - 1], sig[k - 1]
                k -= 1
            tops[k], bots[k], sig[k] = zhi, zlo, tsig[t]
            n += 1
        # merge equal neighbours; record how far the stack is from tiling [bottom, z_top]
        gap = abs(tops[0] - z_top) if n > 0 else np.inf
        m = 0
        for k in range(n):
            if k > 0:
                gap = max(gap, abs(bots[k - 1] - tops[k]))
            if m > 0 and sig[m - 1] == sig[k]:
                continue
            tops[m], sig[m] = tops[k], sig[k]
            m += 1
        gaps[q] = gap
        out[q] = layered_field(omega, tops, sig, m, qz[q]) if m > 0 else 0.0


class BoundaryValues:
    """Nedelec dof values of the 1-D boundary fields on the fixed (boundary) edges.

    ``sigma`` is the conductivity (S/m) of every owned cell of the mesh, air included.
    """

    def __init__(self, mesh, space, fixed: np.ndarray, sigma: np.ndarray):
        if not mesh.has_air:
            raise InputError(f"{mesh.source}: MT needs a mesh with an 'air' region above the earth (build it with "
                             "an [air] table)", collective=True)
        self.lo, self.hi = mesh.bounds
        self.walls = self._gather_walls(mesh, sigma)
        dofs = np.flatnonzero(fixed)
        ends = mesh.vertex_coords[space.dof_vertices[dofs]]  # (n, 2, 3) tail, head
        self.dofs = dofs
        self.delta = ends[:, 1] - ends[:, 0]
        points = ends[:, None, 0] + _GAUSS_T[None, :, None] * self.delta[:, None, :]  # (n, 3, 3)
        tol = 1e-7 * float(np.max(self.hi - self.lo))
        on = [np.all(np.abs(ends[:, :, 0] - self.lo[0]) < tol, axis=1),
              np.all(np.abs(ends[:, :, 0] - self.hi[0]) < tol, axis=1),
              np.all(np.abs(ends[:, :, 1] - self.lo[1]) < tol, axis=1),
              np.all(np.abs(ends[:, :, 1] - self.hi[1]) < tol, axis=1)]
        self.wall_of = np.full(len(dofs), -1)
        for w in range(3, -1, -1):
            self.wall_of[on[w]] = w
        rest = self.wall_of < 0
        top = np.all(np.abs(ends[:, :, 2] - self.hi[2]) < tol, axis=1)
        bottom = np.all(np.abs(ends[:, :, 2] - self.lo[2]) < tol, axis=1)
        if np.any(rest & ~top & ~bottom):
            raise RuntimeError("a boundary edge lies on none of the six faces of the box domain")
        self.points = points
        self.face_z = np.where(top, self.hi[2], self.lo[2])

    @staticmethod
    def _gather_walls(mesh, sigma: np.ndarray) -> list[_Wall]:
        comm = mesh.comm
        walls = []
        for w, side in enumerate(WALLS):
            faces = mesh.boundary(side)
            xyz = mesh.vertex_coords[mesh.face_vertices[faces.face]]  # (n, 3, 3)
            axis = 1 if w < 2 else 0  # s = y on x-walls, x on y-walls
            parts = comm.allgather((xyz[:, :, axis], xyz[:, :, 2], sigma[faces.cell]))
            s = np.concatenate([p[0] for p in parts])
            z = np.concatenate([p[1] for p in parts])
            sig = np.concatenate([p[2] for p in parts])
            walls.append(_Wall(s, z, sig))
        return walls

    def _wall_field(self, omega: float, wall: int, s: np.ndarray, z: np.ndarray) -> np.ndarray:
        return self.walls[wall].field(omega, s, z, float(self.hi[2]))

    def values(self, frequency: float) -> tuple[np.ndarray, np.ndarray]:
        """(dof indices, (n, 2) complex values for polarizations 0 and 1) at ``frequency`` (Hz)."""
        omega = 2 * np.pi * frequency
        n = len(self.dofs)
        E = np.zeros((n, 3), np.complex128)  # 1-D field at each Gauss point
        for w in range(4):
            sel = self.wall_of == w
            p = self.points[sel]
            s = p[:, :, 1] if w < 2 else p[:, :, 0]
            E[sel] = self._wall_field(omega, w, s.ravel(), p[:, :, 2].ravel()).reshape(-1, 3)
        sel = self.wall_of < 0
        if sel.any():
            E[sel] = self._coons(omega, self.points[sel], self.face_z[sel])
        line = E @ _GAUSS_W  # (n,) integral of the scalar 1-D field along the edge, per unit length
        return self.dofs, np.stack([line * self.delta[:, 0], line * self.delta[:, 1]], axis=1)

    def _coons(self, omega: float, points: np.ndarray, face_z: np.ndarray) -> np.ndarray:
        """Transfinite interpolation of the four walls' fields onto top/bottom points (n, 3, 3)."""
        x, y = points[:, :, 0].ravel(), points[:, :, 1].ravel()
        z = np.repeat(face_z, points.shape[1])
        (x0, y0, _), (x1, y1, _) = self.lo, self.hi
        u, v = (x - x0) / (x1 - x0), (y - y0) / (y1 - y0)
        left, right = self._wall_field(omega, 0, y, z), self._wall_field(omega, 1, y, z)
        front, back = self._wall_field(omega, 2, x, z), self._wall_field(omega, 3, x, z)
        c00 = self._wall_field(omega, 0, np.full_like(y, y0), z)
        c01 = self._wall_field(omega, 0, np.full_like(y, y1), z)
        c10 = self._wall_field(omega, 1, np.full_like(y, y0), z)
        c11 = self._wall_field(omega, 1, np.full_like(y, y1), z)
        out = ((1 - u) * left + u * right + (1 - v) * front + v * back
               - ((1 - u) * (1 - v) * c00 + u * (1 - v) * c10 + (1 - u) * v * c01 + u * v * c11))
        return out.reshape(points.shape[0], points.shape[1])
