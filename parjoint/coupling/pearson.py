"""Local Pearson correlation coupling (Yin et al. 2018; seed eq. 10).

For every cell c active in both blocks, its subdomain is the set of cells within
``rings`` face-neighbour steps (itself included) that are active in both blocks.
With S_ab = sum_i (a_i - mean a)(b_i - mean b) over the subdomain, the local
correlation is rho_c = S_ab / sqrt(S_aa S_bb) and

    phi = sum_c v_c (1 - rho_c^2) = sum_c v_c S_res,c / S_aa,c,   S_res = S_aa - S_ab^2 / S_bb,

zero where the two properties are linearly related (either slope) in every
subdomain.  ``epsilon`` (e_a, e_b; property units squared) is added to S_aa and S_bb:
where a property is nearly constant its correlation is undefined and the exact
curvature, of order 1/S_aa, would freeze the models; with the floors such subdomains
count as uncorrelated and stay soft.  Subdomains crossing rank boundaries: the subdomain is defined on the
global mesh (face-neighbour rings, :func:`parjoint.mesh.fetch.neighbour_rings`) and
its values are fetched from the owning ranks, so it is the same on any partition;
each subdomain's term is computed by the owner of its centre cell.  Subdomains with
fewer than three cells, or with a constant property, contribute nothing.
Gauss-Newton Hessian: 2 v / S_aa J_r^T J_r for the residual r = P a - kappa P b of the
local linear fit (P centres on the subdomain, kappa = S_ab / S_bb held fixed).
"""

from __future__ import annotations

import numpy as np

from ..inversion.layout import ModelLayout
from ..inversion.terms import Term
from ..mesh.fetch import CellFetcher, neighbour_rings
from .gradient import _jit
from .structure import _Pair


@_jit
def _scatter_add(index, values, out):
    for i in range(len(index)):
        for k in range(values.shape[1]):
            out[index[i], k] += values[i, k]


@_jit
def _gauss_newton(start, where, vab, kappa, coef, out):
    """Per subdomain c (members start[c]:start[c+1], values vab[where[i]]): r = P va - kappa_c P vb,
    y = coef_c r, out[:, 0] = P y and out[:, 1] = -kappa_c P y (P: subtract the subdomain mean)."""
    for c in range(len(start) - 1):
        s, e = start[c], start[c + 1]
        if e == s:
            continue
        ma = 0.0
        mb = 0.0
        for i in range(s, e):
            ma += vab[where[i], 0]
            mb += vab[where[i], 1]
        ma /= e - s
        mb /= e - s
        my = 0.0
        for i in range(s, e):
            out[i, 0] = coef[c] * ((vab[where[i], 0] - ma) - kappa[c] * (vab[where[i], 1] - mb))
            my += out[i, 0]
        my /= e - s
        for i in range(s, e):
            out[i, 0] -= my
            out[i, 1] = -kappa[c] * out[i, 0]


class LocalPearson(Term):
    def __init__(self, layout: ModelLayout, block_a: str, block_b: str, rings: int = 2, epsilon=(0.0, 0.0)):
        if rings < 1:
            raise ValueError("rings must be at least 1")
        self.name = f"local_pearson({block_a},{block_b})"
        self.blocks = [block_a, block_b]
        self.layout = layout
        self.pair = _Pair(layout, [block_a, block_b])
        mesh = layout.mesh
        offsets, ids = neighbour_rings(mesh, rings)
        self.members, where = np.unique(ids, return_inverse=True)
        self.fetcher = CellFetcher(mesh, self.members)
        common = self.fetcher.fetch(self.pair.common.astype(float))[where] > 0.5
        rows = np.repeat(np.arange(mesh.n_cells), np.diff(offsets))
        keep = common & self.pair.common[rows]
        self.rows, self.where = rows[keep], where[keep]
        self.count = np.bincount(self.rows, minlength=mesh.n_cells).astype(float)
        self.start = np.concatenate([[0], np.cumsum(self.count.astype(np.int64))])  # rows are sorted
        self.v = np.zeros(mesh.n_cells)
        self.v[self.pair.common] = self.pair.v
        self.epsilon = np.asarray(epsilon, float)

    def _stats(self, x):
        """Per-member centred values and per-subdomain sums of the last model asked for
        (every CG step asks again)."""
        cached = getattr(self, "_cache", None)
        if cached is not None and cached[0].shape == x.shape and np.array_equal(cached[0], x):
            return cached[1]
        stats = self._compute_stats(x)
        self._cache = (np.array(x, copy=True), stats)
        return stats

    def _compute_stats(self, x):
        ab = self.fetcher.fetch(np.column_stack([self.pair.cells(x, 0), self.pair.cells(x, 1)]))[self.where]
        a, b = ab[:, 0], ab[:, 1]
        n = self.layout.mesh.n_cells
        cnt = np.maximum(self.count, 1.0)
        da = a - (np.bincount(self.rows, weights=a, minlength=n) / cnt)[self.rows]
        db = b - (np.bincount(self.rows, weights=b, minlength=n) / cnt)[self.rows]
        saa = np.bincount(self.rows, weights=da * da, minlength=n) + self.epsilon[0]
        sbb = np.bincount(self.rows, weights=db * db, minlength=n) + self.epsilon[1]
        sab = np.bincount(self.rows, weights=da * db, minlength=n)
        ok = (self.count >= 3) & (saa > 1e-300) & (sbb > 1e-300)
        return da, db, np.where(ok, saa, 1.0), np.where(ok, sbb, 1.0), np.where(ok, sab, 0.0), ok

    def correlation(self, x) -> np.ndarray:
        """rho_c for every owned cell (NaN where undefined)."""
        _, _, saa, sbb, sab, ok = self._stats(x)
        return np.where(ok, sab / np.sqrt(saa * sbb), np.nan)

    def value(self, x):
        _, _, saa, sbb, sab, ok = self._stats(x)
        local = np.where(ok, self.v * (1.0 - sab * sab / (saa * sbb)), 0.0)
        return float(self.layout.comm.allreduce(float(local.sum())))

    def _to_cells(self, per_member: np.ndarray) -> np.ndarray:
        """Sum per-member values (n_pairs[, k]) onto the owned cells, through their owners."""
        values = np.ascontiguousarray(per_member, dtype=np.float64)
        sums = np.zeros((len(self.members), 1 if values.ndim == 1 else values.shape[1]))
        _scatter_add(self.where, values.reshape(len(values), -1), sums)
        out = self.fetcher.add(sums)
        return out[:, 0] if values.ndim == 1 else [out[:, k] for k in range(values.shape[1])]

    def gradient(self, x):
        da, db, saa, sbb, sab, ok = self._stats(x)
        rho = sab / np.sqrt(saa * sbb)
        f = np.where(ok, -2.0 * self.v * rho, 0.0)  # d(1 - rho^2) = -2 rho d rho
        r = self.rows
        # d rho / d a_i = (b_i - mean b) / sqrt(saa sbb) - rho (a_i - mean a) / saa (centring terms sum to 0)
        ga = f[r] * (db / np.sqrt(saa * sbb)[r] - rho[r] * da / saa[r])
        gb = f[r] * (da / np.sqrt(saa * sbb)[r] - rho[r] * db / sbb[r])
        return self.pair.place(self._to_cells(np.column_stack([ga, gb])))

    def hessvec(self, x, v):
        _, _, saa, sbb, sab, ok = self._stats(x)
        kappa = sab / sbb
        vab = self.fetcher.fetch(np.column_stack([self.pair.cells(v, 0), self.pair.cells(v, 1)]))
        out = np.empty((len(self.rows), 2))
        _gauss_newton(self.start, self.where, vab, kappa, np.where(ok, 2.0 * self.v / saa, 0.0), out)
        return self.pair.place(self._to_cells(out))
