"""Closed-form gravity and gravity-gradient kernels of uniform tetrahedra (numba).

Frame: x east, y north, z up; metres.  For a body V of unit density the attraction
and its gradient at a station P are (Gauss' theorem over the faces f, outward unit
normals n_f)

    g1(P) = int_V (x - P) / |x - P|^3 dV = -sum_f n_f I_f
    T1(P) = grad g1 = sum_f n_f (x) v_f,      v_f = sum_k m_k L_k - n_f w_f

with, for each face (a plane polygon, here a triangle with sides k)

    I_f = int_f dS / |x - P| = sum_k t_k L_k - h_f w_f
    t_k = m_k . (x_k - P)                in-plane distance of P's projection from side k
    h_f = n_f . (x_a - P)                distance of the face plane from P (signed)
    L_k = int_side ds / |x - P| = ln((r1 + r2 + l) / (r1 + r2 - l))
    w_f = 2 atan2(2 A h_f, r1 r2 r3 + (r1.r2) r3 + (r1.r3) r2 + (r2.r3) r1)

where m_k is the outward unit normal of side k in the face plane, l its length, r_i the
vectors from P to the face vertices and w_f the signed solid angle the face subtends
(van Oosterom & Strackee, 1983).  These are the surface and line-integral forms of the
polyhedron formulas of Okabe (1979), Pohanka (1988) and Werner & Scheeres (1997)
(their gradient tensor sum_e E_e L_e - sum_f F_f w_f); G g1 and G T1 are the gravity
vector and gradient tensor of density 1 kg/m^3.  By Poisson's relation the magnetic
field of a uniformly magnetized body is H = T1 M / (4 pi) outside it (see
:mod:`parjoint.physics.magnetics`).

Singular limits.  Stations on a vertex, edge or face of a cell give finite values:

* L_k is computed as log1p(2 l (r1 + r2 + l) / ((r1 + r2)^2 - l^2)) with
  (r1 + r2)^2 - l^2 = 2 (r1 r2 + r1.r2) = 2 |r1 x r2|^2 / (r1 r2 - r1.r2) (the form
  without cancellation is chosen by the sign of r1.r2), accurate far away and close
  to the side.  When P lies on the side the log diverges; its coefficient in I_f
  (t_k) vanishes there, and in T1 its coefficient summed over the cells around the
  side vanishes wherever the true field is finite (uniform density around the side,
  or coplanar faces), so the side's L_k is taken as 0 (the finite part).
* When P lies in the plane of a face (|h_f| <= 1e-12 (r1 + r2 + r3)), h_f w_f -> 0 and
  gravity needs nothing more.  The gradient tensor and magnetics need w_f itself,
  which jumps there; it is taken as w_f = -s W, with s = +1 if the face normal points
  up (for vertical faces: east, else north) and W the winding angle of the face
  around P: 2 pi inside the face, which is exactly the limit from above (the field
  just above the topographic surface); pi on a side of the face and the interior
  angle at a vertex, the limits along the face normal.  Around a station on a side
  or vertex the faces of a flat surface have angles adding up to 2 pi, so their sum
  is again the limit from above; on a kinked surface the true field is infinite
  (logarithmically) and these values are its finite part.  Shared faces cancel
  between their two cells whatever value they get.

Accuracy: the face and side sums cancel for distant cells; the relative error of one
cell's contribution grows as about 5e-15 (R / l)^2 with distance R and cell size l
(measured: 4e-13 at R = 10 l, 4e-11 at R = 100 l), negligible next to the nearer
cells that dominate any datum.

Speed.  A face is shared by two cells and a side by about five faces, so for each
station the kernel computes the vertex distances, side logarithms and face solid
angles of a block of cells once, then sums face values into cells: about 2.4 atan2
and 1.7 log per cell-station pair (blocks of 512 cells) instead of 4 and 6.  Blocks
are cells close in space (Morton order), so their data stay in cache while the
stations pass over them, 64 at a time: every inner loop runs over those stations and
is vectorized by LLVM (AVX2), with the inline ``log1p`` and ``atan2`` of
:mod:`.vecmath` (the C library's cannot be vectorized).  About 20-27 million
cell-station pairs per second per core on the benchmark machine
(benchmarks/potential_bench.py), against 3.5 million with one C-library call per
value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from . import vecmath

# error_model="numpy": no zero-division test per division, which would stop vectorization
_jit = numba.njit(cache=True, nogil=True, fastmath=False, error_model="numpy")

G = 6.6743e-11  #: Newton's constant, m^3 kg^-1 s^-2 (CODATA 2018)

# Faces of a positively oriented tetrahedron (v0, v1, v2, v3) with outward normals by
# the right-hand rule; face k is opposite vertex k.
TET_FACES = np.array([[1, 2, 3], [0, 3, 2], [0, 1, 3], [0, 2, 1]])
# a face is "in plane" with the station when |h| <= _PLANE * (r1 + r2 + r3)
_PLANE = 1e-12
# Cells per block and stations per pass over a block (the vector loops' length): the
# fastest of 256-1024 x 32-128 on the benchmark meshes (benchmarks/potential_bench.py).
DEFAULT_BLOCK = 512
DEFAULT_CHUNK = 64


@dataclass
class CellBlocks:
    """Cells grouped in spatially compact blocks, each with its own faces, sides, vertices.

    Indices inside a block (``face_vertices``, ``face_edges``, ``edge_vertices``,
    ``cell_faces``) are relative to the block's first vertex, edge or face, so the
    kernel's scratch arrays hold one block.  Faces are oriented by the order of the
    vertices' keys (rank-independent), so every cell's values are bitwise the same
    whatever the partition.
    """

    order: np.ndarray  #: (nc,) position in the input cell list of kernel column j
    vertex_ptr: np.ndarray  #: (nb + 1,)
    vertex_xyz: np.ndarray  #: (nv, 3) m
    edge_ptr: np.ndarray
    edge_vertices: np.ndarray  #: (ne, 2)
    edge_length: np.ndarray  #: (ne,) m
    face_ptr: np.ndarray
    face_vertices: np.ndarray  #: (nf, 3)
    face_edges: np.ndarray  #: (nf, 3) side k joins vertices k and k+1 (mod 3)
    face_normal: np.ndarray  #: (nf, 3) unit normal along (x1 - x0) x (x2 - x0)
    face_area2: np.ndarray  #: (nf,) twice the area, m^2
    face_side_normal: np.ndarray  #: (nf, 3, 3) outward in-plane unit normal of each side
    face_up: np.ndarray  #: (nf,) +1 / -1: the normal points up (tie-break east, north)
    cell_ptr: np.ndarray
    cell_faces: np.ndarray  #: (nc, 4)
    cell_sign: np.ndarray  #: (nc, 4) +1 where the face normal points out of the cell

    @property
    def n_cells(self) -> int:
        return len(self.order)

    @property
    def n_blocks(self) -> int:
        return len(self.cell_ptr) - 1

    def nbytes(self) -> int:
        return sum(v.nbytes for v in self.__dict__.values() if isinstance(v, np.ndarray))


def build_blocks(coords: np.ndarray, cells: np.ndarray, vertex_key: np.ndarray,
                 block_size: int = DEFAULT_BLOCK) -> CellBlocks:
    """Group positively oriented tetrahedra ``cells`` (vertex indices into ``coords``) in
    blocks of ``block_size`` cells in Morton order of their centroids.

    ``vertex_key`` gives each vertex a rank-independent identity (its index in the mesh
    file), used to orient faces and sides identically on any partition.
    """
    coords = np.ascontiguousarray(coords, dtype=np.float64)
    cells = np.asarray(cells, dtype=np.int64).reshape(-1, 4)
    vertex_key = np.asarray(vertex_key, dtype=np.int64)
    nc = len(cells)
    order = morton_order(coords[cells].mean(axis=1)) if nc else np.zeros(0, np.int64)
    cells = cells[order]
    block = np.arange(nc, dtype=np.int64) // block_size
    n_blocks = int(block[-1]) + 1 if nc else 0

    # vertices of each block, numbered in the order of their keys
    span = int(vertex_key.max()) + 1 if len(vertex_key) else 1
    vertex_id, first = _unique(np.repeat(block, 4) * span + vertex_key[cells.ravel()])
    vertex_global = cells.ravel()[first]
    vblock = np.repeat(block, 4)[first]
    vertex_ptr = _pointers(vblock, n_blocks)
    local = (vertex_id - vertex_ptr[np.repeat(block, 4)]).reshape(nc, 4)  # (nc, 4) block-relative
    width = int(local.max()) + 1 if nc else 1

    # faces: each outward triple sorted by vertex (= key) order; the sort's parity is the sign
    tri = local[:, TET_FACES]  # (nc, 4, 3)
    inversions = ((tri[..., 0] > tri[..., 1]).astype(np.int64) + (tri[..., 0] > tri[..., 2])
                  + (tri[..., 1] > tri[..., 2]))
    cell_sign = np.where(inversions % 2 == 0, 1.0, -1.0)
    tri = np.sort(tri, axis=2).reshape(-1, 3)
    fb = np.repeat(block, 4)
    face_id, first = _unique(((fb * width + tri[:, 0]) * width + tri[:, 1]) * width + tri[:, 2])
    face_vertices = tri[first]
    fblock = fb[first]
    face_ptr = _pointers(fblock, n_blocks)

    # sides of each face: (v0, v1), (v1, v2), (v2, v0); a side is its two vertices in order
    lo = np.minimum(face_vertices, np.roll(face_vertices, -1, axis=1)).ravel()
    hi = np.maximum(face_vertices, np.roll(face_vertices, -1, axis=1)).ravel()
    sb = np.repeat(fblock, 3)
    edge_id, first = _unique((sb * width + lo) * width + hi)
    edge_vertices = np.stack([lo[first], hi[first]], axis=1)
    eblock = sb[first]
    edge_ptr = _pointers(eblock, n_blocks)
    cell_ptr = _pointers(block, n_blocks)
    face_edges = edge_id.reshape(-1, 3) - edge_ptr[fblock][:, None]
    cell_faces = face_id.reshape(-1, 4) - face_ptr[block][:, None]

    xyz = coords[vertex_global]
    p = xyz[face_vertices + vertex_ptr[fblock][:, None]]  # (nf, 3, 3)
    area_normal = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    area2 = np.sqrt((area_normal ** 2).sum(axis=1))
    normal = area_normal / area2[:, None]
    side = np.roll(p, -1, axis=1) - p  # side k from vertex k to k+1
    side /= np.sqrt((side ** 2).sum(axis=2))[..., None]
    side_normal = np.cross(side, normal[:, None, :])
    up = np.where(normal[:, 2] != 0, np.sign(normal[:, 2]),
                  np.where(normal[:, 0] != 0, np.sign(normal[:, 0]), np.sign(normal[:, 1])))
    ev = xyz[edge_vertices + vertex_ptr[eblock][:, None]]
    length = np.sqrt(((ev[:, 1] - ev[:, 0]) ** 2).sum(axis=1))
    small = np.int32  # indices relative to a block
    return CellBlocks(
        order=order, vertex_ptr=vertex_ptr, vertex_xyz=np.ascontiguousarray(xyz),
        edge_ptr=edge_ptr, edge_vertices=np.ascontiguousarray(edge_vertices, small), edge_length=length,
        face_ptr=face_ptr, face_vertices=np.ascontiguousarray(face_vertices, small),
        face_edges=np.ascontiguousarray(face_edges, small), face_normal=np.ascontiguousarray(normal),
        face_area2=area2, face_side_normal=np.ascontiguousarray(side_normal), face_up=up.astype(np.float64),
        cell_ptr=cell_ptr, cell_faces=np.ascontiguousarray(cell_faces, small),
        cell_sign=np.ascontiguousarray(cell_sign))


def _unique(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rank of each key among the sorted distinct keys, index of the first of each)."""
    if len(keys) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    order = np.argsort(keys, kind="stable")
    srt = keys[order]
    new = np.ones(len(keys), bool)
    new[1:] = srt[1:] != srt[:-1]
    ids = np.empty(len(keys), np.int64)
    ids[order] = np.cumsum(new) - 1
    return ids, order[new]


def _pointers(block_of_item: np.ndarray, n_blocks: int) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(np.bincount(block_of_item, minlength=n_blocks))]).astype(np.int64)


def morton_order(points: np.ndarray) -> np.ndarray:
    """Permutation sorting ``points`` (n, 3) along a Z-order (Morton) curve, 21 bits per axis."""
    lo = points.min(axis=0)
    span = max(float((points.max(axis=0) - lo).max()), 1e-300)
    q = np.minimum(((points - lo) / span * (2 ** 21 - 1)).astype(np.uint64), np.uint64(2 ** 21 - 1))
    code = _spread3(q[:, 0]) | (_spread3(q[:, 1]) << np.uint64(1)) | (_spread3(q[:, 2]) << np.uint64(2))
    return np.argsort(code, kind="stable")


def _spread3(v: np.ndarray) -> np.ndarray:
    """Insert two zero bits between the low 21 bits of each value."""
    v = v & np.uint64(0x1FFFFF)
    for shift, mask in ((32, 0x1F00000000FFFF), (16, 0x1F0000FF0000FF), (8, 0x100F00F00F00F00F),
                        (4, 0x10C30C30C30C30C3), (2, 0x1249249249249249)):
        v = (v | (v << np.uint64(shift))) & np.uint64(mask)
    return v


@dataclass
class Functionals:
    """Linear functionals of a cell's unit-density fields, one per datum component.

    Component k of the value of a cell is ``alpha[k] . g1 + beta[k] : T1 + gamma[k] c``
    where g1 and T1 are the attraction and gradient tensor above (ENU frame, SI, unit
    density) and c is 1 when the station is inside the cell, 0 outside (it adds the
    magnetization inside a magnetized cell, B = mu0 (H + M)).
    """

    alpha: np.ndarray  #: (nk, 3)
    beta: np.ndarray  #: (nk, 3, 3)
    gamma: np.ndarray  #: (nk,)

    @property
    def n(self) -> int:
        return len(self.gamma)


def face_coefficients(blocks: CellBlocks, fn: Functionals) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per face and component: (-alpha . n, beta^T n, gamma / 4 pi), station-independent."""
    n = blocks.face_normal
    pg = -(n @ fn.alpha.T)  # (nf, nk)
    pt = np.einsum("fi,kij->fkj", n, fn.beta)  # (nf, nk, 3)
    pw = fn.gamma / (4.0 * math.pi)
    return np.ascontiguousarray(pg), np.ascontiguousarray(pt), np.ascontiguousarray(pw)


def cell_fields(blocks: CellBlocks, stations: np.ndarray, fn: Functionals, out: np.ndarray | None = None,
                coefficients=None, chunk: int = DEFAULT_CHUNK) -> np.ndarray:
    """Values of ``fn`` for every (cell, station): array (n_cells, fn.n * n_stations).

    Row j is cell ``blocks.order[j]`` of the list the blocks were built from (one
    column of the sensitivity matrix); entry ``k * n_stations + s`` is component k at
    station s.  ``out`` may be float64 or float32 (values are rounded on the way).
    ``coefficients`` (from :func:`face_coefficients`) may be passed to reuse them.
    """
    stations = np.ascontiguousarray(stations, dtype=np.float64).reshape(-1, 3)
    if out is None:
        out = np.empty((blocks.n_cells, fn.n * len(stations)))
    if out.shape != (blocks.n_cells, fn.n * len(stations)) or not out.flags.c_contiguous:
        raise ValueError(f"out must be C-contiguous of shape {(blocks.n_cells, fn.n * len(stations))}")
    pg, pt, pw = coefficients if coefficients is not None else face_coefficients(blocks, fn)
    need_i = bool(np.any(fn.alpha != 0))
    need_v = bool(np.any(fn.beta != 0))
    _fields_kernel(stations, chunk, out.reshape(blocks.n_cells, fn.n, len(stations)), blocks.vertex_ptr,
                   blocks.vertex_xyz, blocks.edge_ptr, blocks.edge_vertices, blocks.edge_length, blocks.face_ptr,
                   blocks.face_vertices, blocks.face_edges, blocks.face_normal, blocks.face_area2,
                   blocks.face_side_normal, blocks.face_up, blocks.cell_ptr, blocks.cell_faces, blocks.cell_sign,
                   pg, pt, pw, need_i, need_v)
    return out


@_jit
def _in_plane_angle(ax, ay, az, ra, bx, by, bz, rb, cx, cy, cz, rc, nx, ny, nz, up):
    """Solid angle of a face whose plane contains the station, as the limit from above."""
    w = 0.0
    for k in range(3):
        if k == 0:
            ux, uy, uz, ru, vx, vy, vz, rv = ax, ay, az, ra, bx, by, bz, rb
        elif k == 1:
            ux, uy, uz, ru, vx, vy, vz, rv = bx, by, bz, rb, cx, cy, cz, rc
        else:
            ux, uy, uz, ru, vx, vy, vz, rv = cx, cy, cz, rc, ax, ay, az, ra
        cross = nx * (uy * vz - uz * vy) + ny * (uz * vx - ux * vz) + nz * (ux * vy - uy * vx)
        dot = ux * vx + uy * vy + uz * vz
        # A station on this side (or at one of its ends) sees it under no angle, so
        # that a face covers pi there (half the directions), not pi +- pi.
        if abs(cross) > _PLANE * ru * rv:
            w += math.atan2(cross, dot)
    return -up * w


@_jit
def _fields_kernel(stations, chunk, out, vptr, vxyz, eptr, ev, elen, fptr, fv, fe, fn, farea2, fm, fup, cptr, cf,
                   csign, pg, pt, pw, need_i, need_v):
    """See :func:`cell_fields`.  For each block and each chunk of stations: vertex
    distances, side logarithms, face solid angles and face values, then cell sums.
    Every inner loop runs over the stations of the chunk as the last index of
    multi-dimensional scratch arrays, which LLVM vectorizes.  (A flat array indexed at
    an offset read from an array, ``a[i + s]``, keeps numba's negative-index check in
    the loop and is 4x slower; unsigned indices mixed with signed ones, 5x; row views
    cost reference counting per view.)  ``out`` is (n_cells, n_components, n_stations)."""
    ns = stations.shape[0]
    nk = pg.shape[1]
    n_blocks = len(cptr) - 1
    max_v = max_e = max_f = 1
    for b in range(n_blocks):
        max_v = max(max_v, vptr[b + 1] - vptr[b])
        max_e = max(max_e, eptr[b + 1] - eptr[b])
        max_f = max(max_f, fptr[b + 1] - fptr[b])
    S = chunk
    p = np.empty((3, S))
    d = np.empty((max_v, 4, S))  # x, y, z, distance of each vertex from each station
    lg = np.empty((max_e, S))
    fs = np.zeros((6, S))  # per face: h, solid angle, I, v (3)
    w = np.empty((max_f, nk, S))
    for b in range(n_blocks):
        v0, nv = vptr[b], vptr[b + 1] - vptr[b]
        e0, ne = eptr[b], eptr[b + 1] - eptr[b]
        f0, nf = fptr[b], fptr[b + 1] - fptr[b]
        c0, nc = cptr[b], cptr[b + 1] - cptr[b]
        for s0 in range(0, ns, S):
            m = min(S, ns - s0)
            for k in range(3):
                for s in range(m):
                    p[k, s] = stations[s0 + s, k]
            for i in range(nv):
                xv, yv, zv = vxyz[v0 + i, 0], vxyz[v0 + i, 1], vxyz[v0 + i, 2]
                for s in range(m):
                    x = xv - p[0, s]
                    y = yv - p[1, s]
                    z = zv - p[2, s]
                    d[i, 0, s] = x
                    d[i, 1, s] = y
                    d[i, 2, s] = z
                    d[i, 3, s] = math.sqrt(x * x + y * y + z * z)
            for e in range(ne):
                ia, ib = ev[e0 + e, 0], ev[e0 + e, 1]
                length = elen[e0 + e]
                for s in range(m):
                    ax, ay, az, ra = d[ia, 0, s], d[ia, 1, s], d[ia, 2, s], d[ia, 3, s]
                    bx, by, bz, rb = d[ib, 0, s], d[ib, 1, s], d[ib, 2, s], d[ib, 3, s]
                    dot = ax * bx + ay * by + az * bz
                    cx = ay * bz - az * by
                    cy = az * bx - ax * bz
                    cz = ax * by - ay * bx
                    # q = 2 l / (ra + rb - l) = l (ra + rb + l) / (ra rb + a.b), and
                    # ra rb + a.b = |a x b|^2 / (ra rb - a.b) has no cancellation when a.b < 0
                    rr = ra * rb
                    num = length * (ra + rb + length)
                    pos = dot >= 0.0
                    num = num if pos else num * (rr - dot)
                    den = rr + dot if pos else cx * cx + cy * cy + cz * cz
                    # on the side itself the log diverges: its finite part, 0 (module doc)
                    lg[e, s] = vecmath.log1p(num / den) if den > 0.0 else 0.0
            for f in range(nf):
                g = f0 + f
                ia, ib, ic = fv[g, 0], fv[g, 1], fv[g, 2]
                nx, ny, nz = fn[g, 0], fn[g, 1], fn[g, 2]
                area2 = farea2[g]
                flat = 0
                for s in range(m):
                    ax, ay, az, ra = d[ia, 0, s], d[ia, 1, s], d[ia, 2, s], d[ia, 3, s]
                    bx, by, bz, rb = d[ib, 0, s], d[ib, 1, s], d[ib, 2, s], d[ib, 3, s]
                    cx, cy, cz, rc = d[ic, 0, s], d[ic, 1, s], d[ic, 2, s], d[ic, 3, s]
                    h = nx * ax + ny * ay + nz * az
                    den = (ra * rb * rc + (ax * bx + ay * by + az * bz) * rc + (ax * cx + ay * cy + az * cz) * rb
                           + (bx * cx + by * cy + bz * cz) * ra)
                    fs[0, s] = h
                    fs[1, s] = 2.0 * vecmath.atan2(area2 * h, den)
                    flat += 1 if abs(h) <= _PLANE * (ra + rb + rc) else 0
                if flat:
                    for s in range(m):
                        if abs(fs[0, s]) <= _PLANE * (d[ia, 3, s] + d[ib, 3, s] + d[ic, 3, s]):
                            fs[1, s] = _in_plane_angle(d[ia, 0, s], d[ia, 1, s], d[ia, 2, s], d[ia, 3, s],
                                                       d[ib, 0, s], d[ib, 1, s], d[ib, 2, s], d[ib, 3, s],
                                                       d[ic, 0, s], d[ic, 1, s], d[ic, 2, s], d[ic, 3, s],
                                                       nx, ny, nz, fup[g])
                la, lb, lc = fe[g, 0], fe[g, 1], fe[g, 2]
                m0x, m0y, m0z = fm[g, 0, 0], fm[g, 0, 1], fm[g, 0, 2]
                m1x, m1y, m1z = fm[g, 1, 0], fm[g, 1, 1], fm[g, 1, 2]
                m2x, m2y, m2z = fm[g, 2, 0], fm[g, 2, 1], fm[g, 2, 2]
                if need_i:
                    for s in range(m):
                        t0 = m0x * d[ia, 0, s] + m0y * d[ia, 1, s] + m0z * d[ia, 2, s]
                        t1 = m1x * d[ib, 0, s] + m1y * d[ib, 1, s] + m1z * d[ib, 2, s]
                        t2 = m2x * d[ic, 0, s] + m2y * d[ic, 1, s] + m2z * d[ic, 2, s]
                        fs[2, s] = t0 * lg[la, s] + t1 * lg[lb, s] + t2 * lg[lc, s] - fs[0, s] * fs[1, s]
                if need_v:
                    for s in range(m):
                        l0, l1, l2, o_ = lg[la, s], lg[lb, s], lg[lc, s], fs[1, s]
                        fs[3, s] = m0x * l0 + m1x * l1 + m2x * l2 - nx * o_
                        fs[4, s] = m0y * l0 + m1y * l1 + m2y * l2 - ny * o_
                        fs[5, s] = m0z * l0 + m1z * l1 + m2z * l2 - nz * o_
                for k in range(nk):
                    a_, bx_, by_, bz_, c_ = pg[g, k], pt[g, k, 0], pt[g, k, 1], pt[g, k, 2], pw[k]
                    for s in range(m):
                        w[f, k, s] = a_ * fs[2, s] + bx_ * fs[3, s] + by_ * fs[4, s] + bz_ * fs[5, s] + c_ * fs[1, s]
            for c in range(nc):
                j = c0 + c
                fa, fb, fc, fd = cf[j, 0], cf[j, 1], cf[j, 2], cf[j, 3]
                sa, sb, sc, sd = csign[j, 0], csign[j, 1], csign[j, 2], csign[j, 3]
                for k in range(nk):
                    for s in range(m):
                        out[j, k, s0 + s] = sa * w[fa, k, s] + sb * w[fb, k, s] + sc * w[fc, k, s] + sd * w[fd, k, s]
