"""Lowest-order Nedelec (first kind) edge elements on the distributed tetrahedral mesh.

Basis (Nedelec 1980; Jin, *The Finite Element Method in Electromagnetics*, ch. 8): on a
cell with barycentric coordinates L_a and their gradients g_a (``Mesh.grad_p1``), the
function of local edge k joining local vertices (i, j) = ``TET_EDGES[k]`` is

    N_k = s_k (L_i g_j - L_j g_i),   curl N_k = 2 s_k g_i x g_j,

where s_k = +1 if the local direction i -> j agrees with the global one (lower to
higher *global* vertex number, the same on every rank: ``Mesh.cell_edges``) and -1
otherwise.  The degree of freedom of an edge is the line integral of the field along
its global direction (int_e N_e . t dl = 1), so a field is continuous in its
tangential components across cells and ranks.

With G_ab = g_a . g_b and m_ab = int L_a L_b dV = V (1 + delta_ab) / 20, the element
matrices of a cell of volume V are (edges k = (i, j), l = (p, q))

    curl-curl  C_kl = 4 V s_k s_l (G_ip G_jq - G_iq G_jp)                        [1/m]
    mass       M_kl = s_k s_l (m_ip G_jq - m_iq G_jp - m_jp G_iq + m_jq G_ip)    [m]

Kernels here compute them on the fly in compiled loops (numba), so nothing loops over
cells in Python; they take the per-cell arrays of :attr:`EdgeSpace.kernel` (mesh cell
order, which loading makes a space-filling-curve order), and per-cell coefficients and
results in that order.  :class:`EdgeSpace` numbers the edge dofs across ranks (owned
first, then ghosts, like :class:`~parjoint.fem.space.NodalSpace`) and builds the
discrete gradient G (edges x vertices, -1 at the edge's first and +1 at its second
vertex) that hypre's AMS preconditioner needs.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np
from mpi4py import MPI

from ..mesh.mesh import TET_EDGES, Mesh
from ..mesh.order import first_appearance
from ..mesh.plex import or_over_ranks
from ..petsc import IntType, PETSc
from .assembly import Pattern
from .dofs import DistributedDofs

_jit = numba.njit(cache=True, nogil=True)
_EI = TET_EDGES[:, 0].copy()
_EJ = TET_EDGES[:, 1].copy()


class KernelCells(NamedTuple):
    """Per-cell arrays of a rank's cells (mesh cell order) for the compiled kernels."""

    grad: np.ndarray  #: (n, 4, 3) barycentric gradients
    volume: np.ndarray  #: (n,)
    signs: np.ndarray  #: (n, 6) int8 +-1
    dofs: np.ndarray  #: (n, 6) local dofs (int32 while they fit), TET_EDGES order


class EdgeSpace(DistributedDofs):
    """Lowest-order Nedelec dofs on every edge of the mesh (air included).

    Numbering for locality.  The local dofs are the owned edges in order of first
    appearance along the rank's cells, then the ghost edges likewise.  Loading puts
    the cells in the order of a space-filling (Morton) curve (:mod:`parjoint.mesh.order`),
    so a cell's six edges get nearby numbers: the kernels' scattered adds stay in
    cache and the matrices' rows reach nearby vector entries (the DMPlex edge
    numbering scatters a cell's edges over a third of the range; assembly is 4-6x
    slower with it).  Global numbers are contiguous per rank (``global_offset + local``
    for owned dofs; ghosts learn theirs from the owner).  AMS's vertex space (the
    discrete gradient's columns) is numbered the same way.  Edge *directions* come
    from the mesh's global vertex numbers, so they agree across ranks.

    ``kernel`` holds the per-cell arrays the compiled kernels take, in mesh cell order.
    """

    def __init__(self, mesh: Mesh):
        self.mesh, self.comm = mesh, mesh.comm
        owned = mesh.edge_owned
        n_edges = len(mesh.edge_vertices)
        self.n_owned = int(owned.sum())
        self.n_local = n_edges
        self.n_global = mesh.n_edges_global
        self.global_offset = int(self.comm.exscan(self.n_owned) or 0)
        # the six edges of each cell (TET_EDGES order) from the DMPlex cones;
        # Mesh.cell_edges gives the same but caches 60 bytes per edge on the mesh
        edges, signs = _cell_edges(mesh.cell_vertices, mesh.cell_faces, mesh.face_edges, mesh.edge_vertices,
                                   mesh.vertex_global)
        local = first_appearance(edges.ravel(), owned, self.n_owned)
        self.edge_dof = local  #: local dof of each mesh edge
        e0 = mesh.dm.getDepthStratum(1)[0]
        numbers = np.where(owned, self.global_offset + local, -1)
        self.local_to_global = np.empty(n_edges, np.int64)
        self.local_to_global[local] = _bcast_from_owners(mesh.dm, e0, numbers)
        self.lgmap = PETSc.LGMap().create(self.local_to_global.astype(IntType), comm=self.comm)
        dof_type = np.int32 if n_edges < 2 ** 31 else np.int64
        self.kernel = KernelCells(mesh.grad_p1, mesh.volume, signs, local[edges].astype(dof_type))
        # the dof's vertices in its global direction (lower global vertex number first)
        ev = mesh.edge_vertices
        swap = mesh.vertex_global[ev[:, 0]] > mesh.vertex_global[ev[:, 1]]
        directed = np.where(swap[:, None], ev[:, ::-1], ev)
        self.dof_vertices = np.empty_like(directed)
        self.dof_vertices[local] = directed  #: (n_local, 2) local vertices, tail then head
        # AMS's vertex numbering: owned vertices by first appearance along the dofs
        v_owned = mesh.vertex_owned
        self.n_vertices_owned = int(v_owned.sum())
        vertex_offset = int(self.comm.exscan(self.n_vertices_owned) or 0)
        vlocal = first_appearance(self.dof_vertices.ravel(), v_owned, self.n_vertices_owned)
        v0 = mesh.dm.getDepthStratum(0)[0]
        #: global number of each local mesh vertex in the discrete gradient's column space
        self.vertex_global = _bcast_from_owners(mesh.dm, v0, np.where(v_owned, vertex_offset + vlocal, -1))
        self.vertex_local = vlocal  #: position of each local vertex in that order (owned first)

    # ---------------------------------------------------------------- per-cell data
    @property
    def cell_dofs(self) -> np.ndarray:
        """(n_cells, 6) local dofs of each cell."""
        return self.kernel.dofs

    @property
    def cell_signs(self) -> np.ndarray:
        """(n_cells, 6) orientation signs (+-1.0) of each cell (a new array)."""
        return self.kernel.signs.astype(np.float64)

    # ---------------------------------------------------------------- boundary
    def outer_boundary(self) -> np.ndarray:
        """Collective: mask of the local dofs on the outer boundary of the domain.

        An edge can touch the boundary through a cell that has no boundary face on
        this rank, so the flag is OR-ed over every rank holding the edge.
        """
        mesh = self.mesh
        flags = np.zeros(self.n_local, bool)
        for side in ("top", "bottom", "sides"):
            flags[mesh.face_edges[mesh.boundary(side).face].ravel()] = True
        e0, e1 = mesh.dm.getDepthStratum(1)
        mask = np.zeros(self.n_local, bool)
        mask[self.edge_dof] = or_over_ranks(mesh.dm, np.arange(e0, e1), flags)
        return mask

    def vertex_flags_or(self, flags: np.ndarray) -> np.ndarray:
        """Collective: a per-local-vertex flag OR-ed over every rank holding the vertex."""
        v0, v1 = self.mesh.dm.getDepthStratum(0)
        return or_over_ranks(self.mesh.dm, np.arange(v0, v1), flags)

    # ---------------------------------------------------------------- AMS data
    def discrete_gradient(self) -> PETSc.Mat:
        """G: owned edge dofs x vertices (AMS numbering), (G u)_e = u(head) - u(tail)."""
        mesh = self.mesh
        tail_head = self.dof_vertices[:self.n_owned]
        cols = self.vertex_global[tail_head].astype(IntType).ravel()
        indptr = (2 * np.arange(self.n_owned + 1)).astype(IntType)
        values = np.tile([-1.0, 1.0], self.n_owned)
        G = PETSc.Mat().createAIJ(((self.n_owned, self.n_global), (self.n_vertices_owned, mesh.n_vertices_global)),
                                  csr=(indptr, cols, values), comm=self.comm)
        G.assemble()
        return G

    def vertex_coordinate_vecs(self) -> list[PETSc.Vec]:
        """Coordinates x, y, z of the owned vertices as three vectors in G's column layout."""
        mesh = self.mesh
        own = np.flatnonzero(mesh.vertex_owned)
        order = own[np.argsort(self.vertex_local[own])]
        out = []
        for k in range(3):
            vec = PETSc.Vec().createMPI((len(own), mesh.n_vertices_global), comm=self.comm)
            vec.getArray()[:] = mesh.vertex_coords[order, k]
            out.append(vec)
        return out


def _bcast_from_owners(dm, start: int, values: np.ndarray) -> np.ndarray:
    """Values of the DMPlex points start, start + 1, ... as held by their owners."""
    data = np.full(dm.getChart()[1], -1, np.int64)
    data[start:start + len(values)] = values
    out = data.copy()
    sf = dm.getPointSF()
    sf.bcastBegin(MPI.INT64_T, data, out, MPI.REPLACE)
    sf.bcastEnd(MPI.INT64_T, data, out, MPI.REPLACE)
    result = out[start:start + len(values)]
    if len(result) and result.min() < 0:
        raise RuntimeError("a shared mesh point has no number from its owner")
    return result


class _VertexLayout(NamedTuple):
    """AMS's vertex space as a dof layout for :class:`~parjoint.fem.assembly.Pattern`."""

    comm: object
    n_owned: int
    local_to_global: np.ndarray


class VertexStiffness:
    """The P1 stiffness matrix K_ab = sum_c coef_c V_c g_a . g_b on AMS's vertex space
    (the discrete gradient's column layout), with the rows and columns of given
    vertices replaced by the identity."""

    def __init__(self, space: EdgeSpace):
        self.space = space
        to_global = np.empty(len(space.vertex_local), np.int64)
        to_global[space.vertex_local] = space.vertex_global
        vertices = space.vertex_local[space.mesh.cell_vertices].astype(np.int32)
        self.pattern = Pattern(_VertexLayout(space.comm, space.n_vertices_owned, to_global), vertices)
        self.mat = self.pattern.new_matrix()
        self.values = np.zeros(self.pattern.nnz)

    def assemble(self, coef: np.ndarray, identity_rows: np.ndarray) -> PETSc.Mat:
        """Collective: K for the per-cell coefficient ``coef``;
        ``identity_rows`` are owned global vertex numbers."""
        kc, pattern = self.space.kernel, self.pattern
        self.values[:] = 0.0
        vertex_stiffness_scatter(kc.grad, kc.volume, pattern.cell_dofs, coef, pattern.rowptr, pattern.within,
                                 self.values)
        pattern.fill(self.mat, self.values)
        self.mat.zeroRowsColumns(identity_rows, 1.0)
        return self.mat

    def destroy(self) -> None:
        self.mat.destroy()
        self.pattern.destroy()


@_jit
def vertex_stiffness_scatter(grad, volume, vertices, coef, rowptr, slots, values):
    """Scatter the P1 stiffness matrices (coefficient ``coef`` per cell) into ``values``.
    The nodal spaces' ``kernels.stiffness_scatter`` does the same with absolute 64-bit
    slots; here the one-byte in-row slots of the pattern keep the MT solver within
    its memory budget per edge."""
    for c in range(vertices.shape[0]):
        w = coef[c] * volume[c]
        for a in range(4):
            base_a = rowptr[vertices[c, a]]
            for b in range(a, 4):
                s = w * (grad[c, a, 0] * grad[c, b, 0] + grad[c, a, 1] * grad[c, b, 1] + grad[c, a, 2] * grad[c, b, 2])
                values[base_a + slots[c, a, b]] += s
                if b != a:
                    values[rowptr[vertices[c, b]] + slots[c, b, a]] += s


@_jit
def _cell_edges(cell_vertices, cell_faces, face_edges, edge_vertices, vertex_global):
    """Local edge of each of the six local vertex pairs ``TET_EDGES`` of every cell, and
    its sign: +1 where the pair's order agrees with the global vertex numbers."""
    nc = cell_vertices.shape[0]
    out = np.empty((nc, 6), np.int64)
    signs = np.empty((nc, 6), np.int8)
    for c in range(nc):
        for f in range(3):  # every edge lies on two faces: three faces hold all six
            for k in range(3):
                e = face_edges[cell_faces[c, f], k]
                a, b = edge_vertices[e, 0], edge_vertices[e, 1]
                i = j = -1
                for v in range(4):
                    if cell_vertices[c, v] == a:
                        i = v
                    elif cell_vertices[c, v] == b:
                        j = v
                if i > j:
                    i, j = j, i
                # TET_EDGES: (0,1) (0,2) (0,3) (1,2) (1,3) (2,3)
                slot = i * (5 - i) // 2 + j - 1
                out[c, slot] = e
                signs[c, slot] = 1 if vertex_global[cell_vertices[c, i]] < vertex_global[cell_vertices[c, j]] else -1
    return out, signs


# ------------------------------------------------------------------- element kernels
@_jit
def _gram(grad, c, G):
    """G_ab = g_a . g_b of cell c."""
    for a in range(4):
        for b in range(a, 4):
            s = grad[c, a, 0] * grad[c, b, 0] + grad[c, a, 1] * grad[c, b, 1] + grad[c, a, 2] * grad[c, b, 2]
            G[a, b] = s
            G[b, a] = s


@_jit
def _mass(G, V, signs, c, M):
    """Mass matrix (coefficient 1) of cell c from its Gram matrix G, signs included."""
    m_off, m_diag = V / 20.0, V / 10.0
    for k in range(6):
        i, j = _EI[k], _EJ[k]
        for l in range(k, 6):
            p, q = _EI[l], _EJ[l]
            m_ip = m_diag if i == p else m_off
            m_iq = m_diag if i == q else m_off
            m_jp = m_diag if j == p else m_off
            m_jq = m_diag if j == q else m_off
            mm = signs[c, k] * signs[c, l] * (m_ip * G[j, q] - m_iq * G[j, p] - m_jp * G[i, q] + m_jq * G[i, p])
            M[k, l] = mm
            M[l, k] = mm


@_jit
def _curl(G, V, signs, c, C):
    """Curl-curl matrix of cell c from its Gram matrix G, signs included."""
    for k in range(6):
        i, j = _EI[k], _EJ[k]
        for l in range(k, 6):
            p, q = _EI[l], _EJ[l]
            cc = signs[c, k] * signs[c, l] * 4.0 * V * (G[i, p] * G[j, q] - G[i, q] * G[j, p])
            C[k, l] = cc
            C[l, k] = cc


@_jit
def _element(grad, volume, signs, c, G, C, M):
    """Curl-curl C and mass M (coefficient 1) of cell c, signs included (G: work space)."""
    _gram(grad, c, G)
    _curl(G, volume[c], signs, c, C)
    _mass(G, volume[c], signs, c, M)


@_jit
def curl_mass_scatter(grad, volume, signs, dofs, coef, fixed, rowptr, slots, c_values, m_values):
    """Assemble C (curl-curl) and the mass matrix with per-cell coefficient ``coef`` into
    pattern value arrays (entry (k, l) of cell c at ``rowptr[dofs[c, k]] + slots[c, k, l]``),
    with the dofs flagged in ``fixed`` eliminated symmetrically: their rows and columns
    vanish in both, except the diagonal of C, which keeps its assembled value (so
    K = C + w M stays positive definite and scaled like its neighbours)."""
    G = np.empty((4, 4))
    C = np.empty((6, 6))
    M = np.empty((6, 6))
    for c in range(dofs.shape[0]):
        _element(grad, volume, signs, c, G, C, M)
        w = coef[c]
        for k in range(6):
            a = dofs[c, k]
            base = rowptr[a]
            fa = fixed[a]
            for l in range(6):
                b = dofs[c, l]
                at = base + slots[c, k, l]
                if fa or fixed[b]:
                    if k == l:
                        c_values[at] += C[k, l]
                    continue
                c_values[at] += C[k, l]
                m_values[at] += w * M[k, l]


@_jit
def mass_scatter(grad, volume, signs, dofs, coef, fixed, rowptr, slots, m_values):
    """Only the mass part of :func:`curl_mass_scatter` (re-assembly for a new model)."""
    G = np.empty((4, 4))
    M = np.empty((6, 6))
    for c in range(dofs.shape[0]):
        _gram(grad, c, G)
        _mass(G, volume[c], signs, c, M)
        w = coef[c]
        for k in range(6):
            a = dofs[c, k]
            if fixed[a]:
                continue
            base = rowptr[a]
            for l in range(6):
                if not fixed[dofs[c, l]]:
                    m_values[base + slots[c, k, l]] += w * M[k, l]


@_jit
def lift_rhs(grad, volume, signs, dofs, cells, coef, fixed, e_fixed, out):
    """Right-hand side of the eliminated Dirichlet dofs: for free rows
    out_a -= sum_b (C_ab + i coef M_ab) e_b over fixed b; for fixed rows
    out_a += C_aa e_a (matching the kept diagonal).  Complex ``e_fixed`` and ``out``
    over local dofs; only ``cells`` (those touching a fixed dof) are visited."""
    G = np.empty((4, 4))
    C = np.empty((6, 6))
    M = np.empty((6, 6))
    for n in range(cells.shape[0]):
        c = cells[n]
        _element(grad, volume, signs, c, G, C, M)
        w = coef[c]
        for k in range(6):
            a = dofs[c, k]
            if fixed[a]:
                out[a] += C[k, k] * e_fixed[a]
                continue
            acc = 0.0j
            for l in range(6):
                b = dofs[c, l]
                if fixed[b]:
                    acc += (C[k, l] + 1j * w * M[k, l]) * e_fixed[b]
            out[a] -= acc


@_jit
def mass_apply(grad, volume, signs, dofs, weight, fixed, u, out):
    """out_a += sum_c weight_c (M_c u)_a for the free rows a (complex u, out).  All
    columns count: a model change also moves the coupling to the boundary values."""
    G = np.empty((4, 4))
    M = np.empty((6, 6))
    for c in range(dofs.shape[0]):
        w = weight[c]
        if w == 0.0:
            continue
        _gram(grad, c, G)
        _mass(G, volume[c], signs, c, M)
        for k in range(6):
            a = dofs[c, k]
            if fixed[a]:
                continue
            acc = 0.0j
            for l in range(6):
                acc += M[k, l] * u[dofs[c, l]]
            out[a] += w * acc


@_jit
def mass_forms(grad, volume, signs, dofs, fixed, u, lam, out):
    """out_c += sum over free rows a of lam_a (M_c u)_a (complex bilinear, no conjugation)."""
    G = np.empty((4, 4))
    M = np.empty((6, 6))
    for c in range(dofs.shape[0]):
        _gram(grad, c, G)
        _mass(G, volume[c], signs, c, M)
        s = 0.0j
        for k in range(6):
            a = dofs[c, k]
            if fixed[a]:
                continue
            acc = 0.0j
            for l in range(6):
                acc += M[k, l] * u[dofs[c, l]]
            s += lam[a] * acc
        out[c] += s
