"""Optimizers, beta and dataset weighting on linear test problems (1, 2, 4 ranks).

The simulations are linear, d = A m with A's columns generated from each cell's file
index, so every rank count builds the same operator; the objective is then
quadratic and the exact answers are known properties (zero gradient, bounds met).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from mpi4py import MPI

from meshgen import box_with_block
from parjoint.inversion.layout import Block, ModelLayout
from parjoint.inversion.maps import Injection
from parjoint.inversion.objective import JointObjective
from parjoint.inversion.optimizers import Inversion, Settings
from parjoint.inversion.terms import DataMisfit, Smallness, Smoothness, power_iteration
from parjoint.inversion.weighting import adapt_weights, initial_weights
from parjoint.mesh import load_mesh

pytestmark = pytest.mark.mpi


class LinearSimulation:
    """d = A m, the column of a cell from its file index (any partition gives the same A)."""

    def __init__(self, mesh, n_data: int, seed: int):
        self.comm, self.n_data = mesh.comm, n_data
        cols = [np.random.default_rng(seed * 1_000_003 + int(i)).standard_normal(n_data) for i in mesh.cell_original]
        self.A = np.array(cols).T.reshape(n_data, mesh.n_cells) * 1e-2

    def dpred(self, m):
        return self.comm.allreduce(self.A @ m)

    def Jvec(self, m, v):
        return self.comm.allreduce(self.A @ v)

    def Jtvec(self, m, w):
        return self.A.T @ w


@pytest.fixture(scope="module")
def problem(shared_dir, comm):
    path = os.path.join(shared_dir, "opt.msh")
    if comm.rank == 0:
        box_with_block(path, h=150.0, air=False)
    comm.Barrier()
    mesh = load_mesh(path, comm)
    active = np.ones(mesh.n_cells, bool)
    layout = ModelLayout(mesh, [Block("m", active, "1")])
    true = np.where(mesh.cell_region == mesh.region_tag("block"), 1.0, 0.0)

    def dataset(name, n, seed):
        sim = LinearSimulation(mesh, n, seed)
        d = sim.dpred(true)
        return DataMisfit(name, sim, layout, "m", Injection(active, 0.0), d, 0.05 * np.abs(d).max() * np.ones(n))

    return mesh, layout, dataset


def _objective(layout, data, beta=1e-2):
    return JointObjective(layout, data, [(1.0, Smoothness(layout, "m")), (1e-3, Smallness(layout, "m", 0.0))],
                          beta=beta)


def test_gauss_newton_solves_a_quadratic_in_one_step(problem):
    mesh, layout, dataset = problem
    objective = _objective(layout, [dataset("a", 40, 1)])
    from parjoint.petsc import PETSc

    opts = PETSc.Options("inv_")
    opts.setValue("ksp_rtol", "1e-12")
    opts.setValue("ksp_max_it", "2000")
    try:
        inv = Inversion(objective, Settings(max_iterations=1, beta=1e-2, cooling=1.0, chi_factor=1e-6),
                        log=lambda *a: None)
        x0 = layout.zeros()
        g0 = layout.norm(objective.gradient(x0))
        x = inv.run(x0)
    finally:
        for key in ("ksp_rtol", "ksp_max_it"):
            opts.delValue(key)
    assert layout.norm(objective.gradient(x)) <= 1e-8 * g0


@pytest.mark.parametrize("method", ["lbfgs", "blmvm", "admm"])
def test_other_methods_decrease_and_respect_bounds(problem, method):
    mesh, layout, dataset = problem
    objective = _objective(layout, [dataset("a", 40, 1)])
    lower, upper = np.full(layout.n_local, -0.05), np.full(layout.n_local, 0.6)
    settings = Settings(method=method, max_iterations=6, beta=1e-2, cooling=1.0, chi_factor=1e-6,
                        inner_iterations=15, min_decrease=0.0, lower=lower, upper=upper, rho=0.5)
    inv = Inversion(objective, settings, log=lambda *a: None)
    x0 = layout.zeros()
    x = inv.run(x0)
    values = [row["phi_d"][0] for row in inv.history]
    assert values[-1] < 0.2 * values[0]
    if method == "blmvm":
        assert (x >= lower - 1e-12).all() and (x <= upper + 1e-12).all()
    if method == "admm":
        # the constrained copy z meets the bounds exactly; x approaches it
        assert x.min() > -0.05 - 0.1 and x.max() < 0.6 + 0.1


def test_dataset_weights(problem):
    mesh, layout, dataset = problem
    small, large = dataset("small", 10, 2), dataset("large", 90, 3)
    objective = _objective(layout, [large, small])
    x = layout.zeros()
    assert np.allclose(initial_weights(objective, x, "uniform"), [1.0, 1.0])
    assert np.allclose(initial_weights(objective, x, "sqrt-count"), [1.0, 3.0])
    w = initial_weights(objective, x, "eigenvalue")
    mu = [power_iteration(layout, lambda v, t=t: t.hessvec(x, v)) * wk for t, wk in zip(objective.data, w)]
    assert mu[0] == pytest.approx(mu[1], rel=1e-6)  # both data sets pull equally hard
    new = adapt_weights(np.ones(2), np.array([4.0, 0.8]))
    assert new[0] == 1.0 and new[1] == pytest.approx(0.8)  # a data set below its target loses weight
    assert adapt_weights(np.ones(1), np.array([0.1]))[0] == 0.5  # by half at most per iteration


def test_beta_cools_for_the_data_above_target_only(problem):
    """A data set below its window whose misfit rises (as adaptive weighting makes it) does
    not stop beta cooling for a data set above it; one above it that got worse does."""
    mesh, layout, dataset = problem
    for before, now, cooled in (([2.0, 0.5], [1.8, 0.7], True), ([2.0, 0.5], [2.2, 0.4], False)):
        objective = _objective(layout, [dataset("a", 40, 1), dataset("b", 20, 2)], beta=1.0)
        inv = Inversion(objective, Settings(cooling=2.0, chi_factor=1.0), log=lambda *a: None)
        inv.history = [{"chi2_ratio": before}, {"chi2_ratio": now}]
        inv._schedule(1, layout.zeros(), inv.history[-1])
        assert (objective.beta["m"] < 1.0) == cooled, (before, now, objective.beta)


def test_multiplicative_objective_and_adaptive_weighting_run(problem):
    mesh, layout, dataset = problem
    for scheme in ("multiplicative", "adaptive"):
        objective = _objective(layout, [dataset("large", 60, 3), dataset("small", 12, 2)])
        inv = Inversion(objective, Settings(max_iterations=4, weighting=scheme, beta_ratio=1.0, chi_factor=1e-6,
                                            min_decrease=0.0), log=lambda *a: None)
        inv.run(layout.zeros())
        first, last = inv.history[0]["chi2_ratio"], inv.history[-1]["chi2_ratio"]
        assert all(b < a for a, b in zip(first, last)), (scheme, first, last)
