"""Building and distributing the PETSc DMPlex of a tetrahedral mesh.

The serial mesh is read on rank 0, its interpolated topology is built with numpy
(:mod:`parjoint.mesh.dag`) and given to ``DMPlexCreateFromDAG``; PETSc's partitioner
(PTScotch by default, ``-petscpartitioner_type`` to change) then distributes it.
Per-cell data (region, position in the source file) follow the cells through the
migration star forest.
"""

from __future__ import annotations

import numpy as np
from mpi4py import MPI

from ..errors import InputError
from ..petsc import IntType, PETSc, plex_create_from_dag
from .dag import dag_arrays

REGION_LABEL = "Cell Sets"  # the label name PETSc's own mesh readers use for regions


def petsc_orientation(cells: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """Reorder each tetrahedron's vertices to PETSc's orientation (negative volume)."""
    d = coords[cells]
    e1, e2, e3 = d[:, 1] - d[:, 0], d[:, 2] - d[:, 0], d[:, 3] - d[:, 0]
    det = np.einsum("ij,ij->i", np.cross(e1, e2), e3)
    out = cells.copy()
    flip = det > 0
    out[flip, 0], out[flip, 1] = cells[flip, 1], cells[flip, 0]
    return out, det


def create_serial_plex(comm: MPI.Comm, cells: np.ndarray | None, coords: np.ndarray | None,
                       source: str) -> PETSc.DMPlex:
    """Collective: a DMPlex holding the whole mesh on rank 0 (empty elsewhere).

    ``cells``/``coords`` are read on rank 0 only; degenerate or overlapping cells give
    an InputError naming ``source``.
    """
    from ..parallel import agree_on_errors

    arrays = None
    with agree_on_errors(comm):
        if comm.rank == 0:
            oriented, det = petsc_orientation(cells, coords)
            scale = np.ptp(coords, axis=0).max() if len(coords) else 1.0
            tiny = np.abs(det) <= 1e-12 * scale**3
            if tiny.any():
                bad = int(np.flatnonzero(tiny)[0])
                raise InputError(f"{source}: {int(tiny.sum())} tetrahedra have zero volume "
                                 f"(the first is cell {bad})")
            try:
                arrays = dag_arrays(oriented, coords)
            except ValueError as exc:
                raise InputError(f"{source}: {exc}") from None
    if arrays is None:
        empty = np.zeros(0, IntType)
        arrays = (np.zeros(4, IntType), empty, empty, empty, np.zeros((0, 3)))
    dm = PETSc.DMPlex().create(comm=comm)
    dm.setDimension(3)
    dm.setCoordinateDim(3)
    plex_create_from_dag(dm, *arrays)
    return dm


def set_region_label(dm: PETSc.DMPlex, cell_region: np.ndarray) -> None:
    """Store the region tag of each local cell in the ``Cell Sets`` label."""
    dm.createLabel(REGION_LABEL)
    label = dm.getLabel(REGION_LABEL)
    for tag in np.unique(cell_region):
        cells = np.flatnonzero(cell_region == tag).astype(IntType)
        label.setStratumIS(int(tag), PETSc.IS().createGeneral(cells, comm=PETSc.COMM_SELF))


def distribute(dm: PETSc.DMPlex, cell_data: dict[str, np.ndarray], vertex_data: dict[str, np.ndarray],
               partitioner: str | None = None):
    """Collective: partition and distribute ``dm`` in place; move per-point data along.

    ``cell_data``/``vertex_data`` arrays are indexed by the cells/vertices of the
    input DM (all on rank 0 for a serial mesh).  Returns the DM and the arrays for
    the local cells and vertices after distribution.
    """
    part = dm.getPartitioner()
    part.setType(partitioner or _default_partitioner())
    part.setFromOptions()
    old = {"cell": dm.getHeightStratum(0), "vertex": dm.getDepthStratum(0)}
    sf = dm.distribute(overlap=0)
    if sf is None:  # one rank: nothing moved
        return dm, cell_data, vertex_data
    new = {"cell": dm.getHeightStratum(0), "vertex": dm.getDepthStratum(0)}
    nroots = sf.getGraph()[0]
    pend = dm.getChart()[1]
    moved = ({}, {})
    for kind, data, out in (("cell", cell_data, moved[0]), ("vertex", vertex_data, moved[1])):
        for name, values in data.items():
            floating = np.asarray(values).dtype.kind == "f"
            dtype, mpi_type = (np.float64, MPI.DOUBLE) if floating else (np.int64, MPI.INT64_T)
            root = np.zeros(nroots, dtype)
            start = old[kind][0]
            root[start:start + len(values)] = values
            leaf = np.zeros(pend, dtype)
            sf.bcastBegin(mpi_type, root, leaf, MPI.REPLACE)
            sf.bcastEnd(mpi_type, root, leaf, MPI.REPLACE)
            out[name] = leaf[new[kind][0]:new[kind][1]].copy()
    return dm, moved[0], moved[1]


def _default_partitioner() -> str:
    # PTScotch is in Debian's PETSc; ParMETIS is not (licence).  Fall back to what exists.
    for name in ("ptscotch", "parmetis"):
        if PETSc.Sys.hasExternalPackage(name):
            return name
    return "simple"


def sf_graph(sf: PETSc.SF, n_points: int) -> tuple[np.ndarray, np.ndarray]:
    """(leaf points, (n_leaves, 2) owner rank and point) of a point SF; empty if unset."""
    try:
        _, ilocal, iremote = sf.getGraph()
    except ValueError:  # graph never set (one rank)
        return np.zeros(0, np.int64), np.zeros((0, 2), np.int64)
    iremote = np.asarray(iremote, np.int64).reshape(-1, 2)
    ilocal = np.arange(len(iremote)) if ilocal is None else np.asarray(ilocal, np.int64)
    assert len(ilocal) == 0 or ilocal.max() < n_points
    return ilocal, iremote


def or_over_ranks(dm: PETSc.DMPlex, points: np.ndarray, flags: np.ndarray) -> np.ndarray:
    """Collective: OR of a flag on DMPlex ``points`` over every rank holding them."""
    data = np.zeros(dm.getChart()[1], np.int64)
    data[points] = flags
    sf = dm.getPointSF()
    roots = data.copy()
    sf.reduceBegin(MPI.INT64_T, data, roots, MPI.MAX)
    sf.reduceEnd(MPI.INT64_T, data, roots, MPI.MAX)
    out = roots.copy()
    sf.bcastBegin(MPI.INT64_T, roots, out, MPI.REPLACE)
    sf.bcastEnd(MPI.INT64_T, roots, out, MPI.REPLACE)
    return out[points].astype(bool)
