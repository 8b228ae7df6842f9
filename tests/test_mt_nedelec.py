"""Nedelec edge elements, the 1-D layered solution and the MT boundary values.

Element matrices are checked on fields the lowest-order space contains exactly,
E = a + b x r: the interpolant's dofs are E(midpoint) . (head - tail), and the
assembled forms give e^T M_sigma e = sum_c sigma_c int_c |E|^2 (degree-2 quadrature,
exact) and e^T C e = |2 b|^2 V.  The curl-curl matrix annihilates discrete gradients.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from mpi4py import MPI

from mtmesh import layered_box
from parjoint.fem.assembly import Pattern
from parjoint.fem.nedelec import EdgeSpace, curl_mass_scatter
from parjoint.mesh import load_mesh
from parjoint.petsc import PETSc
from parjoint.physics.mt.boundary import BoundaryValues
from parjoint.physics.mt.layered import MU0, layered_field, layered_impedance

STATIONS = np.array([[0.0, 0.0]])


@pytest.fixture(scope="module")
def mesh_path(shared_dir, comm):
    path = os.path.join(shared_dir, "mt_small.msh")
    if comm.rank == 0:
        layered_box(path, STATIONS, interfaces=(120.0,), half=200.0, depth=600.0, air=500.0, h0=40.0, growth=0.3,
                    air_growth=0.5)
    comm.Barrier()
    return path


def _assembled(mesh, sigma):
    """The curl-curl and mass matrices, assembled into PETSc through the edge pattern."""
    space = EdgeSpace(mesh)
    pattern = Pattern(space, space.kernel.dofs)
    C, M = np.zeros(pattern.nnz), np.zeros(pattern.nnz)
    curl_mass_scatter(*space.kernel, sigma, np.zeros(space.n_local, bool), pattern.rowptr,
                      pattern.within, C, M)
    return space, pattern, pattern.fill(pattern.new_matrix(), C), pattern.fill(pattern.new_matrix(), M)


def _global(space, local):
    vec = space.create_vec()
    vec.getArray()[:] = local[:space.n_owned]
    return vec


def test_element_matrices_exact_for_linear_fields(mesh_path):
    mesh = load_mesh(mesh_path, MPI.COMM_SELF)
    rng = np.random.default_rng(1)
    sigma = np.exp(rng.uniform(-2.0, 2.0, mesh.n_cells))
    space, pattern, C_mat, M_mat = _assembled(mesh, sigma)
    a, b = np.array([0.3, -1.2, 0.7]), np.array([0.002, 0.001, -0.003])
    ends = mesh.vertex_coords[space.dof_vertices]
    mid = ends.mean(axis=1)
    e = _global(space, np.einsum("ij,ij->i", a + np.cross(b, mid), ends[:, 1] - ends[:, 0]))
    # degree-2 rule on each tetrahedron: exact for |E|^2
    alpha, beta = 0.5854101966249685, 0.1381966011250105
    x = mesh.vertex_coords[mesh.cell_vertices]  # (nc, 4, 3)
    energy = 0.0
    for k in range(4):
        w = np.full(4, beta)
        w[k] = alpha
        p = np.einsum("a,cad->cd", w, x)
        energy += np.sum(sigma * mesh.volume / 4 * ((a + np.cross(b, p)) ** 2).sum(axis=1))
    y = e.duplicate()
    M_mat.mult(e, y)
    assert e.dot(y) == pytest.approx(energy, rel=1e-11)
    C_mat.mult(e, y)
    assert e.dot(y) == pytest.approx(4 * (b @ b) * mesh.volume.sum(), rel=1e-11)
    assert pattern.within.dtype == np.uint8  # one-byte slots within rows


@pytest.mark.mpi
def test_curl_annihilates_gradients_and_edge_numbering(mesh_path, comm):
    mesh = load_mesh(mesh_path, comm)
    space, _, C_mat, _ = _assembled(mesh, np.ones(mesh.n_cells))
    # global numbering: contiguous per rank, each edge once
    owned = space.local_to_global[:space.n_owned]
    assert np.array_equal(owned, space.global_offset + np.arange(space.n_owned))
    assert comm.allreduce(space.n_owned) == mesh.n_edges_global
    # ghosts carry their owner's number: every global number appears with the same end points
    ends = mesh.vertex_global[space.dof_vertices]  # global vertex numbers, tail then head
    everything = comm.allgather((space.local_to_global, ends))
    table = {}
    for numbers, pairs in everything:
        for n, pair in zip(numbers.tolist(), map(tuple, pairs.tolist())):
            assert table.setdefault(n, pair) == pair
    assert len(table) == mesh.n_edges_global
    G = space.discrete_gradient()
    x, y, z = space.vertex_coordinate_vecs()
    gx = space.create_vec()
    G.mult(x, gx)
    ends = mesh.vertex_coords[space.dof_vertices[:space.n_owned]]
    assert np.allclose(gx.getArray(), ends[:, 1, 0] - ends[:, 0, 0])
    # C (G phi) = 0 for a random nodal phi, assembled over ranks
    phi = x.duplicate()
    phi.setRandom()
    g = space.create_vec()
    G.mult(phi, g)
    Cg = space.create_vec()
    C_mat.mult(g, Cg)
    scale = C_mat.norm(PETSc.NormType.INFINITY) * g.norm(3)
    assert Cg.norm(3) < 1e-12 * scale
    # the boundary flags are those of the edges of boundary faces, consistent across ranks
    fixed = space.outer_boundary()
    count = comm.allreduce(int(fixed[:space.n_owned].sum()))
    serial = None
    if comm.rank == 0:
        serial_mesh = load_mesh(mesh_path, MPI.COMM_SELF)
        serial = int(EdgeSpace(serial_mesh).outer_boundary().sum())
    assert count == comm.bcast(serial)


def test_layered_field_solves_the_1d_equation():
    omega = 2 * np.pi * 3.0
    tops = np.array([1000.0, 0.0, -150.0, -400.0])
    sigma = np.array([1e-8, 0.01, 0.5, 0.002])
    z = np.linspace(999.0, -2000.0, 3001)
    E = np.array([layered_field(omega, tops, sigma, 4, zz) for zz in z])
    # E/H at the top equals the surface impedance carried up through the air
    Z_surface = layered_impedance([3.0], sigma[1:], np.diff(-tops[1:]))[0]
    E_top = layered_field(omega, tops, sigma, 4, tops[0])
    assert E_top == pytest.approx(Z_surface + 1j * omega * MU0 * 1000.0, rel=1e-6)
    # E'' = i omega mu0 sigma E inside each layer (central differences)
    dz = z[0] - z[1]
    second = (E[:-2] - 2 * E[1:-1] + E[2:]) / dz ** 2
    k2 = 1j * omega * MU0 * sigma[np.searchsorted(-tops, -z[1:-1]) - 1]
    inside = np.all(np.abs(z[1:-1, None] - tops[None, :]) > 2 * dz, axis=1)
    residual = np.abs(second - k2 * E[1:-1])[inside]
    assert residual.max() < 1e-4 * np.abs(k2 * E[1:-1])[inside].max()
    # E and dE/dz (H) continuous at the interfaces
    for t in tops[1:]:
        below, above = layered_field(omega, tops, sigma, 4, t - 1e-6), layered_field(omega, tops, sigma, 4, t + 1e-6)
        assert below == pytest.approx(above, rel=1e-6)
    # a half-space: E = Z e^{-k d}
    k = np.sqrt(1j * omega * MU0 * 0.01)
    assert layered_field(omega, np.array([0.0]), np.array([0.01]), 1, -300.0) == pytest.approx(
        1j * omega * MU0 / k * np.exp(-k * 300.0), rel=1e-12)


@pytest.mark.mpi
def test_boundary_values_are_line_integrals_of_the_1d_field(mesh_path, comm):
    mesh = load_mesh(mesh_path, comm)
    sigma = np.where(mesh.is_air, 1e-8, np.where(mesh.cell_region == mesh.region_tag("layer2"), 0.1, 0.01))
    space = EdgeSpace(mesh)
    fixed = space.outer_boundary()
    bv = BoundaryValues(mesh, space, fixed, sigma)
    f = 5.0
    dofs, values = bv.values(f)
    tops = np.array([mesh.bounds[1][2], 0.0, -120.0])
    ends = mesh.vertex_coords[space.dof_vertices[dofs]]
    t = np.linspace(0.0, 1.0, 201)
    exact = np.zeros(len(dofs), complex)
    for n in range(len(dofs)):  # a fine trapezoid rule of the exact field along each edge
        z = ends[n, 0, 2] + t * (ends[n, 1, 2] - ends[n, 0, 2])
        E = np.array([layered_field(2 * np.pi * f, tops, np.array([1e-8, 0.01, 0.1]), 3, zz) for zz in z])
        exact[n] = np.trapz(E, t)
    delta = ends[:, 1] - ends[:, 0]
    scale = np.abs(exact).max() * np.abs(delta).max()
    assert np.abs(values[:, 0] - exact * delta[:, 0]).max() < 1e-4 * scale
    assert np.abs(values[:, 1] - exact * delta[:, 1]).max() < 1e-4 * scale
    assert comm.allreduce(len(dofs)) >= comm.size  # every rank's boundary edges were evaluated
