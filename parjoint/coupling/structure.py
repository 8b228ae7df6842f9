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
from .gradient import CellGradient


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
    contrast in kg/m^3)."""

    def __init__(self, layout: ModelLayout, block_a: str, block_b: str, scale=(1.0, 1.0)):
        self.name = f"cross_gradient({block_a},{block_b})"
        self.blocks = [block_a, block_b]
        self.pair = _Pair(layout, [block_a, block_b])
        self.layout = layout
        self.grad = CellGradient(layout.mesh, self.pair.common)
        self.weight = np.zeros(layout.mesh.n_cells)
        self.weight[self.pair.common] = self.pair.v
        self.scale = np.asarray(scale, float)

    def _gradients(self, x):
        return (self.grad.apply(self.pair.cells(x, 0) / self.scale[0]),
                self.grad.apply(self.pair.cells(x, 1) / self.scale[1]))

    def cross(self, x) -> np.ndarray:
        """t = grad a x grad b per owned cell (zero outside the common cells)."""
        ga, gb = self._gradients(x)
        return np.cross(ga, gb) * self.pair.common[:, None]

    def value(self, x):
        t = self.cross(x)
        return float(self.layout.comm.allreduce(float(np.sum(self.weight * np.einsum("ij,ij->i", t, t)))))

    def gradient(self, x):
        ga, gb = self._gradients(x)
        w = 2.0 * self.weight[:, None]
        dot = np.einsum("ij,ij->i", ga, gb)[:, None]
        ya = w * (np.einsum("ij,ij->i", gb, gb)[:, None] * ga - dot * gb)
        yb = w * (np.einsum("ij,ij->i", ga, ga)[:, None] * gb - dot * ga)
        return self.pair.place([self.grad.transpose(ya) / self.scale[0], self.grad.transpose(yb) / self.scale[1]])

    def hessvec(self, x, v):
        ga, gb = self._gradients(x)
        da, db = self._gradients(v)
        jt = (np.cross(da, gb) + np.cross(ga, db)) * (2.0 * self.weight)[:, None]
        # J_t^T y: for t = g_a x g_b, d t / d g_a^T y = g_b x y, d t / d g_b^T y = y x g_a
        return self.pair.place([self.grad.transpose(np.cross(gb, jt)) / self.scale[0],
                                self.grad.transpose(np.cross(jt, ga)) / self.scale[1]])


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

    def _fields(self, x, shift=True):
        """Transformed properties per owned cell: (n, n_cells), or gradients (n, n_cells, 3)."""
        fields = []
        for k in range(self.n):
            f = self.group.cells(x, k)
            f = ((f - self.shift[k]) if shift else f) / self.scale[k] * self.group.common
            fields.append(self.grad.apply(f) if self.structural else f)
        return fields

    def _inner(self, a, b):
        prod = np.einsum("ij,ij->i", a, b) if self.structural else a * b
        return float(self.layout.comm.allreduce(float(np.sum(self.w * prod))))

    def gram(self, x) -> np.ndarray:
        f = self._fields(x)
        return np.array([[self._inner(f[i], f[j]) for j in range(self.n)] for i in range(self.n)])

    def value(self, x):
        return float(np.linalg.det(self.gram(x)))

    def _back(self, fields_out: list[np.ndarray]) -> np.ndarray:
        """Chain rule from d/d(transformed field) to the flat vector."""
        parts = []
        for k, f in enumerate(fields_out):
            g = self.grad.transpose(f) if self.structural else f
            parts.append(g * self.group.common / self.scale[k])
        return self.group.place(parts)

    def gradient(self, x):
        f = self._fields(x)
        adj = _adjugate(self.gram(x))
        out = []
        for k in range(self.n):
            s = sum(adj[k, j] * f[j] for j in range(self.n))
            out.append(2.0 * (self.w[:, None] if self.structural else self.w) * s)
        return self._back(out)

    def hessvec(self, x, v):
        f = self._fields(x)
        dv = self._fields(v, shift=False)
        G = self.gram(x)
        w = self.w[:, None] if self.structural else self.w
        out = []
        for k in range(self.n):
            rest = [j for j in range(self.n) if j != k]
            G_rest = G[np.ix_(rest, rest)]
            term = 2.0 * np.linalg.det(G_rest) * w * dv[k]
            adj = _adjugate(G_rest)
            proj = [self._inner(f[j], dv[k]) for j in rest]
            coeff = adj @ np.array(proj)
            term = term - 2.0 * w * sum(c * f[j] for c, j in zip(coeff, rest))
            out.append(term)
        return self._back(out)


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
