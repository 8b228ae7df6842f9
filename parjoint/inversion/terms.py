"""Objective terms on the distributed inversion vector.

Every term has ``value(x)`` (collective), ``gradient(x)`` and the Gauss-Newton
``hessvec(x, v)`` on the local part of the flat vector (see
:class:`~parjoint.inversion.layout.ModelLayout`), and ``update(x)``, called once per
outer iteration (IRLS weights).  Conventions (no factor 1/2):

* data misfit   phi_d = sum_i w_i ((F_i(x) - d_i) / sd_i)^2,  chi^2 = the same with w = 1;
* smallness     phi_s = sum_c v_c (x_c - ref_c)^2,  v_c = weight_c * V_c / mean(V);
* smoothness    phi_x = sum_faces c_f (x_a - x_b)^2,  c_f = A_f / (d_ab h) (a_x n_x^2 + a_y n_y^2 + a_z n_z^2)
  with face area A_f, centroid distance d_ab and mean cell size h, so that it
  approximates the integral of |grad x|^2 / h whatever the grading of the mesh.

Faces between cells of different ranks are handled with the mesh's ghost cells;
each such face is seen by both ranks and counted half on each.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from .layout import ModelLayout
from .maps import Map

NORMS = ("l2", "huber", "l1")


class Term(ABC):
    """An objective term on the flat model vector: data misfit, regularization or coupling."""

    name = "term"
    is_data = False

    def update(self, x: np.ndarray) -> None:
        """Start of an outer iteration (IRLS re-weighting); nothing by default."""

    @abstractmethod
    def value(self, x: np.ndarray) -> float:
        """Collective: the term's value at x (the same on every rank)."""

    @abstractmethod
    def gradient(self, x: np.ndarray) -> np.ndarray:
        """Collective: d value / dx on the owned entries of x."""

    @abstractmethod
    def hessvec(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Collective: the (Gauss-Newton) Hessian at x times v."""

    def diagonal(self) -> np.ndarray | None:
        """The diagonal of the (constant) Hessian on the flat vector, if cheap; else None."""
        return None


class DataMisfit(Term):
    """A data set predicted by ``simulation`` from block ``block`` through ``model_map``.

    ``norm`` "l2", or "huber"/"l1" by iteratively reweighted least squares: the
    weights are refreshed from the residuals at each outer iteration (``update``),
    Huber with threshold ``threshold`` in units of the standard deviation.
    """

    is_data = True

    def __init__(self, name: str, simulation, layout: ModelLayout, block: str, model_map: Map,
                 observed: np.ndarray, sd: np.ndarray, norm: str = "l2", threshold: float = 1.345):
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}")
        self.name, self.simulation, self.layout = name, simulation, layout
        self.block = layout[block]
        self.map = model_map
        self.observed = np.asarray(observed, dtype=np.float64)
        self.sd = np.asarray(sd, dtype=np.float64)
        self.norm, self.threshold = norm, threshold
        self.weights = np.ones(len(self.observed))
        self.n_data = len(self.observed)

    def model(self, x: np.ndarray) -> np.ndarray:
        return self.map(x[self.block.slice])

    def predicted(self, x: np.ndarray) -> np.ndarray:
        return self.simulation.dpred(self.model(x))

    def residual(self, x: np.ndarray) -> np.ndarray:
        """(F(x) - d) / sd, replicated on every rank."""
        return (self.predicted(x) - self.observed) / self.sd

    def chi2(self, x: np.ndarray) -> float:
        return float(np.sum(self.residual(x) ** 2))

    def update(self, x: np.ndarray) -> None:
        if self.norm == "l2":
            return
        r = np.abs(self.residual(x))
        if self.norm == "huber":
            self.weights = np.where(r <= self.threshold, 1.0, self.threshold / np.maximum(r, 1e-300))
        else:
            self.weights = 1.0 / np.maximum(r, 1e-2)

    def value(self, x):
        return float(np.sum(self.weights * self.residual(x) ** 2))

    def gradient(self, x):
        xb = x[self.block.slice]
        w = 2.0 * self.weights * self.residual(x) / self.sd
        return self._place(self.map.deriv_t(xb, self.simulation.Jtvec(self.map(xb), w)))

    def hessvec(self, x, v):
        xb = x[self.block.slice]
        m = self.map(xb)
        Jv = self.simulation.Jvec(m, self.map.deriv(xb, v[self.block.slice]))
        return self._place(self.map.deriv_t(xb, self.simulation.Jtvec(m, 2.0 * self.weights * Jv / self.sd**2)))

    def _place(self, block_values: np.ndarray) -> np.ndarray:
        out = self.layout.zeros()
        out[self.block.slice] = block_values
        return out


class Smallness(Term):
    """Closeness to a reference model, volume-weighted (independent of cell sizes)."""

    def __init__(self, layout: ModelLayout, block: str, reference: np.ndarray, cell_weights=None):
        self.name = f"smallness({block})"
        self.layout, self.block = layout, layout[block]
        mesh = layout.mesh
        volume = mesh.volume[self.block.active]
        mean = layout.comm.allreduce(float(volume.sum())) / max(self.block.size_global, 1)
        self.v = volume / mean * (1.0 if cell_weights is None else np.asarray(cell_weights, float))
        self.reference = np.broadcast_to(np.asarray(reference, float), (self.block.size,)).copy()

    def value(self, x):
        d = x[self.block.slice] - self.reference
        return float(self.layout.comm.allreduce(float(np.sum(self.v * d * d))))

    def gradient(self, x):
        out = self.layout.zeros()
        out[self.block.slice] = 2.0 * self.v * (x[self.block.slice] - self.reference)
        return out

    def hessvec(self, x, v):
        out = self.layout.zeros()
        out[self.block.slice] = 2.0 * self.v * v[self.block.slice]
        return out

    def diagonal(self):
        out = self.layout.zeros()
        out[self.block.slice] = 2.0 * self.v
        return out


class Smoothness(Term):
    """First-order smoothness from face-neighbour differences (see the module docstring)."""

    def __init__(self, layout: ModelLayout, block: str, anisotropy=(1.0, 1.0, 1.0), cell_weights=None,
                 reference: np.ndarray | None = None):
        self.name = f"smoothness({block})"
        self.layout, self.block = layout, layout[block]
        mesh = layout.mesh
        nc = mesh.n_cells
        active = self.block.active
        index = np.full(nc, -1)
        index[active] = np.arange(self.block.size)
        weights = np.ones(nc)
        if cell_weights is not None:
            weights[active] = cell_weights
        active_all = mesh.ghost_values(active.astype(np.int64)).astype(bool)
        weights_all = mesh.ghost_values(weights)
        cells, k = np.nonzero(mesh.cell_neighbors >= 0)
        other = mesh.cell_neighbors[cells, k]
        keep = active[cells] & active_all[other]
        cells, k, other = cells[keep], k[keep], other[keep]
        local = other < nc
        # local faces appear twice (once from each cell): keep one; cross-rank faces once here
        keep = ~local | (cells < other)
        cells, k, other = cells[keep], k[keep], other[keep]
        faces = mesh.cell_faces[cells, k]
        centroids = mesh.ghost_values(mesh.centroid)
        dist = np.linalg.norm(centroids[other] - mesh.centroid[cells], axis=1)
        n = mesh.face_normal[faces]
        ax, ay, az = anisotropy
        h = np.cbrt(layout.comm.allreduce(float(mesh.volume[active].sum())) / max(self.block.size_global, 1))
        coef = mesh.face_area[faces] / (dist * h) * (ax * n[:, 0] ** 2 + ay * n[:, 1] ** 2 + az * n[:, 2] ** 2)
        coef *= 0.5 * (weights_all[cells] + weights_all[other])
        self.a = index[cells]
        self.cross = other >= nc  # the other cell is a ghost
        self.b_local = np.where(self.cross, 0, index[np.minimum(other, nc - 1)])
        self.b_ghost = np.where(self.cross, other - nc, 0)
        self.coef = coef
        self.count = np.where(self.cross, 0.5, 1.0)  # cross-rank faces are seen from both sides
        self.reference = None if reference is None else np.asarray(reference, float)

    def _differences(self, xb: np.ndarray) -> np.ndarray:
        """x_a - x_b for every face (ghost values fetched from their owners)."""
        mesh = self.layout.mesh
        cells = np.zeros(mesh.n_cells)
        cells[self.block.active] = xb
        ghosts = mesh.ghost_values(cells)[mesh.n_cells:]
        other = np.empty(len(self.a))
        other[self.cross] = ghosts[self.b_ghost[self.cross]]
        other[~self.cross] = xb[self.b_local[~self.cross]]
        return xb[self.a] - other

    def _block(self, x):
        xb = x[self.block.slice]
        return xb if self.reference is None else xb - self.reference

    def value(self, x):
        d = self._differences(self._block(x))
        return float(self.layout.comm.allreduce(float(np.sum(self.count * self.coef * d * d))))

    def _apply(self, xb: np.ndarray) -> np.ndarray:
        """2 L xb: the gradient of the quadratic form for the block values xb."""
        d = 2.0 * self.coef * self._differences(xb)
        g = np.bincount(self.a, weights=d, minlength=self.block.size)
        local = ~self.cross
        g -= np.bincount(self.b_local[local], weights=d[local], minlength=self.block.size)
        return g

    def gradient(self, x):
        out = self.layout.zeros()
        out[self.block.slice] = self._apply(self._block(x))
        return out

    def hessvec(self, x, v):
        out = self.layout.zeros()
        out[self.block.slice] = self._apply(v[self.block.slice])
        return out

    def diagonal(self):
        d = np.bincount(self.a, weights=2.0 * self.coef, minlength=self.block.size)
        local = ~self.cross
        d += np.bincount(self.b_local[local], weights=2.0 * self.coef[local], minlength=self.block.size)
        out = self.layout.zeros()
        out[self.block.slice] = d
        return out


def power_iteration(layout: ModelLayout, hessvec, iterations: int = 12, seed: int = 0) -> float:
    """Largest eigenvalue of a symmetric positive semi-definite operator (collective).

    The start vector depends on the cells' file indices only, so the estimate is the
    same on any number of ranks.
    """
    mesh = layout.mesh
    rng_values = np.random.default_rng(seed).standard_normal(mesh.n_cells_global)
    v = layout.join({name: rng_values[mesh.cell_original[b.active]] for name, b in layout.blocks.items()})
    v /= layout.norm(v)
    lam = 0.0
    for _ in range(iterations):
        w = hessvec(v)
        lam = layout.dot(v, w)
        norm = layout.norm(w)
        if norm == 0.0:
            return 0.0
        v = w / norm
    return float(lam)
