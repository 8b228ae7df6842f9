"""The distributed tetrahedral mesh every parjoint simulation works on.

A :class:`Mesh` wraps a distributed, interpolated PETSc DMPlex without overlap: every
rank *owns* its cells, and sees the cells across its partition faces as *ghost*
cells.  Everything a finite-element or finite-volume code needs is precomputed as
numpy arrays over the local cells (vectorised; no per-cell loops):

* ``cell_vertices`` (positively oriented), ``vertex_coords``, global vertex, edge
  and face numbers, ownership masks;
* ``volume``, ``centroid``, ``grad_p1`` (P1 basis gradients), ``quality``;
* ``cell_neighbors`` across each face (local index, ghost index ``>= n_cells`` or -1
  on the boundary) and :meth:`ghost_values` to fetch ghost-cell data;
* boundary faces by side (:meth:`boundary`): ``top``, ``bottom``, ``sides``
  (``xmin``, ``xmax``, ``ymin``, ``ymax``) and ``surface``, the top of the earth
  (the air-earth interface when the mesh has an ``air`` region).

Units are metres.  Cell identity across rank counts is ``cell_original``: the index
of the cell in the mesh file, used for reading and writing per-cell arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from mpi4py import MPI

from ..petsc import IntType, PETSc, plex_cones
from .geometry import signed_volume6, tet_geometry, tet_quality, triangle_geometry
from .plex import REGION_LABEL, sf_graph

AIR = "air"
SIDES = ("top", "bottom", "xmin", "xmax", "ymin", "ymax", "sides", "surface")
# local edges of a tetrahedron as pairs of its local vertices (Nedelec convention)
TET_EDGES = np.array([[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]])


@dataclass
class BoundaryFaces:
    """Faces on one side of the domain, each with the local cell it belongs to."""

    face: np.ndarray  #: local face index
    cell: np.ndarray  #: local cell behind the face
    area: np.ndarray  #: m^2
    normal: np.ndarray  #: (n, 3) unit normal pointing out of ``cell``
    centroid: np.ndarray  #: (n, 3) m


class Mesh:
    """A tetrahedral mesh distributed over the ranks of ``dm``'s communicator."""

    def __init__(self, dm: PETSc.DMPlex, cell_original: np.ndarray, cell_region: np.ndarray,
                 vertex_original: np.ndarray, region_names: dict[int, str], source: str = ""):
        self.dm = dm
        self.comm: MPI.Comm = dm.getComm().tompi4py()
        self.source = source
        self.region_names = dict(sorted(region_names.items()))
        self.cell_original = np.asarray(cell_original, np.int64)
        self.cell_region = np.asarray(cell_region, np.int64)
        self.vertex_original = np.asarray(vertex_original, np.int64)  #: vertex index in the mesh file
        self._extract_topology()
        self._number_points()
        self._compute_geometry()
        self._build_adjacency()

    # ------------------------------------------------------------------ topology
    def _extract_topology(self) -> None:
        dm = self.dm
        c0, c1 = dm.getHeightStratum(0)
        f0, f1 = dm.getHeightStratum(1)
        e0, e1 = dm.getDepthStratum(1)
        v0, v1 = dm.getDepthStratum(0)
        self._strata = {"cell": (c0, c1), "face": (f0, f1), "edge": (e0, e1), "vertex": (v0, v1)}
        cones, _ = plex_cones(dm)
        offset, pos = {}, 0
        for name, (start, end), size in sorted(
                [("cell", (c0, c1), 4), ("face", (f0, f1), 3), ("edge", (e0, e1), 2), ("vertex", (v0, v1), 0)],
                key=lambda t: t[1][0]):
            offset[name] = pos
            pos += (end - start) * size

        def block(name, count, width, base):
            return cones[offset[name]:offset[name] + count * width].reshape(count, width).astype(np.int64) - base

        self.n_cells = c1 - c0
        self.cell_faces = block("cell", c1 - c0, 4, f0)
        self.face_edges = block("face", f1 - f0, 3, e0)
        self.edge_vertices = block("edge", e1 - e0, 2, v0)
        if self.n_cells:  # the cone layout assumption, checked once
            assert (dm.getCone(c0) - f0 == self.cell_faces[0]).all()
            assert (dm.getCone(f1 - 1) - e0 == self.face_edges[-1]).all()
            assert (dm.getCone(e1 - 1) - v0 == self.edge_vertices[-1]).all()
        coords = dm.getCoordinatesLocal().getArray(readonly=True).reshape(-1, 3)
        self.vertex_coords = np.array(coords, dtype=np.float64)

        # vertices of each face from its first two edges, then of each cell
        ev = self.edge_vertices[self.face_edges]  # (nf, 3, 2)
        a, b = ev[:, 0, 0], ev[:, 0, 1]
        second = ev[:, 1]
        c = np.where((second[:, 0] == a) | (second[:, 0] == b), second[:, 1], second[:, 0])
        self.face_vertices = np.stack([a, b, c], axis=1)
        fv0 = self.face_vertices[self.cell_faces[:, 0]]
        fv1 = self.face_vertices[self.cell_faces[:, 1]]
        # the apex is the vertex of face 1 that face 0 lacks
        outside = [(fv1[:, k] != fv0[:, 0]) & (fv1[:, k] != fv0[:, 1]) & (fv1[:, k] != fv0[:, 2]) for k in range(2)]
        apex = np.where(outside[0], fv1[:, 0], np.where(outside[1], fv1[:, 1], fv1[:, 2]))
        cells = np.concatenate([fv0, apex[:, None]], axis=1)
        # A canonical vertex order (by index in the mesh file, last two swapped where
        # needed for a positive volume) makes every per-cell quantity bitwise the same
        # on any number of ranks.
        cells = _sort_rows_by_key(cells, self.vertex_original)
        det = signed_volume6(self.vertex_coords, cells)
        flip = det < 0
        cells[flip, 2], cells[flip, 3] = cells[flip, 3], cells[flip, 2].copy()
        self.cell_vertices = cells

    def _number_points(self) -> None:
        """Global numbers of owned points, made known to the ranks that share them."""
        dm, comm = self.dm, self.comm
        pstart, pend = dm.getChart()
        sf = dm.getPointSF()
        leaves, _ = sf_graph(sf, pend - pstart)
        owned = np.ones(pend - pstart, bool)
        owned[leaves] = False
        self._point_owned = owned
        numbers = np.full(pend - pstart, -1, np.int64)
        self._n_global = {}
        for name, (start, end) in self._strata.items():
            own = owned[start:end]
            n_own = int(own.sum())
            first = comm.exscan(n_own) or 0
            self._n_global[name] = comm.allreduce(n_own)
            numbers[start:end][own] = first + np.arange(n_own)
        roots = numbers.copy()
        sf.bcastBegin(MPI.INT64_T, roots, numbers, MPI.REPLACE)
        sf.bcastEnd(MPI.INT64_T, roots, numbers, MPI.REPLACE)
        self._point_global = numbers

        def part(name):
            start, end = self._strata[name]
            return numbers[start:end], owned[start:end]

        self.vertex_global, self.vertex_owned = part("vertex")
        self.edge_global, self.edge_owned = part("edge")
        self.face_global, self.face_owned = part("face")
        self.cell_global, _ = part("cell")
        self.cell_offsets = np.concatenate([[0], np.cumsum(comm.allgather(self.n_cells))]).astype(np.int64)
        self.n_cells_global = int(self.cell_offsets[-1])
        self.n_vertices_global = self._n_global["vertex"]
        self.n_edges_global = self._n_global["edge"]
        self.n_faces_global = self._n_global["face"]

    # ------------------------------------------------------------------ geometry
    def _compute_geometry(self) -> None:
        g = tet_geometry(self.vertex_coords, self.cell_vertices)
        self.volume, self.centroid, self.grad_p1 = g.volume, g.centroid, g.grad
        # face normals have an arbitrary sense; boundary() turns them outward
        self.face_area, self.face_normal, self.face_centroid = triangle_geometry(self.vertex_coords,
                                                                                 self.face_vertices)
        has = len(self.vertex_coords) > 0
        lo = self.vertex_coords.min(axis=0) if has else np.full(3, np.inf)
        hi = self.vertex_coords.max(axis=0) if has else np.full(3, -np.inf)
        self.comm.Allreduce(MPI.IN_PLACE, lo, op=MPI.MIN)
        self.comm.Allreduce(MPI.IN_PLACE, hi, op=MPI.MAX)
        self.bounds = np.stack([lo, hi])  #: [[xmin, ymin, zmin], [xmax, ymax, zmax]]

    @cached_property
    def quality(self) -> np.ndarray:
        """Mean-ratio quality of each cell (1 = regular tetrahedron)."""
        return tet_quality(self.vertex_coords, self.cell_vertices, self.volume)

    @cached_property
    def edge_lengths(self) -> np.ndarray:
        p = self.vertex_coords[self.edge_vertices]
        return np.sqrt(((p[:, 1] - p[:, 0]) ** 2).sum(axis=1))

    # ------------------------------------------------------------------ adjacency
    def _build_adjacency(self) -> None:
        nc, nf = self.n_cells, len(self.face_vertices)
        flat = self.cell_faces.ravel()
        owner_cell = np.repeat(np.arange(nc), 4)
        order = np.argsort(flat)
        count = np.bincount(flat, minlength=nf)
        first = np.concatenate([[0], np.cumsum(count)[:-1]])
        face_cells = np.full((nf, 2), -1, np.int64)
        face_cells[:, 0] = owner_cell[order[first]]
        two = count == 2
        face_cells[two, 1] = owner_cell[order[first[two] + 1]]
        self.face_cells = face_cells

        # Faces on a partition boundary appear on exactly two ranks (one root, one
        # leaf of the point SF).  Each side tells the other the global number of its cell.
        dm = self.dm
        f0, _ = self._strata["face"]
        pend = dm.getChart()[1]
        sf = dm.getPointSF()
        mine = np.full(pend, -1, np.int64)
        mine[f0:f0 + nf] = np.where(count == 1, self.cell_global[face_cells[:, 0]], -1)
        other = np.full(pend, -1, np.int64)
        sf.bcastBegin(MPI.INT64_T, mine, other, MPI.REPLACE)
        sf.bcastEnd(MPI.INT64_T, mine, other, MPI.REPLACE)
        sf.reduceBegin(MPI.INT64_T, mine, other, MPI.REPLACE)
        sf.reduceEnd(MPI.INT64_T, mine, other, MPI.REPLACE)
        remote = other[f0:f0 + nf]
        remote[count != 1] = -1
        self.face_shared = remote >= 0  #: face lies on a partition boundary

        ghosts = np.unique(remote[remote >= 0])
        self.ghost_global = ghosts
        self.n_ghosts = len(ghosts)
        ghost_rank = np.searchsorted(self.cell_offsets, ghosts, side="right") - 1
        ghost_local_on_owner = ghosts - self.cell_offsets[ghost_rank]
        # neighbour index in [0, nc) local, [nc, nc+ng) ghost; -1 outside the domain
        neighbor_of_face = np.full((nf, 2), -1, np.int64)  # across from face_cells[:,0] / [:,1]
        neighbor_of_face[:, 0] = face_cells[:, 1]
        neighbor_of_face[:, 1] = face_cells[:, 0]
        shared = np.flatnonzero(self.face_shared)
        neighbor_of_face[shared, 0] = nc + np.searchsorted(ghosts, remote[shared])
        cf = self.cell_faces
        self.cell_neighbors = np.where(face_cells[cf, 0] == np.arange(nc)[:, None],
                                       neighbor_of_face[cf, 0], neighbor_of_face[cf, 1])

        self._ghost_sf = PETSc.SF().create(comm=self.dm.getComm())
        remote_pairs = np.stack([ghost_rank, ghost_local_on_owner], axis=1).ravel()
        self._ghost_sf.setGraph(nc, np.arange(self.n_ghosts, dtype=IntType), remote_pairs.astype(IntType))
        self._ghost_sf.setUp()
        self._mpi_types: dict = {}

    def ghost_values(self, values: np.ndarray) -> np.ndarray:
        """Collective: owned-cell values followed by the values of the ghost cells.

        ``values`` has shape (n_cells, ...) (float or integer); the result has
        n_cells + n_ghosts rows, the ghost rows equal to the owner's values.
        """
        values = np.ascontiguousarray(values)
        if values.shape[0] != self.n_cells:
            raise ValueError(f"expected {self.n_cells} rows, got {values.shape[0]}")
        kind = "f" if values.dtype.kind == "f" else "i"
        values = values.astype(np.float64 if kind == "f" else np.int64, copy=False)
        width = int(np.prod(values.shape[1:], dtype=np.int64))
        unit = self._mpi_type(kind, width)
        out = np.empty((self.n_cells + self.n_ghosts,) + values.shape[1:], values.dtype)
        out[:self.n_cells] = values
        leaf = out[self.n_cells:]
        self._ghost_sf.bcastBegin(unit, values, leaf, MPI.REPLACE)
        self._ghost_sf.bcastEnd(unit, values, leaf, MPI.REPLACE)
        return out

    def ghost_add(self, values: np.ndarray) -> np.ndarray:
        """Collective: the transpose of :meth:`ghost_values`: rows for owned cells plus the
        ghost rows' values summed onto the cells' owners (shape (n_cells, ...))."""
        values = np.ascontiguousarray(values, dtype=np.float64)
        width = int(np.prod(values.shape[1:], dtype=np.int64))
        unit = self._mpi_type("f", width)
        out = np.array(values[:self.n_cells], copy=True)
        self._ghost_sf.reduceBegin(unit, values[self.n_cells:], out, MPI.SUM)
        self._ghost_sf.reduceEnd(unit, values[self.n_cells:], out, MPI.SUM)
        return out

    def _mpi_type(self, kind: str, width: int):
        key = (kind, width)
        if key not in self._mpi_types:
            base = MPI.DOUBLE if kind == "f" else MPI.INT64_T
            self._mpi_types[key] = base if width == 1 else base.Create_contiguous(width).Commit()
        return self._mpi_types[key]

    # ------------------------------------------------------------------ regions
    def region_tag(self, name: str) -> int:
        for tag, n in self.region_names.items():
            if n == name:
                return tag
        raise KeyError(f"no region named {name!r} (regions: {', '.join(self.region_names.values())})")

    @cached_property
    def is_air(self) -> np.ndarray:
        """Boolean mask of local cells in the ``air`` region."""
        tags = [t for t, n in self.region_names.items() if n.lower() == AIR]
        return np.isin(self.cell_region, tags)

    @property
    def has_air(self) -> bool:
        return any(n.lower() == AIR for n in self.region_names.values())

    # ------------------------------------------------------------------ boundary
    def boundary(self, side: str) -> BoundaryFaces:
        """Faces of one side: ``top``, ``bottom``, ``xmin``, ``xmax``, ``ymin``, ``ymax``,
        ``sides`` (all four) or ``surface`` (the top of the earth)."""
        if side not in SIDES:
            raise ValueError(f"unknown boundary side {side!r}; choose from {', '.join(SIDES)}")
        return self._boundaries[side]

    @cached_property
    def _boundaries(self) -> dict[str, BoundaryFaces]:
        nc = self.n_cells
        outer = np.flatnonzero((self.face_cells[:, 1] < 0) & ~self.face_shared)
        cells = self.face_cells[outer, 0]
        normal = self._outward(outer, cells)
        cen = self.face_centroid[outer]
        lo, hi = self.bounds
        tol = 1e-7 * float(np.max(hi - lo))
        horizontal = np.abs(normal[:, 2]) < 1e-6
        masks = {
            "bottom": (normal[:, 2] < -1 + 1e-9) & (np.abs(cen[:, 2] - lo[2]) < tol),
            "xmin": horizontal & (np.abs(cen[:, 0] - lo[0]) < tol) & (normal[:, 0] < 0),
            "xmax": horizontal & (np.abs(cen[:, 0] - hi[0]) < tol) & (normal[:, 0] > 0),
            "ymin": horizontal & (np.abs(cen[:, 1] - lo[1]) < tol) & (normal[:, 1] < 0),
            "ymax": horizontal & (np.abs(cen[:, 1] - hi[1]) < tol) & (normal[:, 1] > 0),
        }
        masks["sides"] = masks["xmin"] | masks["xmax"] | masks["ymin"] | masks["ymax"]
        masks["top"] = ~(masks["bottom"] | masks["sides"])
        out = {k: self._faces(outer[m], cells[m], normal[m]) for k, m in masks.items()}

        if self.has_air:
            # each air-earth face once, from its earth cell (local on exactly one rank)
            air = self.ghost_values(self.is_air.astype(np.int64)).astype(bool)
            nb = self.cell_neighbors
            hit = ~air[:nc, None] & (nb >= 0) & air[np.maximum(nb, 0)]
            earth_cell, k = np.nonzero(hit)
            faces = self.cell_faces[earth_cell, k]
            out["surface"] = self._faces(faces, earth_cell, self._outward(faces, earth_cell))
        else:
            out["surface"] = out["top"]
        return out

    def _outward(self, faces: np.ndarray, cells: np.ndarray) -> np.ndarray:
        n = self.face_normal[faces]
        away = np.einsum("ij,ij->i", n, self.face_centroid[faces] - self.centroid[cells])
        return n * np.where(away < 0, -1.0, 1.0)[:, None]

    def _faces(self, faces, cells, normal) -> BoundaryFaces:
        return BoundaryFaces(face=faces, cell=cells, area=self.face_area[faces], normal=normal,
                             centroid=self.face_centroid[faces])

    # ------------------------------------------------------------------ edges
    @cached_property
    def cell_edges(self) -> tuple[np.ndarray, np.ndarray]:
        """(local edge index, sign) of the six edges of each cell.

        Local edge k joins local vertices ``TET_EDGES[k]`` (i -> j with i < j).  The
        global direction of an edge runs from the lower to the higher global vertex
        number, the same on every rank; ``sign`` is +1 where the local direction
        agrees with it.
        """
        a = self.cell_vertices[:, TET_EDGES[:, 0]]
        b = self.cell_vertices[:, TET_EDGES[:, 1]]
        gv = self.vertex_global
        return self.find_edges(a, b), np.where(gv[a] < gv[b], 1, -1).astype(np.int8)

    def find_edges(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Local index of the edge joining local vertices a and b (arrays of any shape)."""
        key_sorted, order = self._edge_keys
        nv = len(self.vertex_coords)
        key = np.minimum(a, b) * nv + np.maximum(a, b)
        return order[np.searchsorted(key_sorted, key)]

    @cached_property
    def _edge_keys(self):
        nv = len(self.vertex_coords)
        ev = np.sort(self.edge_vertices, axis=1)
        key = ev[:, 0] * nv + ev[:, 1]
        order = np.argsort(key)
        return key[order], order

    # ------------------------------------------------------------------ reductions
    def sum(self, values: np.ndarray) -> float:
        """Collective: sum over all owned cells of all ranks."""
        return float(self.comm.allreduce(float(np.sum(values)), op=MPI.SUM))

    def region_volumes(self) -> dict[str, float]:
        """Collective: total volume of each region, m^3."""
        total = np.array([self.volume[self.cell_region == t].sum() for t in self.region_names])
        self.comm.Allreduce(MPI.IN_PLACE, total, op=MPI.SUM)
        return dict(zip(self.region_names.values(), total.tolist()))

    def region_cell_counts(self) -> dict[str, int]:
        total = np.array([(self.cell_region == t).sum() for t in self.region_names], np.int64)
        self.comm.Allreduce(MPI.IN_PLACE, total, op=MPI.SUM)
        return dict(zip(self.region_names.values(), total.tolist()))

    # ------------------------------------------------------------------ I/O
    def save(self, path: str) -> None:
        """Collective: save the distributed mesh to parallel HDF5 (see :mod:`.storage`)."""
        from .storage import save_mesh

        save_mesh(self, path)

    def create_cell_vec(self) -> PETSc.Vec:
        """A PETSc vector with one entry per owned cell (global cell numbering)."""
        vec = PETSc.Vec().createMPI((self.n_cells, self.n_cells_global), comm=self.dm.getComm())
        return vec

    def __repr__(self) -> str:
        return (f"Mesh({self.source!r}: {self.n_cells_global} cells, {self.n_vertices_global} vertices, "
                f"{self.n_edges_global} edges on {self.comm.size} ranks; regions "
                f"{', '.join(self.region_names.values())})")


def region_label_values(dm: PETSc.DMPlex, n_cells: int) -> np.ndarray:
    """Region tag of each local cell from the ``Cell Sets`` label (-1 if none)."""
    out = np.full(n_cells, -1, np.int64)
    label = dm.getLabel(REGION_LABEL)
    if label is None:
        return out
    for value in label.getValueIS().getIndices():
        points = label.getStratumIS(int(value)).getIndices()
        out[points[points < n_cells]] = int(value)
    return out


def _sort_rows_by_key(rows: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Sort the 4 entries of each row by ``key[entry]`` (a 5-comparator sorting network)."""
    cols = [rows[:, i].copy() for i in range(4)]
    keys = [key[c] for c in cols]
    for i, j in ((0, 1), (2, 3), (0, 2), (1, 3), (1, 2)):
        swap = keys[i] > keys[j]
        cols[i], cols[j] = np.where(swap, cols[j], cols[i]), np.where(swap, cols[i], cols[j])
        keys[i], keys[j] = np.where(swap, keys[j], keys[i]), np.where(swap, keys[i], keys[j])
    return np.stack(cols, axis=1)
