"""Structural couplings: cross-gradient (Gallardo & Meju 2003) and Gramian (Zhdanov et al. 2012).

Cross-gradient of blocks a and b, on the cells active in both:

    phi = sum_c v_c |t_c|^2,  t_c = grad a_c x grad b_c,  v_c = V_c / mean(V)

with the least-squares cell gradients of :mod:`parjoint.coupling.gradient`.  It is zero
where the gradients are parallel (or either vanishes): the models share their
structure.  Gradient: dphi/da = G^T (2 v (|g_b|^2 g_a - (g_a.g_b) g_b)); the Gauss-Newton
Hessian is 2 J_t^T v J_t with J_t dm = (G da) x g_b + g_a x (G db).

Gramian of properties m_1..m_n (optionally transformed, T m = (m - shift) / scale):

    phi = det(Gram),  Gram_ij = (m_i, m_j) = sum_c w_c m_i,c m_j,c,  w_c = V_c / sum(V)

zero when the properties are linearly dependent (a relation of any slope holds).
With ``structural = true`` the inner product is that of the cell gradients,
sum_c v_c grad m_i . grad m_j: zero when the gradients are everywhere parallel.
Gradient: dphi/dm_k = 2 W sum_j adj(Gram)_kj m_j (adjugate, so it stays defined when
Gram is singular).  Gauss-Newton Hessian: the positive semi-definite diagonal blocks
2 [det(Gram_-k) W - W X_-k adj(Gram_-k) X_-k^T W], Gram_-k without property k.
"""

from __future__ import annotations

import numpy as np

from ..inversion.layout import ModelLayout
from ..inversion.terms import Term
from .gradient import CellGradient, _jit


@_jit
def _cross_gauss_newton(ga, gb, da, db, w, out):
    """Per cell: j = w (da x gb + ga x db), out[:, :, 0] = gb x j, out[:, :, 1] = j x ga."""
    for c in range(ga.shape[0]):
        a0, a1, a2 = ga[c, 0], ga[c, 1], ga[c, 2]
        b0, b1, b2 = gb[c, 0], gb[c, 1], gb[c, 2]
        u0, u1, u2 = da[c, 0], da[c, 1], da[c, 2]
        v0, v1, v2 = db[c, 0], db[c, 1], db[c, 2]
        j0 = w[c] * (u1 * b2 - u2 * b1 + a1 * v2 - a2 * v1)
        j1 = w[c] * (u2 * b0 - u0 * b2 + a2 * v0 - a0 * v2)
        j2 = w[c] * (u0 * b1 - u1 * b0 + a0 * v1 - a1 * v0)
        out[c, 0, 0] = b1 * j2 - b2 * j1
        out[c, 1, 0] = b2 * j0 - b0 * j2
        out[c, 2, 0] = b0 * j1 - b1 * j0
        out[c, 0, 1] = j1 * a2 - j2 * a1
        out[c, 1, 1] = j2 * a0 - j0 * a2
        out[c, 2, 1] = j0 * a1 - j1 * a0


@_jit
def _gram_combine(f, dv, w, a, C, out):
    """Per row r (a cell, or a cell's gradient component) and property k:
    out[r, k] = 2 w[r] (a[k] dv[r, k] - sum_j C[j, k] f[r, j])."""
    n = f.shape[1]
    for r in range(f.shape[0]):
        for k in range(n):
            s = a[k] * dv[r, k]
            for j in range(n):
                s -= C[j, k] * f[r, j]
            out[r, k] = 2.0 * w[r] * s


@_jit
def _gram_inners(f, g, w, out):
    """out[i, j] = sum_r w[r] f[r, i] g[r, j]."""
    n = f.shape[1]
    out[:, :] = 0.0
    for r in range(f.shape[0]):
        for i in range(n):
            wf = w[r] * f[r, i]
            for j in range(n):
                out[i, j] += wf * g[r, j]


def _volume_weights(layout: ModelLayout, mask: np.ndarray) -> np.ndarray:
    mesh = layout.mesh
    vol = mesh.volume[mask]
    total = layout.comm.allreduce(float(vol.sum()))
    count = layout.comm.allreduce(int(mask.sum()))
    return vol / (total / max(count, 1))


class _Pair:
    """Two or more blocks on the cells they share, as per-cell fields on the owned cells."""

    def __init__(self, layout: ModelLayout, blocks: list[str]):
        self.layout = layout
        self.blocks = [layout[b] for b in blocks]
        self.common = np.logical_and.reduce([b.active for b in self.blocks])
        self.v = _volume_weights(layout, self.common)

    def cells(self, x: np.ndarray, k: int) -> np.ndarray:
        """Block k's values on all owned cells (zero outside the block)."""
        out = np.zeros(self.layout.mesh.n_cells)
        b = self.blocks[k]
        out[b.active] = x[b.slice]
        return out

    def place(self, parts: list[np.ndarray]) -> np.ndarray:
        """Per-cell derivative fields (one per block) into the flat vector."""
        out = self.layout.zeros()
        for b, field in zip(self.blocks, parts):
            out[b.slice] += field[b.active]
        return out


class CrossGradient(Term):
    """``scale`` (s_a, s_b): the properties enter as a / s_a and b / s_b, so that the weight of
    the term does not depend on their units (e.g. 1 for log conductivity, 100 for a density
    contrast in kg/m^3).

    ``normalized``: phi = sum_c v_c |t_c|^2 / ((|g_a|^2 + e_a^2)(|g_b|^2 + e_b^2)), the squared
    sine of the angle between the gradients where both exceed their ``epsilon`` (scaled
    units per metre).  The plain cross-gradient is a product of the gradients' sizes and
    can be lowered by flattening one model where the other has structure; the normalized
    one only asks for parallel gradients.  Its Gauss-Newton Hessian keeps the normalization
    fixed: 2 J_t^T (v / (A B)) J_t.
    """

    def __init__(self, layout: ModelLayout, block_a: str, block_b: str, scale=(1.0, 1.0), normalized: bool = False,
                 epsilon=(1e-3, 1e-3)):
        self.name = f"{'normalized_' if normalized else ''}cross_gradient({block_a},{block_b})"
        self.blocks = [block_a, block_b]
        self.pair = _Pair(layout, [block_a, block_b])
        self.layout = layout
        self.grad = CellGradient(layout.mesh, self.pair.common)
        self.weight = np.zeros(layout.mesh.n_cells)
        self.weight[self.pair.common] = self.pair.v
        self.scale = np.asarray(scale, float)
        self.normalized = normalized
        self.epsilon2 = np.asarray(epsilon, float) ** 2

    def _gradients(self, x):
        """(g_a, g_b) of the scaled properties, both from one ghost exchange; the last
        model's are kept, since every CG step of a Gauss-Newton iteration asks again."""
        cached = getattr(self, "_cache", None)
        if cached is not None and cached[0].shape == x.shape and np.array_equal(cached[0], x):
            return cached[1]
        g = self._pair_gradients(x)
        self._cache = (np.array(x, copy=True), g)
        return g

    def _pair_gradients(self, x):
        g = self.grad.apply(np.column_stack([self.pair.cells(x, 0) / self.scale[0],
                                             self.pair.cells(x, 1) / self.scale[1]]))
        return np.ascontiguousarray(g[:, :, 0]), np.ascontiguousarray(g[:, :, 1])

    def _norms(self, ga, gb):
        """A = |g_a|^2 + e_a^2 and B likewise (1 and 1 without normalization)."""
        if not self.normalized:
            return 1.0, 1.0
        return (np.einsum("ij,ij->i", ga, ga) + self.epsilon2[0]), (np.einsum("ij,ij->i", gb, gb) + self.epsilon2[1])

    def cross(self, x) -> np.ndarray:
        """t = grad a x grad b per owned cell (zero outside the common cells)."""
        ga, gb = self._gradients(x)
        return np.cross(ga, gb) * self.pair.common[:, None]

    def value(self, x):
        ga, gb = self._gradients(x)
        t = np.cross(ga, gb) * self.pair.common[:, None]
        A, B = self._norms(ga, gb)
        return float(self.layout.comm.allreduce(float(np.sum(self.weight * np.einsum("ij,ij->i", t, t) / (A * B)))))

    def gradient(self, x):
        ga, gb = self._gradients(x)
        A, B = self._norms(ga, gb)
        w = (2.0 * self.weight / (A * B))[:, None]
        dot = np.einsum("ij,ij->i", ga, gb)[:, None]
        ya = w * (np.einsum("ij,ij->i", gb, gb)[:, None] * ga - dot * gb)
        yb = w * (np.einsum("ij,ij->i", ga, ga)[:, None] * gb - dot * ga)
        if self.normalized:  # the normalization's own derivative: -2 v f a / A, -2 v f b / B
            t = np.cross(ga, gb)
            f = np.einsum("ij,ij->i", t, t) / (A * B)
            ya -= (2.0 * self.weight * f / A)[:, None] * ga
            yb -= (2.0 * self.weight * f / B)[:, None] * gb
        back = self.grad.transpose(np.stack([ya, yb], axis=2))
        return self.pair.place([back[:, 0] / self.scale[0], back[:, 1] / self.scale[1]])

    def hessvec(self, x, v):
        ga, gb = self._gradients(x)
        dv = self.grad.apply(np.column_stack([self.pair.cells(v, 0) / self.scale[0],
                                              self.pair.cells(v, 1) / self.scale[1]]))
        A, B = self._norms(ga, gb)
        # J_t^T y: for t = g_a x g_b, d t / d g_a^T y = g_b x y, d t / d g_b^T y = y x g_a
        y = np.empty((len(ga), 3, 2))
        w = np.broadcast_to(2.0 * self.weight / (A * B), self.weight.shape).astype(np.float64)
        _cross_gauss_newton(ga, gb, np.ascontiguousarray(dv[:, :, 0]), np.ascontiguousarray(dv[:, :, 1]), w, y)
        back = self.grad.transpose(y)
        return self.pair.place([back[:, 0] / self.scale[0], back[:, 1] / self.scale[1]])


class Gramian(Term):
    def __init__(self, layout: ModelLayout, blocks: list[str], structural: bool = False,
                 shift: list[float] | None = None, scale: list[float] | None = None):
        if len(blocks) < 2:
            raise ValueError("a Gramian needs at least two blocks")
        self.name = f"{'structural_' if structural else ''}gramian({','.join(blocks)})"
        self.blocks = list(blocks)
        self.layout = layout
        self.group = _Pair(layout, blocks)
        self.n = len(blocks)
        self.shift = np.zeros(self.n) if shift is None else np.asarray(shift, float)
        self.scale = np.ones(self.n) if scale is None else np.asarray(scale, float)
        self.structural = structural
        self.grad = CellGradient(layout.mesh, self.group.common) if structural else None
        self.w = np.zeros(layout.mesh.n_cells)  # volume fractions: Gram entries are mean products
        self.w[self.group.common] = self.group.v / max(layout.comm.allreduce(float(self.group.v.sum())), 1e-300)
        self._row_weights = np.repeat(self.w, 3) if structural else self.w  # one per row of _rows

    def _fields(self, x, shift=True) -> np.ndarray:
        """Transformed properties of the owned cells, (n_cells, n), or their gradients,
        (n_cells, 3, n), the last axis running over the properties."""
        cols = np.column_stack([((self.group.cells(x, k) - self.shift[k]) if shift else self.group.cells(x, k))
                                / self.scale[k] * self.group.common for k in range(self.n)])
        return self.grad.apply(cols) if self.structural else cols  # one ghost exchange for all

    def _state(self, x):
        """(fields, Gram matrix) of the last model asked for: every CG step asks again."""
        cached = getattr(self, "_cache", None)
        if cached is not None and cached[0].shape == x.shape and np.array_equal(cached[0], x):
            return cached[1]
        f = self._fields(x)
        state = (f, self._inners(f, f))
        self._cache = (np.array(x, copy=True), state)
        return state

    def _rows(self, f: np.ndarray) -> np.ndarray:
        """Fields as rows (cells, or cells x 3 gradient components) by properties."""
        return np.ascontiguousarray(f).reshape(-1, self.n)

    def _combine(self, f: np.ndarray, dv: np.ndarray, a: np.ndarray, C: np.ndarray) -> np.ndarray:
        """2 w (a_k dv_k - sum_j C[j, k] f_j) for every property k, shaped like ``f``."""
        out = np.empty(f.shape)  # C order: its rows are a view
        _gram_combine(self._rows(f), self._rows(dv), self._row_weights, a, C, self._rows(out))
        return out

    def _inners(self, f: np.ndarray, g: np.ndarray) -> np.ndarray:
        """[(f_i, g_j)] with one allreduce."""
        local = np.empty((self.n, self.n))
        _gram_inners(self._rows(f), self._rows(g), self._row_weights, local)
        return self.layout.comm.allreduce(local)

    def gram(self, x) -> np.ndarray:
        return self._state(x)[1]

    def value(self, x):
        return float(np.linalg.det(self.gram(x)))

    def _back(self, out: np.ndarray) -> np.ndarray:
        """Chain rule from d/d(transformed fields) to the flat vector."""
        if self.structural:  # all properties through one ghost exchange
            out = self.grad.transpose(np.ascontiguousarray(out))
        return self.group.place([out[:, k] * self.group.common / self.scale[k] for k in range(self.n)])

    def gradient(self, x):
        f, G = self._state(x)
        # d det(G) / d f_k = 2 sum_j adj(G)[k, j] w f_j
        return self._back(self._combine(f, f, np.zeros(self.n), -_adjugate(G).T))

    def hessvec(self, x, v):
        """Gauss-Newton-type product: d/df_k of the gradient with the Gram matrix of
        the other properties held, (2 w) [det(G_r) dv_k - sum_j (adj(G_r) (f_r, dv_k))_j f_j]."""
        f, G = self._state(x)
        dv = self._fields(v, shift=False)
        inner = self._inners(f, dv)  # inner[j, k] = (f_j, dv_k)
        det = np.empty(self.n)
        C = np.zeros((self.n, self.n))  # C[j, k]: coefficient of f_j in the k-th output
        for k in range(self.n):
            rest = [j for j in range(self.n) if j != k]
            G_rest = G[np.ix_(rest, rest)]
            det[k] = np.linalg.det(G_rest)
            C[rest, k] = _adjugate(G_rest) @ inner[rest, k]
        return self._back(self._combine(f, dv, det, C))


def _adjugate(a: np.ndarray) -> np.ndarray:
    """adj(A) (= det(A) A^-1), by cofactors so that it exists for singular A."""
    n = len(a)
    if n == 1:
        return np.ones((1, 1))
    out = np.empty_like(a)
    for i in range(n):
        for j in range(n):
            minor = np.delete(np.delete(a, i, axis=0), j, axis=1)
            out[j, i] = (-1) ** (i + j) * np.linalg.det(minor)
    return out
