"""DC and IP sensitivities: adjoint and Taylor tests, and rank invariance (1, 2, 4 ranks)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from mpi4py import MPI

from meshgen import dc_halfspace
from parjoint.mesh import load_mesh
from parjoint.physics.dc.ip import IPSimulation
from parjoint.physics.dc.simulation import DCSimulation
from parjoint.physics.dc.survey import line_electrodes, line_survey

pytestmark = pytest.mark.mpi
ELECTRODES = line_electrodes([-40.0, 0.0], [40.0, 0.0], 9)


@pytest.fixture(scope="module")
def mesh_path(shared_dir, comm):
    path = os.path.join(shared_dir, "dc_small.msh")
    if comm.rank == 0:
        dc_halfspace(path, ELECTRODES, 3.0, 300.0, 1000.0, layer_depth=12.0)
    comm.Barrier()
    return path


def _fields(mesh):
    """A smooth model and directions that depend on position only (any partition)."""
    c = mesh.centroid
    m = np.log(0.01) + 0.6 * np.sin(c[:, 0] / 17.0) * np.cos(c[:, 2] / 9.0)
    v = np.cos(c[:, 0] / 7.0 + c[:, 2] / 5.0)
    return m, v


def _adjoint_and_taylor(sim, m, v, comm):
    w = np.random.default_rng(7).standard_normal(sim.n_data)
    d0, Jv, Jtw = sim.dpred(m), sim.Jvec(m, v), sim.Jtvec(m, w)
    lhs, rhs = float(w @ Jv), comm.allreduce(float(v @ Jtw))
    assert abs(lhs - rhs) <= 1e-10 * abs(lhs)
    errors = []
    for h in (0.08, 0.04, 0.02):
        errors.append(np.linalg.norm(sim.dpred(m + h * v) - d0 - h * Jv))
    order = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert (order > 1.8).all(), order  # second-order convergence: the derivative is exact


@pytest.mark.parametrize("order", [1, 2])
def test_dc_jacobian(mesh_path, comm, order):
    mesh = load_mesh(mesh_path, comm)
    sim = DCSimulation(mesh, line_survey(ELECTRODES, "dipole-dipole", n_max=3), order=order, method="mumps")
    m, v = _fields(mesh)
    _adjoint_and_taylor(sim, m, v, comm)


def test_explicit_jacobian_matches_products(mesh_path, comm):
    mesh = load_mesh(mesh_path, comm)
    sim = DCSimulation(mesh, line_survey(ELECTRODES, "wenner"), order=1, method="mumps")
    m, v = _fields(mesh)
    J = sim.jacobian(m)
    Jv = comm.allreduce(J @ v)
    assert np.allclose(Jv, sim.Jvec(m, v), rtol=1e-10, atol=1e-14 * np.abs(Jv).max())
    w = np.arange(sim.n_data, dtype=float)
    Jtw = J.T @ w
    scale = comm.allreduce(np.abs(Jtw).max(), op=MPI.MAX)
    assert np.allclose(Jtw, sim.Jtvec(m, w), rtol=1e-10, atol=1e-12 * scale)
    assert not J[:, mesh.is_air].any()


@pytest.mark.parametrize("mode", ["linear", "nonlinear"])
def test_ip_jacobian(mesh_path, comm, mode):
    mesh = load_mesh(mesh_path, comm)
    sim = DCSimulation(mesh, line_survey(ELECTRODES, "dipole-dipole", n_max=3), order=1, method="mumps")
    m, _ = _fields(mesh)
    c = mesh.centroid
    eta = 0.1 + 0.05 * np.sin(c[:, 0] / 13.0)
    v = 0.3 * np.cos(c[:, 2] / 6.0)
    ip = IPSimulation(sim, m, mode)
    w = np.random.default_rng(3).standard_normal(ip.n_data)
    d0, Jv, Jtw = ip.dpred(eta), ip.Jvec(eta, v), ip.Jtvec(eta, w)
    lhs, rhs = float(w @ Jv), comm.allreduce(float(v @ Jtw))
    assert abs(lhs - rhs) <= 1e-10 * abs(lhs)
    errors = [np.linalg.norm(ip.dpred(eta + h * v) - d0 - h * Jv) for h in (0.08, 0.04, 0.02)]
    if mode == "linear":
        assert max(errors) <= 1e-9 * np.linalg.norm(d0)  # a linear map: J is the map itself
    else:
        order = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
        assert (order > 1.8).all(), order
    # homogeneous chargeability: Seigel's apparent chargeability equals it exactly
    flat = np.full(mesh.n_cells, 0.07)
    assert np.allclose(IPSimulation(sim, np.full(mesh.n_cells, np.log(0.01)), "nonlinear").dpred(flat), 0.07,
                       rtol=1e-8)


def test_data_identical_on_any_rank_count(mesh_path, comm):
    """Predicted data on all ranks equal a one-rank run to 1e-10 (MUMPS; AMG to its tolerance)."""
    survey = line_survey(ELECTRODES, "dipole-dipole", n_max=3)
    reference = None
    if comm.rank == 0:
        mesh = load_mesh(mesh_path, MPI.COMM_SELF)
        sim = DCSimulation(mesh, survey, order=2, method="mumps")
        reference = sim.dpred(_fields(mesh)[0])
        sim.destroy()
    reference = comm.bcast(reference)
    mesh = load_mesh(mesh_path, comm)
    for method in ("mumps", "amg"):
        sim = DCSimulation(mesh, survey, order=2, method=method, prefix=f"inv{method}_")
        if method == "amg":
            from parjoint.petsc import PETSc

            PETSc.Options("invamg_").setValue("ksp_rtol", "1e-13")
        d = sim.dpred(_fields(mesh)[0])
        assert np.abs(d - reference).max() <= 1e-10 * np.abs(reference).max(), method
        sim.destroy()


def test_source_groups_give_the_same_data(mesh_path, comm):
    """Poles solved in one group per rank, moved back: same data and sensitivities."""
    mesh = load_mesh(mesh_path, comm)
    survey = line_survey(ELECTRODES, "dipole-dipole", n_max=3)
    one = DCSimulation(mesh, survey, order=2, method="mumps", prefix="g1_")
    split = DCSimulation(mesh, survey, order=2, method="mumps", prefix="gn_", source_groups=comm.size)
    m, v = _fields(mesh)
    d1, d2 = one.dpred(m), split.dpred(m)
    assert np.abs(d1 - d2).max() <= 1e-10 * np.abs(d1).max()
    w = np.linspace(-1.0, 1.0, survey.n_data)
    assert np.allclose(one.Jtvec(m, w), split.Jtvec(m, w), rtol=1e-9,
                       atol=1e-12 * comm.allreduce(np.abs(one.Jtvec(m, w)).max(), op=MPI.MAX))
