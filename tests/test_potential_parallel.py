"""Distributed potential-field simulations on 1, 2 and 4 ranks: adjoint and linearity
(Taylor) tests of J, data identical to a serial run, the storage options' error
bounds, the memory refusal, and the weighting helpers.

Run serially and under ``mpirun -n 2`` / ``-n 4`` (``-m mpi``); the serial reference
is computed on rank 0 with the mesh loaded on MPI.COMM_SELF.
"""

from __future__ import annotations

import numpy as np
import pytest
from mpi4py import MPI

from parjoint.errors import InputError
from parjoint.mesh import load_mesh
from parjoint.physics.gravity.simulation import GravitySimulation
from parjoint.physics.magnetics.field import InducingField
from parjoint.physics.magnetics.simulation import MagneticSimulation
from parjoint.physics.potential import StorageOptions
from parjoint.physics.potential.weighting import depth_weights, sensitivity_weights

pytestmark = pytest.mark.mpi
FIELD = InducingField(inclination=58.0, declination=12.0, strength=51000.0)
X = np.linspace(-300.0, 300.0, 5)
STATIONS = np.vstack([np.column_stack([np.repeat(X, 5), np.tile(X, 5), np.full(25, 12.0)]),
                      [[0.0, 0.0, -150.0], [250.0, -250.0, 0.0]]])  # in the block (borehole); on the surface


def _model(mesh):
    """Smooth, position-dependent fields (the same on any partition); zero in the air."""
    c = mesh.centroid
    earth = ~mesh.is_air
    m = np.where(earth, 100.0 + 80.0 * np.sin(c[:, 0] / 150.0) * np.cos(c[:, 2] / 90.0), 0.0)
    v = np.where(earth, np.cos(c[:, 1] / 70.0 + c[:, 2] / 110.0), 0.0)
    return m, v


def _remanence(mesh):
    block = mesh.cell_region == mesh.region_tag("block")
    return np.where(block[:, None], [0.3, -0.1, 0.8], 0.0)


def _simulations(mesh, options=StorageOptions()):
    yield GravitySimulation(mesh, STATIONS, ("gz", "gx", "gxz", "gzz"), options=options, verbose=False)
    yield MagneticSimulation(mesh, STATIONS, FIELD, ("tmi", "by"), remanence=_remanence(mesh), options=options,
                             verbose=False)


def test_adjoint_and_linearity(block_mesh, comm):
    mesh = load_mesh(block_mesh, comm)
    m, v = _model(mesh)
    w = np.random.default_rng(5).standard_normal(2 * 27)
    for sim in _simulations(mesh):
        w = np.resize(w, sim.n_data)
        Jv, Jtw = sim.Jvec(m, v), sim.Jtvec(m, w)
        lhs, rhs = float(w @ Jv), comm.allreduce(float(v @ Jtw))
        assert abs(lhs - rhs) <= 1e-12 * np.abs(w).sum() * np.abs(Jv).max()
        d0 = sim.dpred(m)
        for h in (1.0, 1e-3):  # linear: the finite change equals J v to round-off
            change = sim.dpred(m + h * v) - d0
            assert np.abs(change - h * Jv).max() <= 1e-12 * (np.abs(d0).max() + np.abs(h * Jv).max())


def test_data_identical_on_any_number_of_ranks(block_mesh, comm):
    mesh = load_mesh(block_mesh, comm)
    m, _ = _model(mesh)
    data = [sim.dpred(m) for sim in _simulations(mesh)]
    ok = True
    if comm.rank == 0:
        serial = load_mesh(block_mesh, MPI.COMM_SELF)
        ms, _ = _model(serial)
        for d, sim in zip(data, _simulations(serial)):
            ok &= bool(np.abs(d - sim.dpred(ms)).max() <= 1e-12 * np.abs(d).max())
    assert comm.bcast(ok)


def test_float32_and_truncation_bounds(block_mesh, comm):
    mesh = load_mesh(block_mesh, comm)
    stations = STATIONS[:25]  # above every earth cell: gz sensitivities are all positive
    m, _ = _model(mesh)  # positive in the earth
    exact = GravitySimulation(mesh, stations, ("gz",), verbose=False)
    d = exact.dpred(m)
    single = GravitySimulation(mesh, stations, ("gz",), options=StorageOptions(storage="float32"), verbose=False)
    # |J~ - J| <= 2^-24 |J| entrywise, and sum_j |J_ij m_j| = d_i here
    assert np.all(np.abs(single.dpred(m) - d) <= 2.0 ** -24 * d * (1 + 1e-9))
    tau = 0.05
    cut = GravitySimulation(mesh, stations, ("gz",), options=StorageOptions(compression=tau), verbose=False)
    kept = comm.allreduce(cut.sensitivity.stored_bytes) / (12.0 * exact.n_data * comm.allreduce(mesh.n_cells))
    assert kept < 0.8  # it does drop entries
    active = exact.active
    l1 = mesh.sum(np.abs(m) * mesh.volume * active)  # ||m||_1 = sum V_j |m_j|
    error = np.abs(cut.dpred(m) - d)
    for i in range(exact.n_data):
        row = exact.Jtvec(m, np.eye(exact.n_data)[i])
        k_max = comm.allreduce(float((np.abs(row)[active] / mesh.volume[active]).max(initial=0.0)), op=MPI.MAX)
        assert error[i] <= tau * k_max * l1
    # the truncated matrix is still a matrix: J~ and J~^T are adjoint
    v = np.cos(mesh.centroid[:, 0] / 50.0) * active
    w = np.linspace(-1.0, 1.0, exact.n_data)
    assert abs(w @ cut.Jvec(m, v) - comm.allreduce(float(v @ cut.Jtvec(m, w)))) < 1e-12 * np.abs(w @ cut.Jvec(m, v))


def test_recomputed_storage_matches(block_mesh, comm):
    mesh = load_mesh(block_mesh, comm)
    m, v = _model(mesh)
    stored, none = (list(_simulations(mesh, StorageOptions(storage=s))) for s in ("float64", "none"))
    w = np.linspace(-1.0, 1.0, stored[0].n_data)
    for a, b in zip(stored, none):
        w = np.resize(w, a.n_data)
        assert np.abs(a.dpred(m) - b.dpred(m)).max() <= 1e-13 * np.abs(a.dpred(m)).max()
        assert np.abs(a.Jtvec(m, w) - b.Jtvec(m, w)).max() <= 1e-13 * np.abs(a.Jtvec(m, w)).max()


def test_memory_refusal_is_collective(block_mesh, comm):
    mesh = load_mesh(block_mesh, comm)
    with pytest.raises(InputError, match="GB per rank") as info:
        GravitySimulation(mesh, STATIONS, ("gz",), options=StorageOptions(max_memory_gb=1e-6), verbose=False)
    assert info.value.collective
    # the same problem fits when nothing is stored... but not with a tiny limit either
    report = GravitySimulation(mesh, STATIONS, ("gz",), verbose=False).sensitivity.report
    assert report["float32"] == pytest.approx(0.5 * report["float64"])
    assert report["float64"] == comm.allreduce(8.0 * len(STATIONS) * int((~mesh.is_air).sum()), op=MPI.MAX)


def test_weights(block_mesh, comm):
    mesh = load_mesh(block_mesh, comm)
    earth = ~mesh.is_air
    w = depth_weights(mesh, z0=20.0, beta=3.0)
    depth = -mesh.centroid[:, 2]  # the surface of this mesh is z = 0
    raw = np.where(earth, (np.maximum(depth, 0) + 20.0) ** -1.5, 0.0)
    top = comm.allreduce(float(raw.max(initial=0.0)), op=MPI.MAX)
    assert np.abs(w - raw / top).max() < 1e-12
    sim = GravitySimulation(mesh, STATIONS[:6], ("gz",), verbose=False)
    s = sensitivity_weights(sim)
    columns = np.array([sim.Jtvec(None, e) for e in np.eye(sim.n_data)])
    norms = np.sqrt((columns ** 2).sum(axis=0))
    assert np.abs(s - norms / comm.allreduce(float(norms.max()), op=MPI.MAX)).max() < 1e-12
    assert comm.allreduce(float(s.max()), op=MPI.MAX) == 1.0 and np.all(s[~earth] == 0)


def test_rank_without_active_cells(block_mesh, comm):
    """A rank may own no active cell (a partition all in the air): its columns are empty
    and the products still work, collectively, with every storage option."""
    mesh = load_mesh(block_mesh, comm)
    earth = ~mesh.is_air
    mine = earth & (comm.rank == 0)
    m = np.where(mine, 300.0, 0.0)
    reference = GravitySimulation(mesh, STATIONS, ("gz", "gxx"), verbose=False).dpred(m)
    for options, tolerance in ((StorageOptions(), 1e-12), (StorageOptions(storage="none"), 1e-12),
                               (StorageOptions(compression=1e-9), 1e-8)):
        sim = GravitySimulation(mesh, STATIONS, ("gz", "gxx"), active=mine, options=options, verbose=False)
        assert np.abs(sim.dpred(m) - reference).max() <= tolerance * np.abs(reference).max()
        assert np.all(sim.Jtvec(m, np.ones(sim.n_data))[~mine] == 0.0)
