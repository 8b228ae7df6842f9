"""Objective terms: Taylor tests of gradients and Hessian-vector products (1, 2, 4 ranks)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from mpi4py import MPI

from meshgen import dc_halfspace
from parjoint.inversion.layout import Block, ModelLayout
from parjoint.inversion.maps import Bounded, Exp, Injection
from parjoint.inversion.objective import JointObjective
from parjoint.inversion.terms import DataMisfit, Smallness, Smoothness
from parjoint.mesh import load_mesh
from parjoint.physics.dc.simulation import DCSimulation
from parjoint.physics.dc.survey import line_electrodes, line_survey

pytestmark = pytest.mark.mpi
ELECTRODES = line_electrodes([-40.0, 0.0], [40.0, 0.0], 9)


@pytest.fixture(scope="module")
def setup(shared_dir, comm):
    path = os.path.join(shared_dir, "inv_terms.msh")
    if comm.rank == 0:
        dc_halfspace(path, ELECTRODES, 3.0, 300.0, 1000.0, layer_depth=12.0)
    comm.Barrier()
    mesh = load_mesh(path, comm)
    active = mesh.cell_region != mesh.region_tag("layer2")  # a fixed region, outside the block
    layout = ModelLayout(mesh, [Block("log_conductivity", active, "log(S/m)")])
    return mesh, layout, active


def _x(mesh, active):
    c = mesh.centroid[active]
    return np.log(0.01) + 0.4 * np.sin(c[:, 0] / 15.0) * np.cos(c[:, 2] / 8.0)


def _v(mesh, active):
    c = mesh.centroid[active]
    return np.cos(c[:, 0] / 9.0 + c[:, 1] / 11.0 - c[:, 2] / 6.0)


def _taylor(layout, f, g, x, v, exact_quadratic=False):
    """f(x + h v) - f(x) - h g.v must fall as h^2 (as h^3 for a quadratic)."""
    f0, slope = f(x), layout.dot(g(x), v)
    errs = [abs(f(x + h * v) - f0 - h * slope) for h in (0.1, 0.05, 0.025)]
    if exact_quadratic:
        # f(x + hv) - f(x) - h g.v = h^2 v.Hv / 2 exactly: the ratio is 4 to round-off
        assert abs(errs[0] / errs[1] - 4.0) < 1e-6 and abs(errs[1] / errs[2] - 4.0) < 1e-6
    else:
        order = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
        assert (order > 1.8).all(), (errs, order)


def _dc_term(mesh, layout, active, norm="l2"):
    sim = DCSimulation(mesh, line_survey(ELECTRODES, "dipole-dipole", n_max=3), order=1, method="mumps",
                       prefix=f"terms_{norm}_")
    model_map = Injection(active, np.log(0.1))
    x_true = np.full(layout.n_local, np.log(0.02))
    observed = sim.dpred(model_map(x_true))
    sd = 0.02 * np.abs(observed)
    return DataMisfit("dc", sim, layout, "log_conductivity", model_map, observed * 1.01, sd, norm=norm)


def test_regularization_terms(setup):
    mesh, layout, active = setup
    x, v = _x(mesh, active), _v(mesh, active)
    rng = np.random.default_rng(0)
    weights = 1.0 + 0.5 * np.sin(mesh.centroid[active][:, 2] / 20.0)
    for term in (Smallness(layout, "log_conductivity", np.log(0.01), cell_weights=weights),
                 Smoothness(layout, "log_conductivity"),
                 Smoothness(layout, "log_conductivity", anisotropy=(1.0, 2.0, 0.1), cell_weights=weights)):
        _taylor(layout, term.value, term.gradient, x, v, exact_quadratic=True)
        # Hessian: the gradient is linear, g(x + h v) - g(x) = h H v exactly
        h = 0.3
        diff = term.gradient(x + h * v) - term.gradient(x) - h * term.hessvec(x, v)
        assert layout.norm(diff) <= 1e-10 * layout.norm(term.gradient(x))
        w = rng.standard_normal(layout.n_local)
        assert abs(layout.dot(w, term.hessvec(x, v)) - layout.dot(v, term.hessvec(x, w))) <= \
            1e-10 * abs(layout.dot(w, term.hessvec(x, v)))
    smooth = Smoothness(layout, "log_conductivity")
    assert abs(smooth.value(np.full(layout.n_local, 3.0))) < 1e-20  # constants cost nothing


@pytest.mark.parametrize("norm", ["l2", "huber"])
def test_data_misfit(setup, norm):
    mesh, layout, active = setup
    term = _dc_term(mesh, layout, active, norm)
    x, v = _x(mesh, active), _v(mesh, active)
    term.update(x)  # IRLS weights, fixed within an iteration
    _taylor(layout, term.value, term.gradient, x, v)
    # Gauss-Newton Hessian: symmetric, positive, and 2 J^T W J v
    w = np.sin(np.arange(layout.n_local) + mesh.comm.rank)
    Hv, Hw = term.hessvec(x, v), term.hessvec(x, w)
    assert abs(layout.dot(w, Hv) - layout.dot(v, Hw)) <= 1e-9 * abs(layout.dot(w, Hv))
    assert layout.dot(v, Hv) > 0
    m = term.map(x)
    Jv = term.simulation.Jvec(m, term.map.deriv(x, v))
    assert layout.dot(v, Hv) == pytest.approx(2 * np.sum(term.weights * (Jv / term.sd) ** 2), rel=1e-9)


def test_maps_derivatives(setup):
    mesh, layout, active = setup
    x, v = _x(mesh, active), _v(mesh, active)
    w = np.cos(np.arange(mesh.n_cells) * 0.37)
    for model_map in (Exp() * Injection(active, -2.0), Injection(active, 0.0) * Bounded(-6.0, 1.0)):
        d0 = model_map(x)
        J = model_map.deriv(x, v)
        errs = [np.linalg.norm(model_map(x + h * v) - d0 - h * J) for h in (0.1, 0.05)]
        assert errs[1] < errs[0] / 3.5 or errs[0] < 1e-12
        assert np.dot(w, model_map.deriv(x, v)) == pytest.approx(np.dot(model_map.deriv_t(x, w), v), rel=1e-12)


def test_whole_objective(setup):
    mesh, layout, active = setup
    data = _dc_term(mesh, layout, active)
    objective = JointObjective(layout, [data], [(1.0, Smallness(layout, "log_conductivity", np.log(0.01))),
                                                (5.0, Smoothness(layout, "log_conductivity"))], beta=0.7)
    x, v = _x(mesh, active), _v(mesh, active)
    _taylor(layout, objective.value, objective.gradient, x, v)
    Hv = objective.hessvec(x, v)
    assert layout.dot(v, Hv) > 0
    objective.multiplicative = True
    _taylor(layout, objective.value, objective.gradient, x, v)


def test_smoothness_does_not_depend_on_rank_count(setup, comm):
    mesh, layout, active = setup
    value = Smoothness(layout, "log_conductivity", anisotropy=(1.0, 0.5, 2.0)).value(_x(mesh, active))
    reference = None
    if comm.rank == 0:
        one = load_mesh(mesh.source, MPI.COMM_SELF)
        act = one.cell_region != one.region_tag("layer2")
        lay = ModelLayout(one, [Block("log_conductivity", act, "log(S/m)")])
        reference = Smoothness(lay, "log_conductivity", anisotropy=(1.0, 0.5, 2.0)).value(_x(one, act))
    reference = comm.bcast(reference)
    assert value == pytest.approx(reference, rel=1e-12)


def test_map_of_the_wrong_size_is_refused(setup):
    """A model map whose output is not one value per cell (here an injection built for
    another mesh) is caught before any simulation runs, naming the config and data set."""
    from types import SimpleNamespace

    from parjoint.errors import InputError
    from parjoint.inversion.datasets import check_map_size

    mesh, layout, active = setup
    term = SimpleNamespace(map=Injection(np.ones(mesh.n_cells + 7, bool), 0.0), block=layout["log_conductivity"])
    dataset = SimpleNamespace(name="dc", physics="dc", term=term)
    with pytest.raises(InputError, match=r"cfg\.toml: data set 'dc': the model map gives \d+ values"):
        check_map_size(dataset, layout, "cfg.toml")
    dataset.term = SimpleNamespace(map=Injection(active, 0.0), block=layout["log_conductivity"])
    check_map_size(dataset, layout, "cfg.toml")  # the right size passes
