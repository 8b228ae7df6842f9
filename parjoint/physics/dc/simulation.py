"""DC resistivity forward modelling and sensitivities with P1/P2 finite elements.

Problem (SI units; sigma in S/m, potential in V, current 1 A):

    -div(sigma grad u) = delta(x - x_e)   in the earth (air cells are not in the domain)
    sigma du/dn = 0                       on the air-earth surface (natural condition)
    du/dn + alpha u = 0, alpha = (r.n)/|r|^2   on the sides and bottom (mixed condition)

The mixed condition is that of Dey & Morrison (1979): exact for the potential of a
point source on a homogeneous half-space, with r measured from the source.  Here r
is measured from the centre of the electrode layout, so one matrix (and one
factorization) serves every source; the error this adds decays with the ratio of
survey size to the distance of the far boundaries (padding).

Every electrode of the survey is a pole source: the potentials ``U[p]`` for unit
current at each electrode p are solved once per model.  Data are sums of pole
potentials; by reciprocity (the operator is symmetric) the same pole potentials are
the adjoint fields, so ``Jvec`` and ``Jtvec`` need no further solves:

    R = sum_terms s P[i, j],  P[i, j] = U[i](x_j)
    dR/dm_c = -sum_terms s sigma_c U[i]^T K_c U[j]   (m = log sigma, K_c the geometric
                                                       element matrix, Robin faces included)
"""

from __future__ import annotations

import numpy as np
from mpi4py import MPI
from scipy.spatial import cKDTree

from ...errors import InputError
from ...fem.elements import TRI_EDGES, face_mass_table, pair_table, stiffness_table
from ...fem.assembly import Pattern
from ...fem.kernels import (face_apply_multi, face_forms, face_forms_multi, face_scatter, stiffness_apply_multi,
                            stiffness_forms, stiffness_forms_multi, stiffness_scatter)
from ...fem.solvers import LinearSolver, choose_method
from ...fem.space import NodalSpace
from ...mesh import Mesh
from ...petsc import PETSc
from .survey import Survey


class DCSimulation:
    """DC forward modelling on ``mesh`` for ``survey``; model m = log(sigma) per owned cell.

    ``order`` 1 or 2 (P1/P2); ``method`` "auto", "amg" or "mumps" (see
    :mod:`parjoint.fem.solvers`); PETSc options under ``prefix`` (default ``dc_``).
    Electrodes must be mesh vertices of earth cells, within ``tolerance`` metres.

    ``source_groups`` G > 1 splits the ranks into G groups, each solving every G-th
    pole on its own copy of the mesh (:mod:`parjoint.fem.groups`); the potentials are
    then moved to this partition, so data and sensitivities are the same as with one
    group (to the solver's round-off).  "auto" uses one group per rank when there are
    at least four poles per rank and at most 300k dofs: small meshes, many sources.
    """

    def __init__(self, mesh: Mesh, survey: Survey, order: int = 1, method: str = "auto",
                 prefix: str = "dc_", tolerance: float = 1e-3, source_groups: int | str = 1):
        problem = survey.validate()
        if problem:
            raise InputError(f"survey: {problem}", collective=True)
        self.mesh, self.survey, self.order, self.prefix = mesh, survey, order, prefix
        self.comm: MPI.Comm = mesh.comm
        self.space = NodalSpace(mesh, order, ~mesh.is_air)
        self.table = pair_table(stiffness_table(order))
        self.face_table = face_mass_table(order)
        self.poles = np.unique(np.concatenate([survey.a, survey.b, survey.m, survey.n]))
        self.poles = self.poles[self.poles >= 0]  #: electrodes solved as unit sources
        self._terms = _data_terms(survey, self.poles)
        self._locate_electrodes(tolerance)
        self._robin_faces()
        self._build_pattern()
        self.method = choose_method(method, len(self.poles), self.space.n_global, prefix)
        self.solver = LinearSolver(self.comm, prefix, self.method)
        self._setup_groups(source_groups, method, tolerance)
        # pole potentials of the last two models (IP alternates between two), no solves needed
        # to revisit one: Jvec/Jtvec use potentials only
        self._cache: list[tuple] = []
        self.U: np.ndarray | None = None  #: pole potentials, (n_poles, n_local dofs), V for 1 A

    @property
    def n_data(self) -> int:
        return self.survey.n_data

    # ------------------------------------------------------------ set-up
    def _locate_electrodes(self, tolerance: float) -> None:
        """Owner rank and local dof of each electrode (vertex of an earth cell)."""
        mesh, sp, comm = self.mesh, self.space, self.comm
        xyz = self.survey.electrodes[self.poles]
        in_space = (sp.vertex_dof >= 0) & (sp.vertex_dof < sp.n_owned)
        candidates = np.flatnonzero(in_space)
        dist = np.full(len(xyz), np.inf)
        nearest = np.full(len(xyz), -1)
        if len(candidates):
            dist, k = cKDTree(mesh.vertex_coords[candidates]).query(xyz)
            nearest = candidates[k]
        # the nearest vertex of the whole mesh tells "in the air" from "not a node"
        owned_v = np.flatnonzero(mesh.vertex_owned)
        any_dist = cKDTree(mesh.vertex_coords[owned_v]).query(xyz)[0] if len(owned_v) else np.full(len(xyz), np.inf)
        all_dist = np.array(comm.allgather(dist))
        best_any = np.min(comm.allgather(any_dist), axis=0)
        owner = np.argmin(all_dist, axis=0)
        best = all_dist[owner, np.arange(len(xyz))]
        bad = np.flatnonzero(best > tolerance)
        if len(bad):
            k = int(bad[0])
            e = int(self.poles[k])
            where = ", ".join(f"{v:.3f}" for v in xyz[k])
            if best_any[k] <= tolerance:
                raise InputError(f"survey: electrode {e + 1} at ({where}) is in the air: DC electrodes must be on or "
                                 "below the earth surface", collective=True)
            raise InputError(f"survey: electrode {e + 1} at ({where}) is not a mesh node (nearest earth node "
                             f"{best[k]:.3g} m away; build the mesh with the electrodes as stations)",
                             collective=True)
        self.pole_owner = owner
        self.pole_dof = np.where(owner == comm.rank, sp.vertex_dof[np.maximum(nearest, 0)], -1)

    def _robin_faces(self) -> None:
        """Sides and bottom faces of earth cells, with alpha * area and their dofs."""
        mesh, sp = self.mesh, self.space
        space_index = np.full(mesh.n_cells, -1)
        space_index[sp.cells] = np.arange(len(sp.cells))
        parts = [mesh.boundary(side) for side in ("sides", "bottom")]
        faces = np.concatenate([p.face for p in parts])
        cells = np.concatenate([p.cell for p in parts])
        normal = np.concatenate([p.normal for p in parts])
        centroid = np.concatenate([p.centroid for p in parts])
        area = np.concatenate([p.area for p in parts])
        keep = space_index[cells] >= 0
        faces, cells, normal, centroid, area = faces[keep], cells[keep], normal[keep], centroid[keep], area[keep]
        center = self.survey.electrodes[self.poles].mean(axis=0)
        r = centroid - center
        alpha = np.einsum("ij,ij->i", r, normal) / np.einsum("ij,ij->i", r, r)
        self.face_cell = space_index[cells]  # position in space.cells
        self.face_scale = alpha * area  # 1/m * m^2; times sigma at assembly
        fv = mesh.face_vertices[faces]
        dofs = [sp.vertex_dof[fv]]
        if self.order == 2:
            a, b = fv[:, TRI_EDGES[:, 0]], fv[:, TRI_EDGES[:, 1]]
            dofs.append(sp.edge_dof[mesh.find_edges(a, b)])
        self.face_dofs = np.ascontiguousarray(np.concatenate(dofs, axis=1))

    def _build_pattern(self) -> None:
        self.pattern = Pattern(self.space, self.space.cell_dofs)
        self._cell_slots = self.pattern.cell_slots.reshape(len(self.space.cells), -1)
        self._face_slots = self.pattern.slots(self.face_dofs)
        self.mat = self.pattern.new_matrix()
        self._values = np.zeros(self.pattern.nnz)
        self.mat.setOption(PETSc.Mat.Option.SYMMETRIC, True)
        self.mat.setOption(PETSc.Mat.Option.SPD, True)

    # ------------------------------------------------------------ forward
    def conductivity(self, m: np.ndarray) -> np.ndarray:
        """sigma (S/m) of the space cells from m = log(sigma) per owned cell."""
        m = np.asarray(m, dtype=np.float64)
        if m.shape != (self.mesh.n_cells,):
            raise ValueError(f"model has shape {m.shape}, expected ({self.mesh.n_cells},)")
        return np.exp(m[self.space.cells])

    def assemble(self, sigma: np.ndarray) -> None:
        """Fill the matrix for conductivities ``sigma`` (one per space cell) on the fixed pattern."""
        values = self._values
        values[:] = 0.0
        stiffness_scatter(self.mesh.grad_p1, self.mesh.volume, self.space.cells, sigma, self.table,
                          self._cell_slots, values)
        face_scatter(sigma[self.face_cell] * self.face_scale, self.face_table, self._face_slots, values)
        self.pattern.fill(self.mat, values)

    def fields(self, m: np.ndarray) -> np.ndarray:
        """Collective: pole potentials for model m (the last two models are cached)."""
        for entry in self._cache:
            if np.array_equal(m, entry[0]):
                _, self.U, self._P, self._sigma = entry
                return self.U
        sigma = self.conductivity(m)
        U = np.empty((len(self.poles), self.space.n_local))
        if self.groups is None:
            self._solve_poles(sigma, range(len(self.poles)), lambda i, x: U.__setitem__(i, self.space.to_local(x)))
        else:
            self._solve_poles_in_groups(m, U)
        self.U, self._sigma, self._P = U, sigma, self._at_poles(U)
        self._cache = [(np.array(m, copy=True), U, self._P, sigma)] + self._cache[:1]
        return U

    def _solve_poles(self, sigma: np.ndarray, poles, store) -> None:
        """Assemble for ``sigma``, factor, and solve the unit-current problem of each pole."""
        self.assemble(sigma)
        self.solver.set_operator(self.mat)
        sp = self.space
        b, x = sp.create_vec(), sp.create_vec()
        for i in poles:
            b.set(0.0)
            if self.pole_dof[i] >= 0:
                b.setValue(sp.global_offset + self.pole_dof[i], 1.0)
            b.assemble()
            x.set(0.0)
            self.solver.solve(b, x)
            store(i, x)
        b.destroy(), x.destroy()

    def _setup_groups(self, source_groups, method: str, tolerance: float) -> None:
        size = self.comm.size
        if source_groups == "auto":
            source_groups = size if len(self.poles) >= 4 * size and self.space.n_global <= 300_000 else 1
        self.groups = None
        if int(source_groups) > 1:
            from ...fem.groups import MeshGroups

            self.groups = MeshGroups(self.mesh, int(source_groups))
            self._group_sim = DCSimulation(self.groups.mesh, self.survey, self.order, method, self.prefix, tolerance)
            self._transfer = self.groups.dof_transfer(self.space, self._group_sim.space)

    def _solve_poles_in_groups(self, m: np.ndarray, U: np.ndarray) -> None:
        """Each group solves every G-th pole; G solutions move to this partition per round."""
        G, g = self.groups.n_groups, self.groups.group
        n = len(self.poles)
        group_sim = self._group_sim
        solved = {}
        group_sim._solve_poles(group_sim.conductivity(self.groups.cells_to_group(m)), range(g, n, G),
                               lambda i, x: solved.__setitem__(i, x.copy()))
        for first in range(0, n, G):
            world_vecs = self._transfer.exchange(solved.pop(first + g, None))
            for k, vec in enumerate(world_vecs):
                if first + k < n:
                    U[first + k] = self.space.to_local(vec)

    def _at_poles(self, V: np.ndarray) -> np.ndarray:
        """Collective: V[i] evaluated at every pole electrode, (n_rows, n_poles)."""
        out = np.zeros((len(V), len(self.poles)))
        mine = np.flatnonzero(self.pole_dof >= 0)
        out[:, mine] = V[:, self.pole_dof[mine]]
        self.comm.Allreduce(MPI.IN_PLACE, out, op=MPI.SUM)
        return out

    def dpred(self, m: np.ndarray) -> np.ndarray:
        """Transfer resistances R (ohm) of all data; replicated on every rank."""
        self.fields(m)
        i, j, s, d = self._terms
        return np.bincount(d, weights=s * self._P[i, j], minlength=self.n_data)

    # ------------------------------------------------------------ sensitivities
    def Jvec(self, m: np.ndarray, v: np.ndarray) -> np.ndarray:
        """dR/dm v for a perturbation v of log(sigma) per owned cell."""
        U = self.fields(m)
        sp = self.space
        weight = np.asarray(v, dtype=np.float64)[sp.cells] * self._sigma
        sources = np.unique(self._terms[0])
        UT = np.ascontiguousarray(U[sources].T)
        WT = np.zeros_like(UT)  # dK u_s for every source, local dofs
        stiffness_apply_multi(self.mesh.grad_p1, self.mesh.volume, sp.cells, self.table, sp.cell_dofs, weight, UT, WT)
        face_apply_multi(self.face_table, self.face_dofs, weight[self.face_cell] * self.face_scale, UT, WT)
        W = sp.add_local_columns(WT)  # (n_owned, sources)
        dP = -(W.T @ U[:, :sp.n_owned].T)  # (sources, poles): d U[source] at each pole, by reciprocity
        self.comm.Allreduce(MPI.IN_PLACE, dP, op=MPI.SUM)
        i, j, s, d = self._terms
        row = np.searchsorted(sources, i)
        return np.bincount(d, weights=s * dP[row, j], minlength=self.n_data)

    def Jtvec(self, m: np.ndarray, w: np.ndarray) -> np.ndarray:
        """(dR/dm)^T w, per owned cell (zero in the air)."""
        U = self.fields(m)
        sp = self.space
        i, j, s, d = self._terms
        C = np.zeros((len(self.poles), len(self.poles)))
        np.add.at(C, (i, j), s * np.asarray(w, dtype=np.float64)[d])
        sources = np.flatnonzero(np.abs(C).sum(axis=1) > 0)
        UT = np.ascontiguousarray(U[sources].T)
        LT = np.ascontiguousarray((C[sources] @ U).T)  # adjoint fields: combinations of pole potentials
        out_space = np.empty(len(sp.cells))
        stiffness_forms_multi(self.mesh.grad_p1, self.mesh.volume, sp.cells, self.table, sp.cell_dofs, UT, LT,
                              out_space)
        faces = np.empty(len(self.face_dofs))
        face_forms_multi(self.face_table, self.face_dofs, UT, LT, faces)
        out_space += np.bincount(self.face_cell, weights=faces * self.face_scale, minlength=len(sp.cells))
        out = np.zeros(self.mesh.n_cells)
        out[sp.cells] = -out_space * self._sigma
        return out

    def jacobian(self, m: np.ndarray) -> np.ndarray:
        """The explicit sensitivity block of the owned cells, (n_data, n_cells), dR/dlog(sigma).

        Each rank holds the columns of its own cells (a distributed J); meant for small
        problems: it costs one cell loop per distinct pole pair of the survey.
        """
        U = self.fields(m)
        i, j, s, d = self._terms
        pairs, index = np.unique(np.stack([i, j], axis=1), axis=0, return_inverse=True)
        J = np.zeros((self.n_data, self.mesh.n_cells))
        cells = self.space.cells
        for k, (a, b) in enumerate(pairs):
            form = self._form_dK(U[a], U[b])
            for t in np.flatnonzero(index.ravel() == k):
                J[d[t], cells] -= s[t] * form
        return J

    def _form_dK(self, u: np.ndarray, lam: np.ndarray) -> np.ndarray:
        """sigma_c u^T K_c lam for every space cell (cells and Robin faces)."""
        sp = self.space
        out = np.empty(len(sp.cells))
        stiffness_forms(self.mesh.grad_p1, self.mesh.volume, sp.cells, self.table, sp.cell_dofs, u, lam, out)
        faces = np.empty(len(self.face_dofs))
        face_forms(self.face_table, self.face_dofs, u, lam, faces)
        out += np.bincount(self.face_cell, weights=faces * self.face_scale, minlength=len(sp.cells))
        return out * self._sigma

    def destroy(self) -> None:
        self.solver.destroy()
        self.mat.destroy()
        self.pattern.destroy()


def _data_terms(survey: Survey, poles: np.ndarray):
    """Each datum as signed pole-pair terms: (source pole, receiver pole, sign, datum)."""
    pos = {int(e): k for k, e in enumerate(poles)}
    rows = []
    for src, ssign in ((survey.a, 1.0), (survey.b, -1.0)):
        for rec, rsign in ((survey.m, 1.0), (survey.n, -1.0)):
            ok = (src >= 0) & (rec >= 0)
            d = np.flatnonzero(ok)
            rows.append((np.array([pos[int(e)] for e in src[ok]], np.int64),
                         np.array([pos[int(e)] for e in rec[ok]], np.int64),
                         np.full(len(d), ssign * rsign), d))
    return tuple(np.concatenate(parts) for parts in zip(*rows))
