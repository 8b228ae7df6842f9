"""Dataset weights and the regularization trade-off (beta).

Dataset weights lambda_k (``scheme``):

* ``uniform``: 1 for every data set;
* ``sqrt-count``: sqrt(N_max / N_k), so a small data set is not drowned by a large one
  but does not count as much as a full re-weighting to equal size would make it
  (Qin et al. 2024);
* ``eigenvalue``: lambda_k = mu_1 / mu_k with mu_k the largest eigenvalue of data set
  k's Gauss-Newton Hessian (power iteration): every data set pulls with the same
  strength on its best-resolved model direction;
* ``adaptive``: starting from the eigenvalue balance; after each iteration the weight of
  a data set that is below its target misfit is multiplied by chi^2_k / (chi_factor N_k)
  (by 1/2 at least), while beta keeps cooling for the others: a data set that reached
  its target stops pulling harder, so each ends at its own target (the automatic
  trade-off of Lelievre et al. 2012);
* ``multiplicative``: no weights; the objective multiplies the normalised misfits
  (Abubakar et al. 2011, see :mod:`parjoint.inversion.objective`).

Each model block b has its own beta_b: it starts at ``ratio`` times the ratio of the
largest eigenvalues of the Hessians of the block's data and of its regularization,
then is divided by ``cooling`` every ``rate`` iterations while the block's data are
above their target misfit.
"""

from __future__ import annotations

import numpy as np

from .terms import power_iteration


def mean_diagonal(layout, block: str, hessvec, probes: int = 4) -> float:
    """Mean diagonal entry of an operator on one block (Hutchinson's trace estimate with
    +-1 probes drawn from each cell's file index, so any partition gives the same)."""
    mesh, b = layout.mesh, layout[block]
    total = 0.0
    for k in range(probes):
        signs = np.where(np.random.default_rng(1000 + k).random(mesh.n_cells_global) < 0.5, -1.0, 1.0)
        v = layout.zeros()
        v[b.slice] = signs[mesh.cell_original[b.active]]
        total += layout.dot(v, hessvec(v))
    return total / probes / max(b.size_global, 1)

SCHEMES = ("uniform", "sqrt-count", "eigenvalue", "adaptive", "multiplicative")


def initial_weights(objective, x: np.ndarray, scheme: str) -> np.ndarray:
    n = np.array([t.n_data for t in objective.data], float)
    if scheme in ("uniform", "multiplicative"):
        return np.ones(len(n))
    if scheme == "sqrt-count":
        return np.sqrt(n.max() / n)
    if scheme in ("eigenvalue", "adaptive"):
        mu = np.array([power_iteration(objective.layout, lambda v, t=t: t.hessvec(x, v)) for t in objective.data])
        return mu[0] / np.maximum(mu, 1e-300)
    raise ValueError(f"unknown weighting scheme {scheme!r}")


def adapt_weights(weights: np.ndarray, chi2_ratio: np.ndarray) -> np.ndarray:
    """One adaptive step; ``chi2_ratio`` = chi^2_k / (chi_factor N_k)."""
    r = np.asarray(chi2_ratio, float)
    return weights * np.where(r < 1.0, np.maximum(r, 0.5), 1.0)


def estimate_beta(objective, x: np.ndarray, ratio: float | dict) -> dict[str, float]:
    """Per block: ratio * lambda_max(block's data Hessian) / lambda_max(block's regularization Hessian).

    ``ratio`` is one number or one per block name (blocks not named take 10).
    """
    out = {}
    for name in objective.layout.blocks:
        if not any(t.block.name == name for t in objective.data):
            out[name] = 1.0  # no data on this block (a coupling carries it): beta does not matter
            continue
        mu_d = power_iteration(objective.layout, lambda v: objective.data_hessvec(x, v, name))
        objective.data_scale[name] = mean_diagonal(objective.layout, name, lambda v: objective.data_hessvec(x, v, name))
        mu_m = power_iteration(objective.layout, lambda v: objective.regularization_hessvec(x, v, name))
        if mu_m <= 0.0:
            raise ValueError(f"block {name!r} has no regularization: add a smallness or smoothness term")
        out[name] = (ratio.get(name, 10.0) if isinstance(ratio, dict) else ratio) * mu_d / mu_m
    return out
