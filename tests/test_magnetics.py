"""Magnetics against analytic fields: a magnetized prism (total field, components,
remanence, a station inside it) and a magnetized sphere (dipole).

The prism reference is Bhattacharyya's (1964) anomaly written with the prism's
gradient tensor (Nagy et al. 2000, in potential_analytic): b = mu0/(4 pi) T M
outside the magnetized body, plus mu0 M inside it; for induced magnetization
M = chi B0 / mu0, so b = chi T B0 / (4 pi).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from parjoint.mesh import load_mesh
from parjoint.physics.magnetics.field import InducingField, component_direction, unit_vector
from parjoint.physics.magnetics.simulation import MagneticSimulation
from potential_analytic import dipole_tensor, prism_tensor
from potential_meshes import body_mesh

BOX = (np.array([-30.0, -20.0, -60.0]), np.array([40.0, 25.0, -10.0]))
FIELD = InducingField(inclination=62.0, declination=-8.0, strength=48000.0)
STATIONS = np.array([[5.0, 2.0, 1.0], [60.0, -30.0, -35.0], [-45.0, 40.0, 5.0], [100.0, 80.0, 20.0],
                     [5.0, 2.0, -33.0]])  # the last one inside the prism (a borehole)
INSIDE = np.array([False, False, False, False, True])


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("box") / "box.msh")
    body_mesh(path, "box", BOX, 15.0, 300.0, 150.0)
    return load_mesh(path)


def analytic(M_enu: np.ndarray, components) -> np.ndarray:
    """(n_components, n_stations) nT of the prism magnetized with M (A/m, east-north-up)."""
    b = np.array([100.0 * prism_tensor(*BOX, P) @ M_enu + (400.0 * math.pi * M_enu if inside else 0.0)
                  for P, inside in zip(STATIONS, INSIDE)])
    return np.array([b @ component_direction(c, FIELD) for c in components])


def test_field_directions():
    assert np.allclose(unit_vector(90.0, 0.0), [0.0, 0.0, -1.0])  # straight down
    assert np.allclose(unit_vector(0.0, 90.0), [1.0, 0.0, 0.0])  # horizontal, east
    assert np.allclose(FIELD.vector, 48000.0 * unit_vector(62.0, -8.0))
    assert InducingField(95.0, 0.0, 5e4).problem() and InducingField(60.0, 0.0, 0.0).problem()


def test_induced_prism_total_field_and_components(box):
    components = ("tmi", "bx", "by", "bz")
    chi = 0.02
    sim = MagneticSimulation(box, STATIONS, FIELD, components, verbose=False)
    body = box.cell_region == box.region_tag("body")
    d = sim.by_component(sim.dpred(np.where(body, chi, 0.0)))
    expected = analytic(chi * FIELD.vector / (4e-7 * math.pi) * 1e-9, components)
    assert np.abs(d - expected).max() < 1e-8 * np.abs(expected).max()


def test_remanent_prism(box):
    """Remanence (east, north, down in A/m) adds the same Poisson field; chi = 0."""
    m_end = np.array([0.4, -0.2, 1.1])
    body = box.cell_region == box.region_tag("body")
    remanence = np.where(body[:, None], m_end, 0.0)
    sim = MagneticSimulation(box, STATIONS, FIELD, ("tmi", "bz"), remanence=remanence, verbose=False)
    d = sim.by_component(sim.dpred(np.zeros(box.n_cells)))
    expected = analytic(m_end * [1.0, 1.0, -1.0], ("tmi", "bz"))
    assert np.abs(d - expected).max() < 1e-8 * np.abs(expected).max()


def test_magnetized_sphere_is_a_dipole(tmp_path):
    centre, radius = np.array([0.0, 0.0, -100.0]), 50.0
    path = str(tmp_path / "sphere.msh")
    body_mesh(path, "sphere", (centre, radius), 12.0, 400.0, 150.0)
    mesh = load_mesh(path)
    body = mesh.cell_region == mesh.region_tag("body")
    stations = centre + np.array([[0.0, 0.0, 110.0], [160.0, 20.0, 0.0], [-90.0, 90.0, 120.0]])
    sim = MagneticSimulation(mesh, stations, FIELD, ("tmi", "bx", "by", "bz"), verbose=False)
    d = sim.by_component(sim.dpred(np.where(body, 0.01, 0.0)))
    volume = mesh.volume[body].sum()
    b = np.array([0.01 * dipole_tensor(centre, volume, P) @ FIELD.vector / (4 * math.pi) for P in stations])
    expected = np.array([b @ component_direction(c, FIELD) for c in sim.components])
    # the dipole of the mesh's own volume, up to the faceting (see test_gravity_bodies)
    assert np.abs(d - expected).max() < 1e-3 * np.abs(expected).max()
