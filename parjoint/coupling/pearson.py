"""Local Pearson correlation coupling (Yin et al. 2018; seed eq. 10).

For every cell c active in both blocks, its subdomain is the set of cells within
``rings`` face-neighbour steps (itself included) that are active in both blocks.
With S_ab = sum_i (a_i - mean a)(b_i - mean b) over the subdomain, the local
correlation is rho_c = S_ab / sqrt(S_aa S_bb) and

    phi = sum_c v_c (1 - rho_c^2) = sum_c v_c S_res,c / S_aa,c,   S_res = S_aa - S_ab^2 / S_bb,

zero where the two properties are linearly related (either slope) in every
subdomain.  Subdomains crossing rank boundaries: the subdomain is defined on the
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
from .structure import _Pair


class LocalPearson(Term):
    def __init__(self, layout: ModelLayout, block_a: str, block_b: str, rings: int = 2):
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
        self.v = np.zeros(mesh.n_cells)
        self.v[self.pair.common] = self.pair.v

    def _stats(self, x):
        a = self.fetcher.fetch(self.pair.cells(x, 0))[self.where]
        b = self.fetcher.fetch(self.pair.cells(x, 1))[self.where]
        n = self.layout.mesh.n_cells
        cnt = np.maximum(self.count, 1.0)
        da = a - (np.bincount(self.rows, weights=a, minlength=n) / cnt)[self.rows]
        db = b - (np.bincount(self.rows, weights=b, minlength=n) / cnt)[self.rows]
        saa = np.bincount(self.rows, weights=da * da, minlength=n)
        sbb = np.bincount(self.rows, weights=db * db, minlength=n)
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
        sums = np.bincount(self.where, weights=per_member, minlength=len(self.members))
        return self.fetcher.add(sums)

    def gradient(self, x):
        da, db, saa, sbb, sab, ok = self._stats(x)
        rho = sab / np.sqrt(saa * sbb)
        f = np.where(ok, -2.0 * self.v * rho, 0.0)  # d(1 - rho^2) = -2 rho d rho
        r = self.rows
        # d rho / d a_i = (b_i - mean b) / sqrt(saa sbb) - rho (a_i - mean a) / saa (centring terms sum to 0)
        ga = f[r] * (db / np.sqrt(saa * sbb)[r] - rho[r] * da / saa[r])
        gb = f[r] * (da / np.sqrt(saa * sbb)[r] - rho[r] * db / sbb[r])
        return self.pair.place([self._to_cells(ga), self._to_cells(gb)])

    def hessvec(self, x, v):
        da, db, saa, sbb, sab, ok = self._stats(x)
        kappa = sab / sbb
        n = self.layout.mesh.n_cells
        r = self.rows
        cnt = np.maximum(self.count, 1.0)
        va = self.fetcher.fetch(self.pair.cells(v, 0))[self.where]
        vb = self.fetcher.fetch(self.pair.cells(v, 1))[self.where]
        pa = va - (np.bincount(r, weights=va, minlength=n) / cnt)[r]
        pb = vb - (np.bincount(r, weights=vb, minlength=n) / cnt)[r]
        res = pa - kappa[r] * pb  # J_r v on each subdomain
        y = np.where(ok, 2.0 * self.v / saa, 0.0)[r] * res
        py = y - (np.bincount(r, weights=y, minlength=n) / cnt)[r]  # J_r^T: centring again
        return self.pair.place([self._to_cells(py), self._to_cells(-kappa[r] * py)])
