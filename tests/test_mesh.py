"""The distributed mesh: rank invariance, ghost exchange, numbering, boundaries.

These tests are marked ``mpi``: ``make test`` runs them on 1, 2 and 4 ranks, and each
run compares against references computed independently (analytic geometry, or the
serial arrays of the mesh file), so agreement on all three rank counts shows the
results do not depend on the partition.
"""

from __future__ import annotations

import numpy as np
import pytest
from mpi4py import MPI

from meshgen import BLOCK, DOMAIN, expected_volumes
from parjoint.mesh import load_mesh

pytestmark = pytest.mark.mpi
RTOL = 1e-12  # documented rank-invariance tolerance (sums in a different order)


@pytest.fixture(scope="module")
def mesh(block_mesh, comm):
    return load_mesh(block_mesh, comm)


@pytest.fixture(scope="module")
def serial(block_mesh, comm):
    """The file's arrays, read on every rank (small mesh) for independent references."""
    from parjoint.mesh.gmsh_reader import read_msh

    return read_msh(block_mesh)


def test_region_volumes_match_geometry(mesh):
    got = mesh.region_volumes()
    for name, value in expected_volumes().items():
        assert got[name] == pytest.approx(value, rel=RTOL)
    assert mesh.sum(mesh.volume) == pytest.approx(float(np.prod(DOMAIN[1] - DOMAIN[0])), rel=RTOL)


def test_cell_counts_match_file(mesh, serial):
    assert mesh.n_cells_global == len(serial.cells)
    counts = mesh.region_cell_counts()
    for tag, name in serial.region_names.items():
        assert counts[name] == int((serial.cell_region == tag).sum())
    # every file cell appears exactly once across ranks
    allorig = np.concatenate(mesh.comm.allgather(mesh.cell_original))
    assert np.array_equal(np.sort(allorig), np.arange(len(serial.cells)))


def test_cells_keep_their_region_and_vertices(mesh, serial):
    assert np.array_equal(mesh.cell_region, serial.cell_region[mesh.cell_original])
    mine = np.sort(mesh.vertex_coords[mesh.cell_vertices].reshape(-1, 12), axis=1)
    ref = np.sort(serial.coords[serial.cells[mesh.cell_original]].reshape(-1, 12), axis=1)
    assert np.array_equal(mine, ref)
    assert np.array_equal(mesh.vertex_coords, serial.coords[mesh.vertex_original])


def test_cells_are_in_locality_order(mesh, serial):
    """Loading reorders cells along a Morton curve: consecutive local cells are
    neighbours, where the file's order jumps across the mesh."""
    def median_step(centroids):
        return np.median(np.linalg.norm(np.diff(centroids, axis=0), axis=1))

    size = np.median(mesh.volume) ** (1 / 3)
    assert median_step(mesh.centroid) < 2.5 * size
    file_centroids = serial.coords[serial.cells].mean(axis=1)
    assert median_step(file_centroids) > 2 * median_step(mesh.centroid)


def test_boundary_areas(mesh):
    lo, hi = DOMAIN
    footprint = (hi[0] - lo[0]) * (hi[1] - lo[1])
    height = hi[2] - lo[2]
    area = {side: mesh.sum(mesh.boundary(side).area) for side in
            ("top", "bottom", "sides", "xmin", "xmax", "ymin", "ymax", "surface")}
    assert area["top"] == pytest.approx(footprint, rel=RTOL)
    assert area["bottom"] == pytest.approx(footprint, rel=RTOL)
    assert area["surface"] == pytest.approx(footprint, rel=RTOL)  # air-earth interface z = 0
    assert area["xmin"] == pytest.approx((hi[1] - lo[1]) * height, rel=RTOL)
    assert area["sides"] == pytest.approx(2 * ((hi[0] - lo[0]) + (hi[1] - lo[1])) * height, rel=RTOL)
    surf = mesh.boundary("surface")
    assert np.allclose(surf.centroid[:, 2], 0.0, atol=1e-9)
    assert np.allclose(surf.normal, [0, 0, 1], atol=1e-12)  # out of the earth cell
    assert not mesh.is_air[surf.cell].any()
    bottom = mesh.boundary("bottom")
    assert np.allclose(bottom.normal, [0, 0, -1], atol=1e-12)


def test_ghost_exchange_matches_owner(mesh, comm):
    # the value seen for a ghost equals the owner's value, fetched independently
    field = mesh.cell_original * 3.0 + 0.5
    with_ghosts = mesh.ghost_values(field)
    owners = np.concatenate(comm.allgather(mesh.cell_global))
    values = np.concatenate(comm.allgather(field))
    lookup = np.empty(mesh.n_cells_global)
    lookup[owners] = values
    assert np.array_equal(with_ghosts[mesh.n_cells:], lookup[mesh.ghost_global])
    assert np.array_equal(with_ghosts[:mesh.n_cells], field)
    # vector-valued data (the four vertex coordinates of each cell) travel the same way
    corners = mesh.vertex_coords[mesh.cell_vertices]
    ghost_corners = mesh.ghost_values(corners)[mesh.n_cells:]
    assert ghost_corners.shape == (mesh.n_ghosts, 4, 3)
    assert (comm.allreduce(mesh.n_ghosts) > 0) == (comm.size > 1)


def test_neighbors_share_the_face(mesh):
    corners = mesh.ghost_values(mesh.vertex_coords[mesh.cell_vertices])
    nb = mesh.cell_neighbors
    cell, k = np.nonzero(nb >= 0)
    face_xyz = mesh.vertex_coords[mesh.face_vertices[mesh.cell_faces[cell, k]]]  # (n, 3, 3)
    other = corners[nb[cell, k]]  # (n, 4, 3)
    d = np.linalg.norm(face_xyz[:, :, None, :] - other[:, None, :, :], axis=3).min(axis=2)
    assert d.max() < 1e-9
    # the other cell is different from the cell itself
    assert not np.any(nb[cell, k] == cell)
    # each interior face is seen from both sides: faces without neighbour are on the outer boundary
    lo, hi = DOMAIN
    c, k = np.nonzero(nb < 0)
    fc = mesh.face_centroid[mesh.cell_faces[c, k]]
    on_outer = (np.isclose(fc, lo, atol=1e-6) | np.isclose(fc, hi, atol=1e-6)).any(axis=1)
    assert on_outer.all()


def test_global_numbering_consistent(mesh, comm):
    def gather(a):
        return np.concatenate(comm.allgather(a))

    vid = gather(mesh.vertex_global)
    vxyz = gather(mesh.vertex_coords)
    assert vid.min() == 0 and vid.max() == mesh.n_vertices_global - 1
    order = np.argsort(vid, kind="stable")
    vid, vxyz = vid[order], vxyz[order]
    same = vid[1:] == vid[:-1]
    assert np.array_equal(vxyz[1:][same], vxyz[:-1][same])  # shared copies agree
    assert len(np.unique(vid)) == mesh.n_vertices_global
    assert comm.allreduce(int(mesh.vertex_owned.sum())) == mesh.n_vertices_global
    # edges: the same global edge joins the same global vertices on every rank
    eid = gather(mesh.edge_global)
    ends = gather(np.sort(mesh.vertex_global[mesh.edge_vertices], axis=1))
    order = np.argsort(eid, kind="stable")
    eid, ends = eid[order], ends[order]
    same = eid[1:] == eid[:-1]
    assert np.array_equal(ends[1:][same], ends[:-1][same])
    assert len(np.unique(eid)) == mesh.n_edges_global
    # Euler characteristic of a tetrahedralised ball: V - E + F - C = 1
    assert mesh.n_vertices_global - mesh.n_edges_global + mesh.n_faces_global - mesh.n_cells_global == 1


def test_cell_edges_orientation(mesh):
    from parjoint.mesh.mesh import TET_EDGES

    edges, sign = mesh.cell_edges
    a = mesh.cell_vertices[:, TET_EDGES[:, 0]]
    b = mesh.cell_vertices[:, TET_EDGES[:, 1]]
    ends = np.sort(mesh.edge_vertices[edges], axis=2)
    assert np.array_equal(ends, np.sort(np.stack([a, b], axis=2), axis=2))
    gv = mesh.vertex_global
    assert np.array_equal(sign == 1, gv[a] < gv[b])


def test_p1_gradients_exact_for_linear_fields(mesh):
    g = np.array([0.3, -1.2, 2.5])
    f = mesh.vertex_coords @ g + 7.0
    grad = np.einsum("ck,ckj->cj", f[mesh.cell_vertices], mesh.grad_p1)
    assert np.allclose(grad, g, rtol=1e-9, atol=1e-12)
    assert np.allclose(mesh.grad_p1.sum(axis=1), 0.0, atol=1e-12)
    assert (mesh.volume > 0).all()
    assert (mesh.quality > 0).all() and (mesh.quality <= 1 + 1e-12).all()


def test_block_region_centroids_inside_block(mesh):
    block = mesh.cell_region == mesh.region_tag("block")
    c = mesh.centroid[block]
    assert ((c >= BLOCK[0]) & (c <= BLOCK[1])).all()
    assert (mesh.centroid[mesh.is_air][:, 2] > 0).all()


def test_dmplex_is_consistent(mesh):
    from parjoint.petsc import plex_check

    for what in ("symmetry", "skeleton", "faces", "pointsf"):
        assert plex_check(mesh.dm, what) == 0, what


def test_cell_vec_sizes(mesh):
    vec = mesh.create_cell_vec()
    assert vec.getSizes() == (mesh.n_cells, mesh.n_cells_global)
    vec.destroy()


def test_mesh_totals_do_not_depend_on_rank_count(block_mesh, comm):
    """Distribute the same mesh on every sub-size 1..size and compare the totals."""
    ref = None
    for size in range(1, comm.size + 1):
        sub = comm.Split(0 if comm.rank < size else MPI.UNDEFINED, comm.rank)
        result = None
        if sub != MPI.COMM_NULL:
            m = load_mesh(block_mesh, sub)
            result = (m.n_cells_global, m.region_volumes(), m.sum(m.boundary("surface").area))
            sub.Free()
        result = comm.bcast(result, root=0)
        if ref is None:
            ref = result
        assert result[0] == ref[0]
        for k in ref[1]:
            assert result[1][k] == pytest.approx(ref[1][k], rel=RTOL)
        assert result[2] == pytest.approx(ref[2], rel=RTOL)


def test_per_cell_geometry_is_bitwise_rank_invariant(block_mesh, comm):
    """Each cell's vertex order is canonical, so per-cell numbers do not change with the partition."""
    mesh = load_mesh(block_mesh, comm)
    serial = None
    if comm.rank == 0:
        one = load_mesh(block_mesh, MPI.COMM_SELF)
        serial = np.empty((one.n_cells, 13))
        serial[one.cell_original] = np.column_stack([one.volume, one.grad_p1.reshape(-1, 12)])
    serial = comm.bcast(serial)
    mine = np.column_stack([mesh.volume, mesh.grad_p1.reshape(-1, 12)])
    assert np.array_equal(mine, serial[mesh.cell_original])
