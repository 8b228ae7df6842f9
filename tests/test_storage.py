"""Saving the distributed mesh to parallel HDF5 and reloading it; XDMF field output."""

from __future__ import annotations

import os

import numpy as np
import pytest
from mpi4py import MPI

from parjoint.errors import InputError
from parjoint.mesh import load_mesh

pytestmark = pytest.mark.mpi


def _by_original(mesh, values):
    """Gather per-cell values in file order (for comparing meshes across partitions)."""
    orig = np.concatenate(mesh.comm.allgather(mesh.cell_original))
    vals = np.concatenate(mesh.comm.allgather(values))
    out = np.empty_like(vals)
    out[orig] = vals
    return out


def test_reload_same_rank_count_restores_the_partition(block_mesh, shared_dir, comm):
    mesh = load_mesh(block_mesh, comm)
    path = os.path.join(shared_dir, f"same_{comm.size}.h5")
    mesh.save(path)
    again = load_mesh(path, comm)
    assert again.n_cells == mesh.n_cells  # same partition: nothing re-partitioned
    assert np.array_equal(again.cell_original, mesh.cell_original)
    assert np.array_equal(again.cell_region, mesh.cell_region)
    assert np.array_equal(again.volume, mesh.volume)
    assert np.array_equal(again.cell_neighbors, mesh.cell_neighbors)
    assert np.array_equal(again.vertex_global, mesh.vertex_global)
    assert again.region_names == mesh.region_names
    from parjoint.petsc import plex_check

    for what in ("symmetry", "skeleton", "faces", "pointsf"):
        assert plex_check(again.dm, what) == 0, what
    # ghost exchange works on the rebuilt point SF
    g = again.ghost_values(again.cell_original.astype(float))
    assert np.array_equal(g, mesh.ghost_values(mesh.cell_original.astype(float)))


def test_reload_on_other_rank_count(block_mesh, shared_dir, comm):
    """Save on one rank, reload on all (repartitioned): same cells, same geometry."""
    path = os.path.join(shared_dir, f"serial_{comm.size}.h5")
    if comm.rank == 0:
        load_mesh(block_mesh, MPI.COMM_SELF).save(path)
    comm.Barrier()
    ref = load_mesh(block_mesh, comm)
    again = load_mesh(path, comm)
    assert again.n_cells_global == ref.n_cells_global
    assert np.array_equal(_by_original(again, again.volume), _by_original(ref, ref.volume))
    assert np.array_equal(_by_original(again, again.cell_region), _by_original(ref, ref.cell_region))
    assert again.region_volumes() == pytest.approx(ref.region_volumes(), rel=1e-12)


def test_damaged_files_are_refused(block_mesh, shared_dir, comm):
    path = os.path.join(shared_dir, f"cut_{comm.size}.h5")
    load_mesh(block_mesh, comm).save(path)
    if comm.rank == 0:
        size = os.path.getsize(path)
        with open(path, "r+b") as fh:
            fh.truncate(size // 2)
    comm.Barrier()
    with pytest.raises(InputError, match="cut_"):
        load_mesh(path, comm)
    not_mesh = os.path.join(shared_dir, f"notmesh_{comm.size}.h5")
    if comm.rank == 0:
        import h5py

        with h5py.File(not_mesh, "w") as fh:
            fh["x"] = np.arange(3)
    comm.Barrier()
    with pytest.raises(InputError, match="not a parjoint mesh file"):
        load_mesh(not_mesh, comm)


def test_xdmf_cell_fields(block_mesh, shared_dir, comm):
    import h5py

    mesh = load_mesh(block_mesh, comm)
    path = os.path.join(shared_dir, f"fields_{comm.size}.xdmf")
    from parjoint.io.xdmf import write_cell_fields

    write_cell_fields(mesh, path, {"orig": mesh.cell_original.astype(float), "c": mesh.centroid})
    comm.Barrier()
    if comm.rank == 0:
        text = open(path).read()
        assert f'NumberOfElements="{mesh.n_cells_global}"' in text and "fields/orig" in text
        with h5py.File(path + ".h5", "r") as fh:
            topo = fh["mesh/topology"][...]
            geo = fh["mesh/geometry"][...]
            orig = fh["fields/orig"][...].astype(np.int64)
            cen = fh["fields/c"][...]
        assert topo.shape == (mesh.n_cells_global, 4) and geo.shape == (mesh.n_vertices_global, 3)
        assert np.allclose(geo[topo].mean(axis=1), cen, atol=1e-9)  # geometry and fields line up
        assert np.array_equal(np.sort(orig), np.arange(mesh.n_cells_global))
        assert not [f for f in os.listdir(shared_dir) if ".partial" in f]
