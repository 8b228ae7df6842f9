"""Gravity simulations of meshed bodies: a box (exact) and a sphere (polyhedral).

A sphere meshed with tetrahedra is a polyhedron inside the sphere; its volume falls
short by dV/V (2% here, from the mesh).  Outside it, its field is that of a point
mass of the *mesh's* volume up to the multipoles of the faceted shape (below 1e-3 at
two radii and beyond), so against the exact sphere the relative error is dV/V to
within 1e-3: that is the volume discretisation error.
"""

from __future__ import annotations

import numpy as np
import pytest

from parjoint.mesh import load_mesh
from parjoint.physics.gravity.kernels import G
from parjoint.physics.gravity.simulation import COMPONENTS, GravitySimulation
from potential_analytic import dipole_tensor, point_mass, prism_attraction, prism_tensor
from potential_meshes import body_mesh

CENTRE, RADIUS = np.array([0.0, 0.0, -100.0]), 50.0
BOX = (np.array([-30.0, -20.0, -60.0]), np.array([40.0, 25.0, -10.0]))
DOWN = np.array([1.0, 1.0, -1.0])
PAIRS = [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]


@pytest.fixture(scope="module")
def sphere(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("sphere") / "sphere.msh")
    body_mesh(path, "sphere", (CENTRE, RADIUS), 12.0, 400.0, 150.0)
    return load_mesh(path)


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("box") / "box.msh")
    body_mesh(path, "box", BOX, 15.0, 300.0, 150.0)
    return load_mesh(path)


def unit_fields(mesh, stations):
    """(g, T) per station of the ``body`` region at unit G rho, east-north-up, SI."""
    sim = GravitySimulation(mesh, stations, COMPONENTS, verbose=False)
    body = mesh.cell_region == mesh.region_tag("body")
    d = sim.by_component(sim.dpred(np.where(body, 1.0 / G, 0.0)))
    g = (d[:3] / 1e5).T * DOWN
    T = np.zeros((len(stations), 3, 3))
    for q, (i, j) in enumerate(PAIRS):
        T[:, i, j] = T[:, j, i] = d[3 + q] / 1e9 * DOWN[i] * DOWN[j]
    return g, T, body


def test_box_mesh_matches_the_analytic_prism(box):
    lo, hi = BOX
    stations = np.array([[5.0, 2.0, 0.0], [5.0, 2.0, -9.0], [60.0, -30.0, -35.0], [-31.0, 2.5, -35.0],
                         [100.0, 80.0, 20.0], [5.0, 2.0, -10.0], [40.0, 25.0, -10.0], [-30.0, 0.0, -35.0]])
    g, T, _ = unit_fields(box, stations)
    for k, P in enumerate(stations):
        assert np.abs(g[k] - prism_attraction(lo, hi, P)).max() < 1e-8 * np.abs(g[k]).max()
        if k < 5:  # off the planes of the faces; the last three stations lie on the box
            assert np.abs(T[k] - prism_tensor(lo, hi, P)).max() < 1e-8 * np.abs(T[k]).max()


def test_sphere_matches_a_point_mass_within_the_volume_error(sphere):
    stations = CENTRE + np.array([[0.0, 0.0, 100.0], [150.0, 0.0, 0.0], [60.0, 30.0, 80.0], [-120.0, -70.0, -60.0],
                                  [300.0, -200.0, 150.0]])
    g, T, body = unit_fields(sphere, stations)
    v_mesh = sphere.volume[body].sum()
    v_exact = 4.0 / 3.0 * np.pi * RADIUS ** 3
    deficit = 1.0 - v_mesh / v_exact
    assert 0.005 < deficit < 0.05  # the mesh is coarse: the test must see the volume error
    for k, P in enumerate(stations):
        g_mesh, g_exact = point_mass(CENTRE, v_mesh, P), point_mass(CENTRE, v_exact, P)
        T_mesh, T_exact = dipole_tensor(CENTRE, v_mesh, P), dipole_tensor(CENTRE, v_exact, P)
        assert np.abs(g[k] - g_mesh).max() < 1e-3 * np.abs(g_mesh).max()
        assert np.abs(T[k] - T_mesh).max() < 1e-3 * np.abs(T_mesh).max()
        error = np.linalg.norm(g[k] - g_exact) / np.linalg.norm(g_exact)
        assert abs(error - deficit) < 1e-3
        assert abs(np.abs(T[k] - T_exact).max() / np.abs(T_exact).max() - deficit) < 1e-3


def test_inactive_cells_and_units(box):
    """Only active cells count; a uniform contrast c in the body gives c G V / r^2 far away."""
    stations = np.array([[0.0, 0.0, 2000.0]])
    body = box.cell_region == box.region_tag("body")
    sim = GravitySimulation(box, stations, ("gz",), active=body, verbose=False)
    rho = np.where(body, 250.0, 1e9)  # the value outside the active cells is ignored
    gz = sim.dpred(rho)[0]
    lo, hi = BOX
    expected = 250.0 * G * np.prod(hi - lo) / (2000.0 - 0.5 * (lo[2] + hi[2])) ** 2 * 1e5  # mGal, down
    assert abs(gz - expected) < 1e-4 * expected
    assert np.all(sim.Jtvec(rho, np.ones(1))[~body] == 0.0)
