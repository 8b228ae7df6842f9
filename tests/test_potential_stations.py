"""The mesh surface as z(x, y): exact on its triangles, the same on any number of
ranks, and the flag for stations below it (boreholes).  Also regional removal."""

from __future__ import annotations

import os

import numpy as np
import pytest
from mpi4py import MPI

from parjoint.mesh import load_mesh
from parjoint.mesh.builder import build_mesh_from_spec
from parjoint.physics.potential.regional import remove_regional
from parjoint.mesh.surface import Topography

HILL_SPEC = """
[mesh]
cell_size = 80.0
max_cell_size = 400.0
growth = 1.4
threads = 1
[core]
x = [-400.0, 400.0]
y = [-300.0, 300.0]
depth = 300.0
[padding]
horizontal = 500.0
depth = 500.0
[topography]
kind = "gaussian_hill"
elevation = 20.0
height = 80.0
center = [50.0, 0.0]
sigma = 200.0
[air]
height = 600.0
"""


@pytest.fixture(scope="module")
def hill_mesh(shared_dir, comm):
    spec = os.path.join(shared_dir, "potential_hill.toml")
    path = os.path.join(shared_dir, "potential_hill.msh")
    if comm.rank == 0:
        with open(spec, "w") as fh:
            fh.write(HILL_SPEC)
    comm.Barrier()
    build_mesh_from_spec(spec, path, comm=comm)
    return path


def hill(x, y):
    return 20.0 + 80.0 * np.exp(-((x - 50.0) ** 2 + y ** 2) / (2 * 200.0 ** 2))


@pytest.mark.mpi
def test_surface_is_exact_on_its_triangles_and_rank_independent(hill_mesh, comm):
    mesh = load_mesh(hill_mesh, comm)
    topo = Topography(mesh)
    surf = mesh.boundary("surface")
    corners = mesh.vertex_coords[mesh.face_vertices[surf.face]].reshape(-1, 3)
    assert np.abs(topo.elevation(corners[:, :2]) - corners[:, 2]).max(initial=0.0) < 1e-9
    assert np.abs(topo.elevation(surf.centroid[:, :2]) - surf.centroid[:, 2]).max(initial=0.0) < 1e-9
    rng = np.random.default_rng(4)
    xy = rng.uniform([-900.0, -800.0], [900.0, 800.0], (500, 2))
    z = topo.elevation(xy)
    assert np.isfinite(z).all()
    # the builder lifts a footprint mesh onto the hill: linear between its nodes
    assert np.abs(z - hill(xy[:, 0], xy[:, 1])).max() < 8.0
    same = comm.allgather(z)
    assert all(np.array_equal(same[0], other) for other in same)
    ok = True
    if comm.rank == 0:
        ok = bool(np.array_equal(Topography(load_mesh(hill_mesh, MPI.COMM_SELF)).elevation(xy), z))
    assert comm.bcast(ok)


@pytest.mark.mpi
def test_below_surface_flags(hill_mesh, comm):
    mesh = load_mesh(hill_mesh, comm)
    topo = Topography(mesh)
    xy = np.array([[0.0, 0.0], [300.0, -100.0], [-700.0, 650.0], [5000.0, 0.0]])
    z = topo.elevation(xy)
    assert np.isnan(z[3])  # outside the footprint
    points = np.column_stack([xy, np.nan_to_num(z, nan=0.0) + np.array([-1.0, 1.0, 0.0, -50.0])])
    assert topo.below(points).tolist() == [True, False, False, False]


def test_regional_constant_and_plane():
    rng = np.random.default_rng(6)
    xyz = np.column_stack([rng.uniform(-500, 500, 40), rng.uniform(-300, 300, 40), np.zeros(40)])
    anomaly = np.exp(-(xyz[:, 0] ** 2 + xyz[:, 1] ** 2) / 1e4)
    plane = 3.0 + 0.002 * xyz[:, 0] - 0.004 * xyz[:, 1]
    values = np.vstack([anomaly + plane, anomaly + 7.0])
    out, coef = remove_regional(xyz, values, "plane")
    fit_anomaly, _ = remove_regional(xyz, anomaly[None, :], "plane")
    assert np.abs(out[0] - fit_anomaly[0]).max() < 1e-12  # the plane is removed exactly
    assert coef.shape == (2, 3) and abs(coef[0, 1] - 0.002 - coef[1, 1]) < 1e-12
    const, c = remove_regional(xyz, values, "constant")
    assert np.abs(const.mean(axis=1)).max() < 1e-12 and c[1, 0] == pytest.approx(anomaly.mean() + 7.0)
    same, _ = remove_regional(xyz, values, "none")
    assert np.array_equal(same, values)
