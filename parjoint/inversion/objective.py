"""The joint objective: weighted data misfits plus beta times weighted regularization.

    Phi(x) = sum_k lambda_k phi_d,k(x) + sum_j beta_b(j) alpha_j phi_m,j(x) + sum_l gamma_l phi_c,l(x)
    Phi(x) = prod_k (phi_d,k(x) / N_k) + sum_j beta_b(j) alpha_j phi_m,j(x) + sum_l gamma_l phi_c,l(x)

lambda_k are the dataset weights (see :mod:`parjoint.inversion.weighting`), alpha_j
the regularization weights, beta_b the trade-off of the model block b that term j
regularizes (one per block, so that each block's data can reach their own target
however different the physics), gamma_l the weights of the coupling
terms (:mod:`parjoint.coupling`), which beta does not scale: cooling the
regularization must not loosen the coupling.  The multiplicative form (Abubakar et
al. 2011) balances data sets without weights: a relative decrease of any misfit
decreases the product equally.  Its Gauss-Newton Hessian keeps the positive part
sum_k (P / phi_k) H_k, P the product.
"""

from __future__ import annotations

import time

import numpy as np

from .layout import ModelLayout
from .terms import DataMisfit, Term


class JointObjective:
    def __init__(self, layout: ModelLayout, data: list[DataMisfit], regularization: list[tuple[float, Term]],
                 beta: float | dict = 1.0, multiplicative: bool = False,
                 coupling: list[tuple[float, Term]] | None = None):
        self.layout, self.data, self.regularization = layout, data, regularization
        self.coupling = coupling or []
        self.data_weights = np.ones(len(data))
        self.beta = self.beta_dict(beta)
        self.data_scale: dict[str, float] = {}  #: per block, mean diagonal of the data Hessian
        self.multiplicative = multiplicative
        self.coupling_seconds = 0.0  #: wall time spent in coupling terms (benchmarks report its share)

    def beta_dict(self, beta: float | dict) -> dict[str, float]:
        """beta per model block (a number applies to every block)."""
        if isinstance(beta, dict):
            return {name: float(beta.get(name, 1.0)) for name in self.layout.blocks}
        return {name: float(beta) for name in self.layout.blocks}

    def update(self, x: np.ndarray) -> None:
        for term in self.data:
            term.update(x)
        for _, term in self.regularization:
            term.update(x)
        t0 = time.perf_counter()
        for _, term in self.coupling:
            term.update(x)
        self.coupling_seconds += time.perf_counter() - t0

    # -- parts ----------------------------------------------------------------------------
    def data_values(self, x) -> np.ndarray:
        return np.array([term.value(x) for term in self.data])

    def _beta(self, term) -> float:
        return self.beta[term.block.name]

    def regularization_value(self, x, weighted: bool = False) -> float:
        """sum_j alpha_j phi_m,j (times each term's beta when ``weighted``)."""
        return float(sum(a * (self._beta(term) if weighted else 1.0) * term.value(x)
                         for a, term in self.regularization))

    def coupling_value(self, x) -> float:
        t0 = time.perf_counter()
        value = float(sum(g * term.value(x) for g, term in self.coupling))
        self.coupling_seconds += time.perf_counter() - t0
        return value

    def regularization_gradient(self, x, block: str | None = None) -> np.ndarray:
        """Gradient of the beta-weighted regularization (only ``block``'s terms, unweighted, if given)."""
        g = self.layout.zeros()
        for a, term in self.regularization:
            if block is None:
                g += a * self._beta(term) * term.gradient(x)
            elif term.block.name == block:
                g += a * term.gradient(x)
        return g

    def regularization_hessvec(self, x, v, block: str | None = None) -> np.ndarray:
        h = self.layout.zeros()
        for a, term in self.regularization:
            if block is None:
                h += a * self._beta(term) * term.hessvec(x, v)
            elif term.block.name == block:
                h += a * term.hessvec(x, v)
        return h

    def _data_factors(self, x) -> np.ndarray:
        """The weight each data term's gradient and Hessian carry in the objective."""
        if not self.multiplicative:
            return self.data_weights
        phi = self.data_values(x)
        n = np.array([t.n_data for t in self.data], float)
        product = float(np.prod(phi / n))
        return product / np.maximum(phi, 1e-300)

    # -- the objective ----------------------------------------------------------------------
    def value(self, x) -> float:
        phi = self.data_values(x)
        if self.multiplicative:
            data = float(np.prod(phi / np.array([t.n_data for t in self.data], float)))
        else:
            data = float(np.dot(self.data_weights, phi))
        return data + self.regularization_value(x, weighted=True) + self.coupling_value(x)

    def gradient(self, x) -> np.ndarray:
        g = self.regularization_gradient(x)
        t0 = time.perf_counter()
        for gamma, term in self.coupling:
            g += gamma * term.gradient(x)
        self.coupling_seconds += time.perf_counter() - t0
        for f, term in zip(self._data_factors(x), self.data):
            g += f * term.gradient(x)
        return g

    def hessvec(self, x, v) -> np.ndarray:
        h = self.regularization_hessvec(x, v)
        t0 = time.perf_counter()
        for gamma, term in self.coupling:
            h += gamma * term.hessvec(x, v)
        self.coupling_seconds += time.perf_counter() - t0
        for f, term in zip(self._data_factors(x), self.data):
            h += f * term.hessvec(x, v)
        return h

    def preconditioner(self) -> np.ndarray:
        """A diagonal approximation of the Hessian for conjugate gradients: per block the
        mean diagonal of its weighted data Hessian (``data_scale``, estimated with beta)
        plus beta times the exact diagonal of its regularization.  It balances blocks of
        different physics and the depth weighting inside a block."""
        d = self.layout.zeros()
        for a, term in self.regularization:
            diag = term.diagonal()
            if diag is not None:
                d += a * self._beta(term) * diag
        for name, block in self.layout.blocks.items():
            d[block.slice] += self.data_scale.get(name, 0.0)
        return np.where(d > 0, d, 1.0)

    def data_hessvec(self, x, v, block: str | None = None) -> np.ndarray:
        """The data part only (for the beta estimate): of the data sets on ``block`` if given."""
        h = self.layout.zeros()
        for f, term in zip(self._data_factors(x), self.data):
            if block is None or term.block.name == block:
                h += f * term.hessvec(x, v)
        return h
