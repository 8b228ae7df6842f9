"""Dataset weights and the regularization trade-off (beta).

Dataset weights lambda_k (``scheme``):

* ``uniform``: 1 for every data set;
* ``sqrt-count``: sqrt(N_max / N_k), so a small data set is not drowned by a large one
  but does not count as much as a full re-weighting to equal size would make it
  (Qin et al. 2024);
* ``eigenvalue``: lambda_k = mu_1 / mu_k with mu_k the largest eigenvalue of data set
  k's Gauss-Newton Hessian (power iteration): every data set pulls with the same
  strength on its best-resolved model direction;
* ``adaptive``: starting from uniform, after each iteration lambda_k is multiplied by
  (chi^2_k / N_k)^(1/2) and renormalised to a geometric mean of one, so a data set
  still above its target gains weight and one below it loses weight: each reaches its
  own target (in the spirit of Lelievre et al. 2012);
* ``multiplicative``: no weights; the objective multiplies the normalised misfits
  (Abubakar et al. 2011, see :mod:`parjoint.inversion.objective`).

beta starts at ``ratio`` times the ratio of the largest eigenvalues of the data and
regularization Hessians, then is divided by ``cooling`` every ``rate`` iterations.
"""

from __future__ import annotations

import numpy as np

from .terms import power_iteration

SCHEMES = ("uniform", "sqrt-count", "eigenvalue", "adaptive", "multiplicative")


def initial_weights(objective, x: np.ndarray, scheme: str) -> np.ndarray:
    n = np.array([t.n_data for t in objective.data], float)
    if scheme in ("uniform", "adaptive", "multiplicative"):
        return np.ones(len(n))
    if scheme == "sqrt-count":
        return np.sqrt(n.max() / n)
    if scheme == "eigenvalue":
        mu = np.array([power_iteration(objective.layout, lambda v, t=t: t.hessvec(x, v)) for t in objective.data])
        return mu[0] / np.maximum(mu, 1e-300)
    raise ValueError(f"unknown weighting scheme {scheme!r}")


def adapt_weights(weights: np.ndarray, chi2_ratio: np.ndarray) -> np.ndarray:
    """One adaptive step: lambda_k (chi^2_k / N_k)^(1/2), geometric mean one."""
    new = weights * np.sqrt(np.maximum(chi2_ratio, 1e-12))
    return new / np.exp(np.mean(np.log(new)))


def estimate_beta(objective, x: np.ndarray, ratio: float) -> float:
    """ratio * lambda_max(data Hessian) / lambda_max(regularization Hessian)."""
    mu_d = power_iteration(objective.layout, lambda v: objective.data_hessvec(x, v))
    mu_m = power_iteration(objective.layout, lambda v: objective.regularization_hessvec(x, v))
    if mu_m <= 0.0:
        raise ValueError("the regularization Hessian is zero: add a smallness or smoothness term")
    return ratio * mu_d / mu_m
