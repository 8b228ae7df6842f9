"""DC forward accuracy against analytic solutions, and numerical geometric factors.

References are computed here: the half-space potential I rho / (2 pi r); the two-layer
image series; and a conductive sphere below a flat surface from the whole-space
Legendre series with the surface as a mirror (the sphere-image interaction, of order
(a / 2d)^3 of the anomaly, is neglected: 1.4% of it for the sphere used).
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.polynomial.legendre import legval

from meshgen import dc_halfspace
from parjoint.mesh import load_mesh
from parjoint.physics.dc.forward import geometric_factors
from parjoint.physics.dc.simulation import DCSimulation
from parjoint.physics.dc.survey import line_electrodes, line_survey

SPACING = 10.0
ELECTRODES = line_electrodes([-50.0, 0.0], [50.0, 0.0], 11)
RHO1 = 100.0


def _mesh(tmp_path_factory, name, **kwargs):
    path = str(tmp_path_factory.mktemp("dc") / f"{name}.msh")
    dc_halfspace(path, ELECTRODES, 1.0, 400.0, 2000.0, **kwargs)
    return load_mesh(path)


def _resistivity(mesh, values: dict[str, float]) -> np.ndarray:
    rho = np.empty(mesh.n_cells)
    for tag, name in mesh.region_names.items():
        rho[mesh.cell_region == tag] = values[name]
    return rho


def _far_from_source(survey) -> np.ndarray:
    """Data whose potential electrodes are all more than two spacings from the current electrodes."""
    e = survey.electrodes
    dist = np.full(survey.n_data, np.inf)
    for s in (survey.a, survey.b):
        for r in (survey.m, survey.n):
            ok = (s >= 0) & (r >= 0)
            dist[ok] = np.minimum(dist[ok], np.linalg.norm(e[s[ok]] - e[r[ok]], axis=1))
    return dist > 2 * SPACING + 1e-9


@pytest.fixture(scope="module")
def halfspace(tmp_path_factory):
    return _mesh(tmp_path_factory, "half")


@pytest.mark.parametrize("array", ["pole-pole", "dipole-dipole", "wenner"])
def test_halfspace_p2_within_one_percent(halfspace, array):
    mesh = halfspace
    survey = line_survey(ELECTRODES, array)
    sim = DCSimulation(mesh, survey, order=2)
    rhoa = survey.halfspace_geometric_factor() * sim.dpred(np.full(mesh.n_cells, -np.log(RHO1)))
    far = _far_from_source(survey)
    assert far.sum() >= 2
    assert np.abs(rhoa[far] / RHO1 - 1).max() < 0.01  # measured: 0.07% (pole-pole)


def test_two_layer_within_two_percent(tmp_path_factory):
    h, rho2 = 10.0, 10.0
    mesh = _mesh(tmp_path_factory, "layer", layer_depth=h)
    survey = line_survey(ELECTRODES, "pole-pole")
    sim = DCSimulation(mesh, survey, order=2)
    R = sim.dpred(-np.log(_resistivity(mesh, {"earth": RHO1, "layer2": rho2})))
    r = np.linalg.norm(ELECTRODES[survey.a] - ELECTRODES[survey.m], axis=1)
    k = (rho2 - RHO1) / (rho2 + RHO1)
    n = np.arange(1, 500)
    reference = RHO1 / (2 * np.pi) * (1 / r + 2 * np.sum(k**n / np.sqrt(r[:, None] ** 2 + (2 * n * h) ** 2), axis=1))
    assert np.abs(reference / (RHO1 / (2 * np.pi * r)) - 1).max() > 0.3  # the layer matters
    assert np.abs(R / reference - 1).max() < 0.02  # measured: 0.15%


def test_conductive_sphere_within_three_percent(tmp_path_factory):
    center, radius, rho_sphere = np.array([0.0, 0.0, -25.0]), 12.0, 1.0
    mesh = _mesh(tmp_path_factory, "sphere", sphere=(*center, radius), h_sphere=3.0)
    survey = line_survey(ELECTRODES, "pole-pole")
    sim = DCSimulation(mesh, survey, order=2)
    R = sim.dpred(-np.log(_resistivity(mesh, {"earth": RHO1, "sphere": rho_sphere})))
    s1, s2 = 1.0 / RHO1, 1.0 / rho_sphere
    orders = np.arange(80)
    coefficient = orders * (s1 - s2) / ((orders + 1) * s1 + orders * s2)

    def surface_potential(src, rec):
        b, r = np.linalg.norm(src - center), np.linalg.norm(rec - center)
        cos_g = (src - center) @ (rec - center) / (b * r)
        secondary = legval(cos_g, coefficient * radius ** (2 * orders + 1) / (b * r) ** (orders + 1))
        # source on the mirror plane: doubled primary; sphere and its image: four times the secondary
        return (2 / np.linalg.norm(rec - src) + 4 * secondary) / (4 * np.pi * s1)

    reference = np.array([surface_potential(ELECTRODES[i], ELECTRODES[j]) for i, j in zip(survey.a, survey.m)])
    r = np.linalg.norm(ELECTRODES[survey.a] - ELECTRODES[survey.m], axis=1)
    assert np.abs(reference / (RHO1 / (2 * np.pi * r)) - 1).max() > 0.05  # a visible anomaly
    assert np.abs(R / reference - 1).max() < 0.03  # measured: 0.34%


def test_hill_homogeneous_numerical_factors_are_exact(tmp_path):
    from parjoint.mesh.builder import build_mesh_from_spec

    spec = tmp_path / "hill.toml"
    spec.write_text("""
[mesh]
cell_size = 30.0
max_cell_size = 600.0
[core]
x = [-150.0, 150.0]
y = [-80.0, 80.0]
depth = 100.0
[padding]
horizontal = 1500.0
depth = 1500.0
[topography]
kind = "gaussian_hill"
elevation = 0.0
height = 40.0
sigma = 60.0
[stations]
line = { start = [-100.0, 0.0], end = [100.0, 0.0], count = 11 }
cell_size = 4.0
""")
    build_mesh_from_spec(str(spec), str(tmp_path / "hill.msh"))
    mesh = load_mesh(str(tmp_path / "hill.msh"))
    from parjoint.mesh.surface import surface_elevation

    electrodes = line_electrodes([-100.0, 0.0], [100.0, 0.0], 11)
    electrodes[:, 2] = surface_elevation(mesh, electrodes[:, :2])
    survey = line_survey(electrodes, "wenner")
    sim = DCSimulation(mesh, survey, order=1, method="amg")
    k = geometric_factors(sim)
    rho = 250.0
    rhoa = k * sim.dpred(np.full(mesh.n_cells, -np.log(rho)))
    assert np.abs(rhoa / rho - 1).max() < 1e-7  # numerical factors remove topography exactly
    flat = survey.halfspace_geometric_factor() * rhoa / k
    assert np.abs(flat / rho - 1).max() > 0.03  # the hill's effect that flat-earth factors would leave
