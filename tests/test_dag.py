"""The numpy-built DMPlex topology matches PETSc's own DMPlexInterpolate exactly."""

from __future__ import annotations

import numpy as np
import pytest

from meshgen import box_with_block
from parjoint.mesh.dag import build_topology, dag_arrays
from parjoint.mesh.gmsh_reader import read_msh
from parjoint.mesh.plex import petsc_orientation
from parjoint.petsc import IntType, PETSc, plex_check, plex_create_from_dag


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("dag") / "m.msh")
    box_with_block(path, h=250.0)
    m = read_msh(path)
    cells, _ = petsc_orientation(m.cells, m.coords)
    return cells, m.coords


def test_same_dag_as_dmplex_interpolate(small):
    cells, coords = small
    ref = PETSc.DMPlex().createFromCellList(3, cells.astype(IntType), coords, interpolate=True,
                                            comm=PETSc.COMM_SELF)
    dm = PETSc.DMPlex().create(comm=PETSc.COMM_SELF)
    dm.setDimension(3)
    dm.setCoordinateDim(3)
    plex_create_from_dag(dm, *dag_arrays(cells, coords))
    assert dm.getChart() == ref.getChart()
    for depth in range(4):
        assert dm.getDepthStratum(depth) == ref.getDepthStratum(depth)
    for p in range(*dm.getChart()):
        assert np.array_equal(dm.getCone(p), ref.getCone(p)), p
        assert np.array_equal(dm.getConeOrientation(p), ref.getConeOrientation(p)), p
    for what in ("symmetry", "skeleton", "faces", "geometry"):
        assert plex_check(dm, what) == 0, what


def test_inverted_cell_is_detected(small):
    cells, coords = small
    bad = cells.copy()
    bad[0, [0, 1]] = bad[0, [1, 0]]  # one cell turned inside out overlaps its neighbours
    with pytest.raises(ValueError, match="conforming"):
        build_topology(bad, len(coords))


def test_face_shared_by_three_cells_is_detected(small):
    cells, coords = small
    with pytest.raises(ValueError, match="conforming"):
        build_topology(np.concatenate([cells, cells[:1]]), len(coords))
