"""Coupling terms and petrophysical maps: Taylor tests, known values, rank invariance.

Run on 1, 2 and 4 ranks: blocks straddle the partition, and every value is compared
with a one-rank computation.
"""

from __future__ import annotations

import numpy as np
import pytest
from mpi4py import MPI

from parjoint.coupling import petrophysics as petro
from parjoint.coupling.clustering import FuzzyCMeans
from parjoint.coupling.pearson import LocalPearson
from parjoint.coupling.structure import CrossGradient, Gramian
from parjoint.inversion.layout import Block, ModelLayout
from parjoint.mesh import load_mesh

pytestmark = pytest.mark.mpi


def _layout(mesh):
    earth = mesh.cell_region == mesh.region_tag("earth")
    ground = ~mesh.is_air
    return ModelLayout(mesh, [Block("a", ground, "1"), Block("b", earth, "1")])


@pytest.fixture(scope="module")
def layout(block_mesh, comm):
    return _layout(load_mesh(block_mesh, comm))


def _fields(layout, fa, fb):
    c = layout.mesh.centroid
    return layout.join({"a": fa(c[layout["a"].active]), "b": fb(c[layout["b"].active])})


def _smooth(layout):
    return _fields(layout, lambda c: np.sin(c[:, 0] / 300.0) + 0.3 * np.cos(c[:, 2] / 200.0),
                   lambda c: np.cos(c[:, 1] / 250.0) * np.sin(c[:, 2] / 300.0 + 0.4))


def _direction(layout):
    return _fields(layout, lambda c: np.cos(c[:, 0] / 170.0 + c[:, 1] / 230.0),
                   lambda c: np.sin(c[:, 2] / 190.0 - c[:, 0] / 310.0))


def _terms(layout):
    centres = np.array([[0.0, 0.0], [1.0, -0.5]])
    return [CrossGradient(layout, "a", "b", scale=(1.0, 2.0)),
            CrossGradient(layout, "a", "b", scale=(1.0, 2.0), normalized=True, epsilon=(1e-3, 2e-3)),
            Gramian(layout, ["a", "b"]),
            Gramian(layout, ["a", "b"], structural=True),
            LocalPearson(layout, "a", "b", rings=2),
            LocalPearson(layout, "a", "b", rings=1, epsilon=(1e-3, 2e-3)),
            FuzzyCMeans(layout, ["a", "b"], centres, scale=[0.5, 0.8]),
            petro.PetroPenalty(layout, "a", "b", petro.polynomial([0.1, 0.7, -0.2])),
            petro.PetroPenalty(layout, "a", "b", petro.polynomial([0.0, 1.0]), band=0.15)]


def _taylor(layout, term, x, v):
    f0, slope = term.value(x), layout.dot(term.gradient(x), v)
    errs = [abs(term.value(x + h * v) - f0 - h * slope) for h in (0.02, 0.01, 0.005)]
    order = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert (order > 1.8).all() or max(errs) < 1e-12 * max(abs(f0), 1.0), (term.name, errs, order)


def test_taylor_every_term(layout):
    x, v = _smooth(layout), _direction(layout)
    for term in _terms(layout):
        term.update(x)
        _taylor(layout, term, x, v)
        w = np.roll(v, 3) + 0.1
        Hv, Hw = term.hessvec(x, v), term.hessvec(x, w)
        assert abs(layout.dot(w, Hv) - layout.dot(v, Hw)) <= 1e-8 * max(abs(layout.dot(w, Hv)), 1e-30), term.name
        assert layout.dot(v, Hv) >= -1e-12 * layout.norm(v) * layout.norm(Hv), term.name  # positive semi-definite


def test_cross_gradient_gauss_newton_is_jt_j(layout):
    term = CrossGradient(layout, "a", "b")
    x, v = _smooth(layout), _direction(layout)
    h = 1e-5
    jv = (term.cross(x + h * v) - term.cross(x - h * v)) / (2 * h)
    expected = 2 * layout.comm.allreduce(float(np.sum(term.weight * (jv * jv).sum(axis=1))))
    assert layout.dot(v, term.hessvec(x, v)) == pytest.approx(expected, rel=1e-6)


def test_normalized_cross_gradient_is_the_squared_sine(layout):
    """Scaling either model leaves the normalized term unchanged (up to epsilon); gradients
    at 45 degrees give sin^2 = 1/2 in every cell where least squares is exact."""
    term = CrossGradient(layout, "a", "b", normalized=True, epsilon=(1e-9, 1e-9))
    fields = _fields(layout, lambda c: 0.01 * c[:, 0], lambda c: 0.02 * (c[:, 0] + c[:, 1]))
    exact = term.pair.common & term.grad.determined
    ga, gb = term._gradients(fields)
    A, B = term._norms(ga, gb)
    t = term.cross(fields)
    sine2 = np.einsum("ij,ij->i", t, t) / (A * B)
    assert np.abs(sine2[exact] - 0.5).max() < 1e-6
    big = _fields(layout, lambda c: 7.0 * 0.01 * c[:, 0], lambda c: 0.02 * (c[:, 0] + c[:, 1]))
    assert term.value(big) == pytest.approx(term.value(fields), rel=1e-9)


def test_parallel_gradients_give_zero_and_orthogonal_linear_fields_the_analytic_value(layout):
    term = CrossGradient(layout, "a", "b")
    linear = _fields(layout, lambda c: 0.01 * c[:, 0] - 0.02 * c[:, 2], lambda c: 0.03 * c[:, 0] - 0.06 * c[:, 2] + 4)
    assert term.value(linear) <= 1e-20
    alpha, beta = 0.01, 0.03
    ortho = _fields(layout, lambda c: alpha * c[:, 0], lambda c: beta * c[:, 1])
    t = term.cross(ortho)
    common = term.pair.common
    # least squares is exact for linear fields where the neighbours span three dimensions
    exact = common & term.grad.determined
    assert layout.comm.allreduce(int(exact.sum())) > 0.9 * layout.comm.allreduce(int(common.sum()))
    assert np.abs(t[exact] - [0.0, 0.0, alpha * beta]).max() <= 1e-6 * alpha * beta
    analytic = (alpha * beta) ** 2 * layout.comm.allreduce(float(term.weight[common].sum()))
    assert term.value(ortho) == pytest.approx(analytic, rel=0.05)  # boundary cells with planar neighbours fall short


def test_gramian_of_linearly_dependent_models_is_zero(layout):
    dependent = _fields(layout, lambda c: np.sin(c[:, 0] / 300.0), lambda c: 2.5 * np.sin(c[:, 0] / 300.0))
    independent = _smooth(layout)
    plain = Gramian(layout, ["a", "b"])
    assert abs(plain.value(dependent)) <= 1e-12 * plain.gram(dependent).max() ** 2
    assert plain.value(independent) > 1e-3 * plain.gram(independent).max() ** 2
    shifted = _fields(layout, lambda c: np.sin(c[:, 0] / 300.0), lambda c: 2.5 * np.sin(c[:, 0] / 300.0) + 7.0)
    structural = Gramian(layout, ["a", "b"], structural=True)
    assert abs(structural.value(shifted)) <= 1e-12 * structural.gram(shifted).max() ** 2
    three = Gramian(layout, ["a", "b", "a"])  # a repeated property: singular for any model
    assert abs(three.value(independent)) <= 1e-10 * np.abs(three.gram(independent)).max() ** 3


def test_local_pearson_of_linear_relation_is_zero(layout):
    related = _fields(layout, lambda c: np.sin(c[:, 0] / 200.0) + c[:, 2] / 500.0,
                      lambda c: -3.0 * (np.sin(c[:, 0] / 200.0) + c[:, 2] / 500.0) + 1.0)
    term = LocalPearson(layout, "a", "b", rings=2)
    assert term.value(related) <= 1e-9
    rho = term.correlation(related)
    assert np.nanmax(np.abs(rho + 1.0)) < 1e-9  # a negative slope is a perfect (anti-)correlation


def test_fuzzy_c_means_memberships_and_modes(layout):
    x = _fields(layout, lambda c: np.where(c[:, 2] < -200, 1.0, 0.0) + 0.01 * np.sin(c[:, 0]),
                lambda c: np.where(c[:, 2] < -200, -0.5, 0.0))
    fixed = FuzzyCMeans(layout, ["a", "b"], [[0.0, 0.0], [1.0, -0.5]])
    u = fixed.memberships(x)
    assert np.allclose(u.sum(axis=1), 1.0)
    lith = fixed.lithology(x)[fixed.group.common]
    deep = layout.mesh.centroid[fixed.group.common][:, 2] < -200
    assert (lith == deep.astype(int)).all()
    guided = FuzzyCMeans(layout, ["a", "b"], [[0.2, 0.1], [0.8, -0.3]], mode="guided", bounds=[0.3, 0.3])
    guided.update(x)
    assert np.abs(guided.centres - [[0.0, 0.0], [1.0, -0.5]]).max() < 0.05  # moved onto the model's clusters
    adaptive = FuzzyCMeans(layout, ["a", "b"], [[0.5, 0.5]], mode="adaptive", cutoff=0.2)
    adaptive.update(x)
    assert len(adaptive.centres) == 2  # density peaks find the two rock types
    with pytest.raises(ValueError, match="more clusters than cells"):
        FuzzyCMeans(layout, ["a", "b"], np.zeros((10**7, 2)))


def test_petrophysical_relations_and_maps():
    phi = np.linspace(0.05, 0.35, 7)
    arch = petro.archie(a=1.0, m=2.0, n=2.0, sigma_w=0.5, saturation=0.8)
    assert np.allclose(np.exp(arch(phi)), 0.5 * phi**2 * 0.8**2)
    assert np.allclose(arch.derivative(phi), 2.0 / phi, rtol=1e-13)
    for relation in (arch, petro.density(reference=2000.0), petro.gassmann(), petro.heincke(), petro.heincke_density(),
                     petro.faust(np.full(7, 100.0)), petro.polynomial([1.0, -2.0, 0.5])):
        x = phi if relation.name in ("archie", "density", "gassmann") else (
            np.linspace(1500, 4000, 7) if "heincke" in relation.name else np.linspace(-5, -1, 7))
        h = 1e-6 * np.abs(x).max()
        numeric = (relation(x + h) - relation(x - h)) / (2 * h)
        assert np.allclose(relation.derivative(x), numeric, rtol=1e-6), relation.name
        pm = petro.PetroMap(relation)
        assert np.allclose(pm.deriv(x, np.ones(7)), relation.derivative(x))
    # a rock without pores has the mineral velocity
    assert petro.gassmann()(np.array([1e-7]))[0] == pytest.approx(np.sqrt((37e9 + 4 / 3 * 44e9) / 2650.0), rel=1e-5)
    with pytest.raises(ValueError, match="out of physical range"):
        petro.archie(m=7.0)


def test_values_do_not_depend_on_rank_count(layout, block_mesh, comm):
    x = _smooth(layout)
    values = []
    for term in _terms(layout):
        term.update(x)
        values.append(term.value(x))
    reference = None
    if comm.rank == 0:
        one = _layout(load_mesh(block_mesh, MPI.COMM_SELF))
        reference = []
        for term in _terms(one):
            x1 = _smooth(one)
            term.update(x1)
            reference.append(term.value(x1))
    reference = comm.bcast(reference)
    assert np.allclose(values, reference, rtol=1e-10, atol=1e-14)
