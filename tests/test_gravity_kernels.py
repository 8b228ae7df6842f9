"""The closed-form tetrahedron kernels: quadrature far away, exact identities up close,
the analytic prism (Nagy et al. 2000) above, beside and on it, singular stations.

Fields are those of unit density without G (see potential_analytic): g1 (3,) and T1
(3, 3), east-north-up.  Tolerances are relative to the largest component.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest

from parjoint.physics.gravity import vecmath
from parjoint.physics.gravity.kernels import Functionals, build_blocks, cell_fields
from potential_analytic import prism_attraction, prism_tensor, prism_tetrahedra, tet_by_quadrature

TET = np.array([[0.0, 0.0, 0.0], [1.0, 0.1, 0.0], [0.2, 1.1, 0.1], [0.3, 0.2, 0.9]])
# components 0-2: g1, 3-11: T1 row by row
ALL = Functionals(np.vstack([np.eye(3), np.zeros((9, 3))]),
                  np.concatenate([np.zeros((3, 3, 3)), np.eye(9).reshape(9, 3, 3)]), np.zeros(12))


def fields(verts: np.ndarray, tets: np.ndarray, stations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(g (n, 3), T (n, 3, 3)) of the union of ``tets`` at each station."""
    stations = np.atleast_2d(stations)
    blocks = build_blocks(verts, tets, np.arange(len(verts)), block_size=3)
    total = cell_fields(blocks, stations, ALL).sum(axis=0).reshape(12, len(stations)).T
    return total[:, :3], total[:, 3:].reshape(-1, 3, 3)


def rel(a, b) -> float:
    return float(np.abs(np.asarray(a) - np.asarray(b)).max() / np.abs(b).max())


@numba.njit(error_model="numpy")
def _apply(q, y, x, out_log, out_atan):
    for i in range(q.size):
        out_log[i] = vecmath.log1p(q[i])
        out_atan[i] = vecmath.atan2(y[i], x[i])


def test_vectorizable_log1p_and_atan2():
    rng = np.random.default_rng(1)
    q = 10.0 ** rng.uniform(-20, 12, 200_000)
    q[:1000] = rng.uniform(0.40, 0.43, 1000)  # both sides of the switch at sqrt(2) - 1
    y = rng.standard_normal(q.size) * 10.0 ** rng.uniform(-8, 8, q.size)
    x = rng.standard_normal(q.size) * 10.0 ** rng.uniform(-8, 8, q.size)
    x[:10] = 0.0
    lg, at = np.empty_like(q), np.empty_like(q)
    _apply(q, y, x, lg, at)
    assert np.max(np.abs(lg / np.log1p(q) - 1.0)) < 1e-15
    assert np.max(np.abs(at / np.arctan2(y, x) - 1.0)) < 1e-15
    assert vecmath.atan2(0.0, 0.0) == 0.0 and vecmath.log1p(0.0) == 0.0


def test_far_stations_match_quadrature():
    rng = np.random.default_rng(2)
    for distance in (5.0, 20.0, 50.0):  # edge lengths about 1
        direction = rng.standard_normal(3)
        P = TET.mean(axis=0) + distance * direction / np.linalg.norm(direction)
        g, T = fields(TET, np.array([[0, 1, 2, 3]]), P)
        gq, Tq = tet_by_quadrature(TET, P, 20)
        assert rel(g[0], gq) < 1e-10
        assert rel(T[0], Tq) < 1e-10


def _close_stations():
    c = TET.mean(axis=0)
    return np.array([c, c + [0.0, 0.0, 0.8], TET[1] + [0.05, -0.02, 0.03], 0.5 * (TET[0] + TET[3]) + 0.01,
                     TET[[0, 1, 2]].mean(axis=0) - [0.0, 0.0, 1e-3], [1.5, 1.5, 1.5]])


def test_rigid_motion_and_relabelling_up_close():
    rng = np.random.default_rng(3)
    P = _close_stations()
    g, T = fields(TET, np.array([[0, 1, 2, 3]]), P)
    Q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    Q *= np.sign(np.linalg.det(Q))  # a rotation keeps the orientation
    shift = np.array([1e3, -2e3, 5e2])
    g2, T2 = fields(TET @ Q.T + shift, np.array([[0, 1, 2, 3]]), P @ Q.T + shift)
    assert rel(g2, g @ Q.T) < 1e-10
    assert rel(T2, Q @ T @ Q.T) < 1e-10
    for even in ([1, 2, 0, 3], [2, 3, 0, 1], [3, 1, 0, 2]):  # even permutations keep the orientation
        g3, T3 = fields(TET, np.array([even]), P)
        assert rel(g3, g) < 1e-12 and rel(T3, T) < 1e-12


def test_poisson_symmetry_and_gradient():
    P = _close_stations()
    g, T = fields(TET, np.array([[0, 1, 2, 3]]), P)
    lam = np.linalg.solve((TET[1:] - TET[0]).T, (P - TET[0]).T).T
    inside = (lam > 0).all(axis=1) & (lam.sum(axis=1) < 1)
    assert inside.sum() == 2
    trace = np.trace(T, axis1=1, axis2=2)
    assert np.abs(trace - np.where(inside, -4 * math.pi, 0.0)).max() < 1e-10 * 4 * math.pi
    assert rel(T, np.transpose(T, (0, 2, 1))) < 1e-12
    h = 1e-5
    for j in range(3):
        step = np.zeros(3)
        step[j] = h
        gp, _ = fields(TET, np.array([[0, 1, 2, 3]]), P[1:] + step)
        gm, _ = fields(TET, np.array([[0, 1, 2, 3]]), P[1:] - step)
        assert rel((gp - gm) / (2 * h), T[1:, :, j]) < 1e-6  # central differences, O(h^2)


def _split(point: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The tet split into four at ``point`` (inside or on it), each positively oriented."""
    verts = np.vstack([TET, point])
    tets = np.array([[4, 1, 2, 3], [0, 4, 2, 3], [0, 1, 4, 3], [0, 1, 2, 4]])
    p = verts[tets]
    vol = np.einsum("ij,ij->i", p[:, 1] - p[:, 0], np.cross(p[:, 2] - p[:, 0], p[:, 3] - p[:, 0]))
    return verts, tets[vol > 1e-14]


@pytest.mark.parametrize("where", ["interior", "face"])
def test_superposition_at_the_shared_vertex(where):
    """Splitting the tet at a point gives four (or three) cells that all have the
    station as a vertex: their singular side and face terms must cancel exactly, so
    the sum equals the whole tet's field there, the gradient tensor included."""
    point = TET.mean(axis=0) if where == "interior" else TET[[0, 1, 2]].mean(axis=0)
    verts, tets = _split(point)
    stations = np.array([point, point + [0.0, 0.0, 0.3], TET[2], 0.5 * (TET[1] + TET[2])])
    g, T = fields(verts, tets, stations)
    g0, T0 = fields(TET, np.array([[0, 1, 2, 3]]), stations)
    assert rel(g, g0) < 1e-10
    # the tensor at the station on the split point (a vertex of every piece); on the
    # tet's own vertex and edge its field is log-singular and not compared
    assert rel(T[:2], T0[:2]) < 1e-10


@pytest.mark.parametrize("kind", ["vertex", "edge", "face"])
def test_singular_stations_are_finite_and_continuous(kind):
    P = {"vertex": TET[3], "edge": 0.5 * (TET[0] + TET[2]), "face": TET[[1, 2, 3]].mean(axis=0)}[kind]
    g, T = fields(TET, np.array([[0, 1, 2, 3]]), P)
    assert np.isfinite(g).all() and np.isfinite(T).all()
    direction = np.array([0.3, -0.5, 0.8]) / np.linalg.norm([0.3, -0.5, 0.8])
    for delta in (1e-6, 1e-9):
        g2, _ = fields(TET, np.array([[0, 1, 2, 3]]), P + delta * direction)
        # g is continuous; near an edge it varies as delta log(1/delta)
        assert np.abs(g2 - g).max() < 10 * delta * math.log(1 / delta) + 1e-13


PRISM = (np.array([-30.0, -20.0, -60.0]), np.array([40.0, 25.0, -10.0]))


def _prism_stations():
    lo, hi = PRISM
    c = 0.5 * (lo + hi)
    above = [[c[0], c[1], hi[2] + 5.0], [lo[0] - 3.0, hi[1] + 2.0, hi[2] + 1.0], [c[0], c[1], 100.0]]
    beside = [[hi[0] + 4.0, c[1], c[2]], [c[0], lo[1] - 0.5, -35.0], [lo[0] - 20.0, lo[1] - 20.0, lo[2] - 7.0]]
    on = [[c[0], c[1], hi[2]], [hi[0], c[1], c[2]], [lo[0], lo[1], c[2]], [c[0], hi[1], hi[2]], hi.tolist(),
          lo.tolist()]
    return np.array(above + beside), np.array(on)


def test_prism_of_tetrahedra_matches_nagy():
    """Stations above and beside the prism (g and T), and on a face, an edge and a
    vertex (g; the tensor is discontinuous or singular there)."""
    lo, hi = PRISM
    verts, tets = prism_tetrahedra(lo, hi)
    off, on = _prism_stations()
    g, T = fields(verts, tets, off)
    for k, P in enumerate(off):
        assert rel(g[k], prism_attraction(lo, hi, P)) < 1e-8
        assert rel(T[k], prism_tensor(lo, hi, P)) < 1e-8
    g, _ = fields(verts, tets, on)
    for k, P in enumerate(on):
        assert rel(g[k], prism_attraction(lo, hi, P)) < 1e-8


def test_tensor_on_the_top_face_is_the_limit_from_above():
    """A station on the top face sees the gradient just above it (in the air), where
    T jumps by 4 pi n n^T across the face."""
    lo, hi = PRISM
    verts, tets = prism_tetrahedra(lo, hi)
    P = np.array([0.3 * lo[0] + 0.7 * hi[0], 0.5 * (lo[1] + hi[1]), hi[2]])
    _, T = fields(verts, tets, P)
    above = prism_tensor(lo, hi, P + [0.0, 0.0, 1e-9])
    assert rel(T[0], above) < 1e-6
    assert abs(T[0][2, 2] - prism_tensor(lo, hi, P - [0.0, 0.0, 1e-9])[2, 2] - 4 * math.pi) < 1e-6
