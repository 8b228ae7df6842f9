"""MT sensitivities and parallel invariance (run on 1, 2 and 4 ranks).

Adjoint test: w . (J v) = v . (J^T w); Taylor test: |d(m + h v) - d(m) - h J v| falls
as h^2.  With MUMPS the solves are exact up to the conditioning of the block system
(air at 1e-8 S/m), which bounds the adjoint agreement near 1e-9 relative; with the
default FGMRES + PRESB/AMS solver it is set by the Krylov tolerance.  Responses on
any number of ranks, and with the frequencies spread over groups of ranks, equal a
one-rank run to solver tolerance.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from mpi4py import MPI

from parjoint.mesh import load_mesh
from parjoint.mesh.builder import build_mesh_from_spec
from parjoint.petsc import PETSc
from parjoint.physics.mt.simulation import MTSimulation
from parjoint.physics.mt.survey import MTSurvey

pytestmark = pytest.mark.mpi
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FREQUENCIES = np.array([0.3, 30.0])


@pytest.fixture(scope="module")
def mesh_path(shared_dir, comm):
    path = os.path.join(shared_dir, "mt_block.msh")
    build_mesh_from_spec(os.path.join(REPO, "meshes", "mt_block.toml"), path, comm=comm)
    return path


def _survey(kind: str = "impedance") -> MTSurvey:
    xyz = np.array([[-150.0, 0.0, 0.0], [0.0, 0.0, 0.0], [150.0, 150.0, 0.0]])
    mask = np.ones((2, 3, 6), bool)
    mask[1, 2, 4:] = False  # a station without tipper at one frequency
    mask[0, 0, 0] = False
    return MTSurvey(xyz, FREQUENCIES, mask, kind=kind)


def _fields(mesh):
    """A smooth model and a perturbation that depend on position only (any partition)."""
    c = mesh.centroid
    m = np.log(0.01) + 0.6 * np.sin(c[:, 0] / 170.0) * np.cos(c[:, 2] / 110.0)
    m[mesh.cell_region == mesh.region_tag("block")] = np.log(0.1)
    v = np.cos(c[:, 0] / 90.0 + c[:, 2] / 60.0) * np.exp(-(c ** 2).sum(axis=1) / 600.0 ** 2)
    return m, v


def _check(sim, m, v, comm, adjoint_tol):
    w = np.random.default_rng(7).standard_normal(sim.n_data)
    d0, Jv, Jtw = sim.dpred(m), sim.Jvec(m, v), sim.Jtvec(m, w)
    lhs, rhs = float(w @ Jv), comm.allreduce(float(v @ Jtw))
    assert abs(lhs - rhs) <= adjoint_tol * abs(lhs), (lhs, rhs)
    errors = [np.linalg.norm(sim.dpred(m + h * v) - d0 - h * Jv) for h in (0.2, 0.1, 0.05)]
    order = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert (order > 1.8).all(), order


@pytest.mark.parametrize("kind", ["impedance", "rho_phase"])
def test_jacobian_mumps(mesh_path, comm, kind):
    mesh = load_mesh(mesh_path, comm)
    m, v = _fields(mesh)
    sim = MTSimulation(mesh, _survey(kind), m, method="mumps", prefix=f"jm{kind[0]}_")
    _check(sim, m, v, comm, 1e-7)
    assert not sim.Jtvec(m, np.ones(sim.n_data))[mesh.is_air].any()
    sim.destroy()


def test_jacobian_ams(mesh_path, comm):
    mesh = load_mesh(mesh_path, comm)
    m, v = _fields(mesh)
    PETSc.Options("ja_").setValue("ksp_rtol", "1e-12")
    sim = MTSimulation(mesh, _survey(), m, prefix="ja_")
    _check(sim, m, v, comm, 1e-6)
    sim.destroy()


def test_responses_identical_on_any_rank_count_and_grouping(mesh_path, comm):
    """One rank (MUMPS) as the reference; all ranks with MUMPS, and with AMS for every
    grouping of the ranks into frequency groups (one group, ..., one group per rank),
    keeping every frequency's system or refilling one."""
    survey = _survey()
    reference = None
    if comm.rank == 0:
        mesh = load_mesh(mesh_path, MPI.COMM_SELF)
        m, _ = _fields(mesh)
        sim = MTSimulation(mesh, survey, m, method="mumps", prefix="ref_")
        reference = sim.responses(m)
        sim.destroy()
    reference = comm.bcast(reference)
    scale = np.abs(reference[:, :, :4]).max(axis=(1, 2))[:, None, None]
    mesh = load_mesh(mesh_path, comm)
    m, v = _fields(mesh)
    single = MTSimulation(mesh, survey, m, method="mumps", prefix="single_")
    w = np.linspace(-1.0, 1.0, survey.n_data)
    g1, Jv1 = single.Jtvec(m, w), single.Jvec(m, v)
    gscale = comm.allreduce(np.abs(g1).max(), op=MPI.MAX)
    runs = [("mumps", 1, True, 1e-9)] + [("ams", g, keep, 1e-7) for g in range(1, comm.size + 1) if comm.size % g == 0
                                         for keep in (True, False)]
    for method, groups, keep, tol in runs:
        prefix = f"inv{method[0]}{groups}{int(keep)}_"
        if method == "ams":
            PETSc.Options(prefix).setValue("ksp_rtol", "1e-10")
        sim = MTSimulation(mesh, survey, m, method=method, prefix=prefix, frequency_groups=groups,
                           keep_systems=keep)
        R = sim.responses(m)
        label = (method, groups, keep)
        assert (np.abs(R - reference)[:, :, :4] / scale).max() <= tol, label
        assert np.abs(R - reference)[:, :, 4:].max() <= 10 * tol, label  # tipper ~ 0.02
        # sensitivities too (they run through the groups' mesh copies and back)
        assert comm.allreduce(np.abs(g1 - sim.Jtvec(m, w)).max(), op=MPI.MAX) <= 1e-6 * gscale, label
        assert np.allclose(sim.Jvec(m, v), Jv1, rtol=1e-6, atol=1e-6 * np.abs(Jv1).max()), label
        sim.destroy()
    single.destroy()
