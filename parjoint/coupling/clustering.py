"""Fuzzy c-means clustering of several properties (Sun & Li 2011, 2016; seed eq. 12).

With the properties of cell j scaled to comparable units, m_j = ((p_1 - shift_1) / scale_1,
...), cluster centres v_k (in the same scaled units) and memberships u_jk,

    phi = sum_j w_j sum_k u_jk^q |m_j - v_k|^2,   w_j = V_j / mean(V)

The memberships are the standard fuzzy c-means ones for the current model and
centres, u_jk = 1 / sum_l (|m_j - v_k| / |m_j - v_l|)^(2/(q-1)), refreshed at the start
of each outer iteration (``update``) and held fixed within it, so the term is a
weighted least-squares pull of every cell towards its clusters, with gradient
2 w_j sum_k u_jk^q (m_j - v_k) / scale and Gauss-Newton Hessian 2 w_j sum_k u_jk^q / scale^2.

Centre modes:

* ``fixed``: petrophysical centres, never moved;
* ``guided``: each update moves the centres to the membership-weighted means of the
  current model, clipped to the given bounds around the petrophysical centres (Sun &
  Li 2016);
* ``adaptive``: the number and positions of the clusters come from the current
  model by density peaks (Rodriguez & Laio 2014, as in XG-FCM of Zhang R. et al.
  2024): on a partition-independent sample of cells, the local density rho (cells
  within ``cutoff``) and the distance delta to the nearest denser cell are computed;
  cells with rho delta above ``peak_factor`` times its median and delta above
  ``cutoff`` are centres.

Memberships are an output: ``lithology(x)`` gives the most likely cluster per cell.
"""

from __future__ import annotations

import numpy as np

from ..inversion.layout import ModelLayout
from ..inversion.terms import Term
from .structure import _Pair

MODES = ("fixed", "guided", "adaptive")


class FuzzyCMeans(Term):
    def __init__(self, layout: ModelLayout, blocks: list[str], centres: np.ndarray, *, q: float = 2.0,
                 shift=None, scale=None, mode: str = "fixed", bounds: np.ndarray | None = None,
                 cutoff: float = 0.5, peak_factor: float = 10.0, sample: int = 2000):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        if q <= 1.0:
            raise ValueError("the fuzziness q must exceed 1")
        self.name = f"fcm({','.join(blocks)})"
        self.blocks = list(blocks)
        self.layout = layout
        self.group = _Pair(layout, blocks)
        self.n_props = len(blocks)
        self.shift = np.zeros(self.n_props) if shift is None else np.asarray(shift, float)
        self.scale = np.ones(self.n_props) if scale is None else np.asarray(scale, float)
        self.centres = self._scaled(np.atleast_2d(np.asarray(centres, float)))
        self.anchors = self.centres.copy()
        self.bounds = None if bounds is None else np.asarray(bounds, float) / self.scale
        self.q, self.mode = q, mode
        self.cutoff, self.peak_factor, self.sample = cutoff, peak_factor, sample
        n_common = layout.comm.allreduce(int(self.group.common.sum()))
        if len(self.centres) > n_common:
            raise ValueError(f"{len(self.centres)} clusters for {n_common} cells: more clusters than cells")
        self.w = self.group.v
        self.u = None

    def _scaled(self, physical: np.ndarray) -> np.ndarray:
        return (physical - self.shift) / self.scale

    def points(self, x) -> np.ndarray:
        """Scaled property vectors of the common cells (n_common, n_props)."""
        mask = self.group.common
        return np.column_stack([self.group.cells(x, k)[mask] for k in range(self.n_props)])

    def memberships(self, x, centres=None) -> np.ndarray:
        m = self._scaled_points(x)
        c = self.centres if centres is None else centres
        d2 = np.maximum(((m[:, None, :] - c[None, :, :]) ** 2).sum(axis=2), 1e-300)
        inv = d2 ** (-1.0 / (self.q - 1.0))
        return inv / inv.sum(axis=1, keepdims=True)

    def _scaled_points(self, x):
        return (self.points(x) - self.shift) / self.scale

    def update(self, x):
        if self.mode == "adaptive":
            self.centres = self._density_peaks(self._scaled_points(x))
        self.u = self.memberships(x)
        if self.mode == "guided":
            uq = self.u ** self.q
            comm = self.layout.comm
            num = comm.allreduce(uq.T @ self._scaled_points(x))
            den = comm.allreduce(uq.sum(axis=0))
            centres = num / np.maximum(den, 1e-300)[:, None]
            if self.bounds is not None:
                centres = np.clip(centres, self.anchors - self.bounds, self.anchors + self.bounds)
            self.centres = centres
            self.u = self.memberships(x)

    def _weights(self, x):
        if self.u is None:
            self.update(x)
        return self.u ** self.q

    def value(self, x):
        m = self._scaled_points(x)
        d2 = ((m[:, None, :] - self.centres[None, :, :]) ** 2).sum(axis=2)
        return float(self.layout.comm.allreduce(float(np.sum(self.w[:, None] * self._weights(x) * d2))))

    def gradient(self, x):
        m = self._scaled_points(x)
        uq = self._weights(x)
        g = 2.0 * self.w[:, None] * (uq.sum(axis=1)[:, None] * m - uq @ self.centres)
        return self._place(g)

    def hessvec(self, x, v):
        uq = self._weights(x)
        dv = np.column_stack([self.group.cells(v, k)[self.group.common] for k in range(self.n_props)])
        return self._place(2.0 * (self.w * uq.sum(axis=1))[:, None] * dv / self.scale)

    def _place(self, scaled_grad: np.ndarray) -> np.ndarray:
        """Gradient w.r.t. scaled points (n_common, P) -> flat vector (chain through 1/scale)."""
        mask = self.group.common
        parts = []
        for k in range(self.n_props):
            f = np.zeros(self.layout.mesh.n_cells)
            f[mask] = scaled_grad[:, k] / self.scale[k]
            parts.append(f)
        return self.group.place(parts)

    def lithology(self, x) -> np.ndarray:
        """Most likely cluster of each owned cell (-1 outside the common cells)."""
        out = np.full(self.layout.mesh.n_cells, -1)
        out[self.group.common] = np.argmax(self.memberships(x), axis=1)
        return out

    def _density_peaks(self, m: np.ndarray) -> np.ndarray:
        """Cluster centres by density peaks on a sample chosen by cell file index."""
        comm = self.layout.comm
        mesh = self.layout.mesh
        ids = mesh.cell_original[self.group.common]
        n_total = mesh.n_cells_global
        stride = max(1, n_total // self.sample)
        pick = ids % stride == 0
        rows = comm.gather(np.column_stack([ids[pick], m[pick]]))
        centres = None
        if comm.rank == 0:
            data = np.concatenate(rows)
            data = data[np.argsort(data[:, 0])][:, 1:]
            d = np.sqrt(((data[:, None, :] - data[None, :, :]) ** 2).sum(axis=2))
            rho = (d < self.cutoff).sum(axis=1) - 1.0
            order = np.argsort(-rho, kind="stable")
            ds = d[np.ix_(order, order)]
            denser = np.tril(np.ones_like(ds, dtype=bool), k=-1)  # row k: the points ranked before k
            delta_sorted = np.where(denser, ds, np.inf).min(axis=1)
            delta_sorted[0] = ds[0].max()
            delta = np.empty(len(data))
            delta[order] = delta_sorted
            gamma = rho * delta
            peaks = (gamma > self.peak_factor * np.median(gamma)) & (delta > self.cutoff)
            centres = data[peaks] if peaks.any() else data[[order[0]]]
        centres = comm.bcast(centres)
        return centres
