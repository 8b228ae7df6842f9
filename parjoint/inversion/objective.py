"""The joint objective: weighted data misfits plus beta times weighted regularization.

    Phi(x) = sum_k lambda_k phi_d,k(x) + beta sum_j alpha_j phi_m,j(x)      (additive)
    Phi(x) = prod_k (phi_d,k(x) / N_k) + beta sum_j alpha_j phi_m,j(x)    (multiplicative)

lambda_k are the dataset weights (see :mod:`parjoint.inversion.weighting`), alpha_j
the regularization weights, beta the trade-off.  The multiplicative form (Abubakar et
al. 2011) balances data sets without weights: a relative decrease of any misfit
decreases the product equally.  Its Gauss-Newton Hessian keeps the positive part
sum_k (P / phi_k) H_k, P the product.
"""

from __future__ import annotations

import numpy as np

from .layout import ModelLayout
from .terms import DataMisfit, Term


class JointObjective:
    def __init__(self, layout: ModelLayout, data: list[DataMisfit], regularization: list[tuple[float, Term]],
                 beta: float = 1.0, multiplicative: bool = False):
        self.layout, self.data, self.regularization = layout, data, regularization
        self.data_weights = np.ones(len(data))
        self.beta = beta
        self.multiplicative = multiplicative

    def update(self, x: np.ndarray) -> None:
        for term in self.data:
            term.update(x)
        for _, term in self.regularization:
            term.update(x)

    # -- parts ----------------------------------------------------------------------------
    def data_values(self, x) -> np.ndarray:
        return np.array([term.value(x) for term in self.data])

    def regularization_value(self, x) -> float:
        return float(sum(a * term.value(x) for a, term in self.regularization))

    def regularization_gradient(self, x) -> np.ndarray:
        g = self.layout.zeros()
        for a, term in self.regularization:
            g += a * term.gradient(x)
        return g

    def regularization_hessvec(self, x, v) -> np.ndarray:
        h = self.layout.zeros()
        for a, term in self.regularization:
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
        return data + self.beta * self.regularization_value(x)

    def gradient(self, x) -> np.ndarray:
        g = self.beta * self.regularization_gradient(x)
        for f, term in zip(self._data_factors(x), self.data):
            g += f * term.gradient(x)
        return g

    def hessvec(self, x, v) -> np.ndarray:
        h = self.beta * self.regularization_hessvec(x, v)
        for f, term in zip(self._data_factors(x), self.data):
            h += f * term.hessvec(x, v)
        return h

    def data_hessvec(self, x, v) -> np.ndarray:
        """The data part only (for the beta estimate)."""
        h = self.layout.zeros()
        for f, term in zip(self._data_factors(x), self.data):
            h += f * term.hessvec(x, v)
        return h
