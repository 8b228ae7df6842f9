"""Reference solutions for the potential-field tests, independent of parjoint's kernels.

Frame x east, y north, z up; unit density, no G: the "attraction" of a body V at P is
g(P) = int_V (x - P) / |x - P|^3 dV and its gradient T = grad g (both of the potential
U(P) = int_V dV / |x - P|).

* Rectangular prism: Nagy, Papp & Benedek (2000), "The gravitational potential and
  its derivatives for the prism", J. Geodesy 74, 552-560.  With u, v, w the corner
  coordinates relative to P and r their distance, the first derivatives are triple
  alternating sums over the 8 corners of
      -(v ln(w + r) + w ln(v + r) - u atan(v w / (u r)))      (and cyclic),
  the second derivatives of -atan(v w / (u r)) (diagonal) and ln(w + r) (xy, cyclic).
  The magnetic field of a uniformly magnetized prism follows by Poisson's relation,
  b = mu0/(4 pi) T M: the Bhattacharyya (1964) prism anomaly in tensor form.
* Tetrahedron by quadrature: a Gauss-Legendre product rule in collapsed (Duffy)
  coordinates, exponentially convergent far from the cell.
* Point mass and dipole: the fields of a sphere outside it.
"""

from __future__ import annotations

import numpy as np

CORNERS = [(i, j, k) for i in range(2) for j in range(2) for k in range(2)]


def _ln_sum(a, r):
    """ln(a + r) without cancellation for a < 0 (r = |(a, b, c)|); 0 where a + r = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(a >= 0, np.log(a + r), np.log((r * r - a * a) / (r - a)))
    return np.where(np.isfinite(out), out, 0.0)


def _atan_term(a, b, c, r):
    """a atan(b c / (a r)), which tends to 0 as a -> 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = a * np.arctan(b * c / (a * r))
    return np.where(a == 0, 0.0, out)


def prism_attraction(lo, hi, P) -> np.ndarray:
    """g (3,) of the prism [lo, hi] at station P; valid on and inside the prism too."""
    lo, hi, P = (np.asarray(a, dtype=np.float64) for a in (lo, hi, P))
    g = np.zeros(3)
    for i, j, k in CORNERS:
        u, v, w = (lo[0], hi[0])[i] - P[0], (lo[1], hi[1])[j] - P[1], (lo[2], hi[2])[k] - P[2]
        r = np.sqrt(u * u + v * v + w * w)
        sign = (-1) ** (i + j + k + 1)  # +1 at the upper corner in all three
        coords = (u, v, w)
        for axis in range(3):
            a, b, c = coords[axis], coords[(axis + 1) % 3], coords[(axis + 2) % 3]
            term = (0.0 if b == 0 else b * _ln_sum(c, r)) + (0.0 if c == 0 else c * _ln_sum(b, r)) \
                - _atan_term(a, b, c, r)
            g[axis] -= sign * term
    return g


def prism_tensor(lo, hi, P) -> np.ndarray:
    """T (3, 3) of the prism at a station off the planes of its faces."""
    lo, hi, P = (np.asarray(a, dtype=np.float64) for a in (lo, hi, P))
    T = np.zeros((3, 3))
    for i, j, k in CORNERS:
        u, v, w = (lo[0], hi[0])[i] - P[0], (lo[1], hi[1])[j] - P[1], (lo[2], hi[2])[k] - P[2]
        r = np.sqrt(u * u + v * v + w * w)
        sign = (-1) ** (i + j + k + 1)
        coords = (u, v, w)
        for axis in range(3):
            a, b, c = coords[axis], coords[(axis + 1) % 3], coords[(axis + 2) % 3]
            T[axis, axis] -= sign * np.arctan(b * c / (a * r))
            other = (axis + 1) % 3, (axis + 2) % 3  # the pair (axis, next) gets ln of the third
            T[axis, other[0]] += sign * _ln_sum(c, r)
            T[other[0], axis] += sign * _ln_sum(c, r)
    return T


def prism_tetrahedra(lo, hi) -> tuple[np.ndarray, np.ndarray]:
    """(vertices (8, 3), tets (6, 4)): the prism split along its main diagonal (Kuhn),
    every tet positively oriented."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    verts = np.array([[(lo[0], hi[0])[i], (lo[1], hi[1])[j], (lo[2], hi[2])[k]] for i, j, k in CORNERS])
    index = {c: n for n, c in enumerate(CORNERS)}
    tets = []
    for perm in ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)):
        path = [(0, 0, 0)]
        for axis in perm:
            step = list(path[-1])
            step[axis] = 1
            path.append(tuple(step))
        tets.append([index[c] for c in path])
    tets = np.array(tets)
    p = verts[tets]
    det = np.einsum("ij,ij->i", p[:, 1] - p[:, 0], np.cross(p[:, 2] - p[:, 0], p[:, 3] - p[:, 0]))
    tets[det < 0, 2], tets[det < 0, 3] = tets[det < 0, 3], tets[det < 0, 2].copy()
    return verts, tets


def tet_quadrature(verts: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Points (n^3, 3) and weights of a collapsed Gauss-Legendre rule on a tetrahedron."""
    x, w = np.polynomial.legendre.leggauss(n)
    x, w = 0.5 * (x + 1.0), 0.5 * w
    a, b, c = np.meshgrid(x, x, x, indexing="ij")
    wa, wb, wc = np.meshgrid(w, w, w, indexing="ij")
    s, t, q = a, b * (1 - a), c * (1 - a) * (1 - b)
    weight = (wa * wb * wc * (1 - a) ** 2 * (1 - b)).ravel()
    lam = np.stack([1 - s - t - q, s, t, q], axis=-1).reshape(-1, 4)
    volume6 = abs(np.linalg.det(verts[1:] - verts[0]))
    return lam @ verts, weight * volume6


def tet_by_quadrature(verts: np.ndarray, P: np.ndarray, n: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """(g, T) of a unit-density tetrahedron at P by quadrature (P well outside it)."""
    pts, wt = tet_quadrature(verts, n)
    d = pts - P
    r = np.sqrt((d * d).sum(axis=1))
    g = (wt[:, None] * d / r[:, None] ** 3).sum(axis=0)
    T = 3.0 * np.einsum("p,pi,pj->ij", wt / r ** 5, d, d) - np.eye(3) * (wt / r ** 3).sum()
    return g, T


def point_mass(centre, mass_volume: float, P) -> np.ndarray:
    """g (3,) of a point of unit density and volume ``mass_volume`` at ``centre``."""
    d = np.asarray(centre, float) - np.asarray(P, float)
    return mass_volume * d / np.linalg.norm(d) ** 3


def dipole_tensor(centre, volume: float, P) -> np.ndarray:
    """T (3, 3) of a unit-density point volume: (3 r r^T - r^2 I) V / r^5, r = P - centre."""
    r = np.asarray(P, float) - np.asarray(centre, float)
    n = np.linalg.norm(r)
    return volume * (3.0 * np.outer(r, r) - n * n * np.eye(3)) / n ** 5
