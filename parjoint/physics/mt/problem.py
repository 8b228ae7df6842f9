"""The MT problem on one communicator (all ranks, or one frequency group): matrices,
solves, station fields and the adjoint products for a set of frequencies.

See :mod:`.simulation` for the equations.  Matrices are assembled on a fixed pattern
(:class:`~parjoint.fem.assembly.Pattern`, whose matrices read numpy value arrays in
place): the curl-curl values C once, the sigma-mass values M for every model, and for
each frequency H = C + omega mu0 M and W = omega mu0 M, two array operations.  With ``keep`` every frequency
keeps its matrices and preconditioner (J products then need no new set-up); without,
one set is refilled and set up again per frequency (less memory).  The array of M
values lives only until the first W of the model is filled; later W's are scaled
copies of that one (W' = (omega'/omega) W), which saves 8 bytes per matrix entry.
"""

from __future__ import annotations

import numpy as np

from ...fem.assembly import Pattern
from ...fem.nedelec import EdgeSpace, VertexStiffness, curl_mass_scatter, lift_rhs, mass_apply, mass_forms, mass_scatter
from ...mesh import Mesh
from ...petsc import IntType, PETSc
from .boundary import BoundaryValues
from .layered import MU0
from .receivers import Stations
from .solver import AmsData, BlockSystem, DivergenceCorrection
from .survey import MTSurvey

_GEO = (1, 0)  # mesh component of geographic x (north) and y (east)


class FrequencyProblem:
    """The MT problem of one communicator (all ranks, or one group) for some frequencies."""

    def __init__(self, mesh: Mesh, survey: MTSurvey, frequencies: np.ndarray, boundary_model: np.ndarray,
                 method: str, prefix: str, air_conductivity: float, tolerance: float, keep: bool):
        self.mesh, self.survey, self.comm = mesh, survey, mesh.comm
        self.freq_index = np.asarray(frequencies, dtype=np.int64)
        self.method, self.prefix, self.keep = method, prefix, keep
        self.air_conductivity = air_conductivity
        self.space = space = EdgeSpace(mesh)
        self.fixed = space.outer_boundary()
        labels = [survey.label(k) for k in range(survey.n_stations)]
        self.stations = Stations(mesh, space, survey.xyz, labels, tolerance)
        self.boundary = BoundaryValues(mesh, space, self.fixed, self.conductivity(boundary_model))
        self.bc_cells = np.flatnonzero(self.fixed[space.kernel.dofs].any(axis=1))  # cells touching the boundary
        self.pattern = Pattern(space, space.kernel.dofs)
        # values below are in the matrices' layout (Pattern.array)
        self._C: np.ndarray | None = None  # curl-curl values (model independent)
        self._M: np.ndarray | None = None  # sigma-mass values of the current model, until a W holds them
        self._mass_source: tuple[PETSc.Mat, float] | None = None  # (W, omega mu0) of the current model
        self._ams_data = None
        self._systems: dict[int, BlockSystem] = {}
        self._model: np.ndarray | None = None
        self._model_id = 0
        self.iterations: dict[int, list[int]] = {}
        self._half = [space.create_vec() for _ in range(2)]

    # ------------------------------------------------------------ model and matrices
    def conductivity(self, m: np.ndarray) -> np.ndarray:
        """sigma (S/m) of every owned cell: exp(m) in the earth, the air value in the air."""
        m = np.asarray(m, dtype=np.float64)
        if m.shape != (self.mesh.n_cells,):
            raise ValueError(f"model has shape {m.shape}, expected ({self.mesh.n_cells},)")
        return np.where(self.mesh.is_air, self.air_conductivity, np.exp(m))

    def _set_model(self, m: np.ndarray) -> None:
        if self._model is not None and np.array_equal(self._model, m):
            return
        self.sigma = self.conductivity(m)
        kc, pattern = self.space.kernel, self.pattern
        M = np.zeros(pattern.nnz)
        self._mass_source = None
        if self._C is None:
            C = np.zeros(pattern.nnz)
            curl_mass_scatter(*kc, self.sigma, self.fixed, pattern.rowptr, pattern.within, C, M)
            self._C = pattern.gather(C)
            del C
        else:
            mass_scatter(*kc, self.sigma, self.fixed, pattern.rowptr, pattern.within, M)
        self._M = pattern.gather(M)
        self._model = np.array(m, copy=True)
        self._model_id += 1
        self._fields: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def _fill(self, H: PETSc.Mat, W: PETSc.Mat, wmu: float) -> None:
        """H = C + wmu M and W = wmu M.  W comes from the M array if it still exists
        (then freed), else from the W that took it."""
        w = Pattern.array(W)
        if self._M is not None:
            np.multiply(self._M, wmu, out=w)
            self._M = None
        else:
            source, source_wmu = self._mass_source
            np.multiply(Pattern.array(source), wmu / source_wmu, out=w)
        self._mass_source = (W, wmu)
        np.add(self._C, w, out=Pattern.array(H))
        W.assemble()
        H.assemble()

    def system(self, fi: int) -> BlockSystem:
        """The block system of frequency index ``fi`` for the current model.  Without
        ``keep`` one system serves every frequency."""
        key = fi if self.keep else -1
        stamp = (self._model_id, fi)
        sys = self._systems.get(key)
        if sys is not None and sys.stamp == stamp:
            return sys
        wmu = 2 * np.pi * self.survey.frequencies[fi] * MU0
        if sys is None:
            H, W = self.pattern.new_matrix(), self.pattern.new_matrix()
            self._fill(H, W, wmu)
            if self._ams_data is None and self.method == "ams":
                self._ams_data = self._build_ams_data()
            self._update_divergence()
            sys = BlockSystem(self.space, H, W, wmu, self.method, self.prefix, self._ams_data)
            self._systems[key] = sys
        else:
            self._fill(sys.H, sys.W, wmu)
            sys.wmu = wmu
            self._update_divergence()
            sys.refresh()
        sys.stamp = stamp
        return sys

    def _update_divergence(self) -> None:
        """The divergence correction's K for the current model (AMS only; once per model)."""
        if self._ams_data is None or self._stiffness_model == self._model_id:
            return
        K = self._stiffness.assemble(self.sigma, self._ams_data.divergence.fixed)
        self._ams_data.divergence.set_operator(K)
        self._stiffness_model = self._model_id

    def _build_ams_data(self) -> AmsData:
        """Discrete gradient, edge-constant vectors, and the vertices outside the
        divergence correction: on the boundary, or touching no earth cell."""
        sp, mesh = self.space, self.mesh
        G = sp.discrete_gradient()
        edge_vecs = []
        for x in sp.vertex_coordinate_vecs():
            v = sp.create_vec()
            G.mult(x, v)
            edge_vecs.append(v)
            x.destroy()
        earth = np.zeros(len(mesh.vertex_coords), bool)
        earth[mesh.cell_vertices[~mesh.is_air].ravel()] = True
        boundary = np.zeros(len(mesh.vertex_coords), bool)
        boundary[sp.dof_vertices[self.fixed].ravel()] = True
        earth = sp.vertex_flags_or(earth)
        boundary = sp.vertex_flags_or(boundary)
        fixed = mesh.vertex_owned & (boundary | ~earth)
        self._stiffness = VertexStiffness(sp)
        self._stiffness_model = -1
        divergence = DivergenceCorrection(G, sp.vertex_global[fixed].astype(IntType), self.prefix)
        return AmsData(G, edge_vecs, divergence)

    # ------------------------------------------------------------ block vectors
    def _to_block(self, sys: BlockSystem, local: np.ndarray) -> PETSc.Vec:
        """Global block vector [Re; Im] of a complex local-dof vector summed over ranks."""
        b = sys.create_vec()
        re, im = sys.halves(b, readonly=False)
        for part, target in ((local.real, re), (local.imag, im)):
            u = self._half[0]
            u.set(0.0)
            self.space.add_local(np.ascontiguousarray(part), u)
            target[:] = u.getArray(readonly=True)
        return b

    def _from_block(self, sys: BlockSystem, x: PETSc.Vec) -> np.ndarray:
        """Complex local-dof values (owned + ghost) of a block vector."""
        out = []
        for part in sys.halves(x):
            u = self._half[1]
            u.getArray()[:] = part
            out.append(self.space.to_local(u))
        return out[0] + 1j * out[1]

    def _solve(self, sys: BlockSystem, fi: int, rhs: np.ndarray) -> np.ndarray:
        b = self._to_block(sys, rhs)
        x = sys.create_vec()
        sys.solve(b, x)
        self.iterations.setdefault(int(fi), []).append(sys.iterations[-1])
        out = self._from_block(sys, x)
        b.destroy(), x.destroy()
        return out

    # ------------------------------------------------------------ forward
    def fields(self, m: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Collective: E dofs (complex, local) of both polarizations at each of this
        problem's frequencies, for model m (the last model is cached)."""
        self._set_model(m)
        sp = self.space
        for fi in self.freq_index:
            if fi in self._fields:
                continue
            sys = self.system(fi)
            wmu = 2 * np.pi * self.survey.frequencies[fi] * MU0
            dofs, values = self.boundary.values(self.survey.frequencies[fi])
            pols = []
            for p in range(2):
                e_fixed = np.zeros(sp.n_local, np.complex128)
                e_fixed[dofs] = values[:, p]
                rhs = np.zeros(sp.n_local, np.complex128)
                lift_rhs(*sp.kernel, self.bc_cells, wmu * self.sigma, self.fixed, e_fixed, rhs)
                e = self._solve(sys, fi, rhs)
                e[self.fixed] = e_fixed[self.fixed]
                pols.append(e)
            self._fields[fi] = (pols[0], pols[1])
        return self._fields

    def _station_fields(self, fi: int, pols) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """E (n, 2, 2), H (n, 2, 2) [geographic component, polarization] and H_z (n, 2)."""
        wmu = 2 * np.pi * self.survey.frequencies[fi] * MU0
        n = self.stations.n
        E, H, Hz = np.empty((n, 2, 2), complex), np.empty((n, 2, 2), complex), np.empty((n, 2), complex)
        for p, e in enumerate(pols):
            e_mesh, curl = self.stations.evaluate(e)
            h = curl / (-1j * wmu)
            for a in range(2):
                E[:, a, p] = e_mesh[:, _GEO[a]]
                H[:, a, p] = h[:, _GEO[a]]
            Hz[:, p] = -h[:, 2]
        return E, H, Hz

    def responses(self, m: np.ndarray) -> np.ndarray:
        """Collective: responses (n_frequencies, n_stations, 6), zero at other problems' frequencies."""
        fields = self.fields(m)
        out = np.zeros((self.survey.n_frequencies, self.stations.n, 6), np.complex128)
        self._linear = {}
        for fi in self.freq_index:
            E, H, Hz = self._station_fields(fi, fields[fi])
            Hinv = np.linalg.inv(H)
            Z = E @ Hinv
            T = np.einsum("sp,spq->sq", Hz, Hinv)
            out[fi, :, :4] = Z.reshape(-1, 4)
            out[fi, :, 4:] = T
            self._linear[fi] = (Hinv, Z, T)
        return out

    # ------------------------------------------------------------ sensitivities
    def _ensure(self, m: np.ndarray) -> None:
        if self._model is None or not np.array_equal(self._model, m) or not hasattr(self, "_linear") \
                or any(fi not in self._linear for fi in self.freq_index):
            self.responses(m)

    def jvec(self, m: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Collective: d responses (n_frequencies, n_stations, 6) for a log-sigma change v."""
        self._ensure(m)
        mesh, sp = self.mesh, self.space
        weight = np.where(mesh.is_air, 0.0, np.asarray(v, dtype=np.float64) * self.sigma)
        out = np.zeros((self.survey.n_frequencies, self.stations.n, 6), np.complex128)
        for fi in self.freq_index:
            sys = self.system(fi)
            wmu = 2 * np.pi * self.survey.frequencies[fi] * MU0
            d_pols = []
            for e in self._fields[fi]:
                r = np.zeros(sp.n_local, np.complex128)
                mass_apply(*sp.kernel, weight, self.fixed, e, r)
                d_pols.append(self._solve(sys, fi, -1j * wmu * r))
            dE, dH, dHz = self._station_fields(fi, d_pols)
            Hinv, Z, T = self._linear[fi]
            out[fi, :, :4] = ((dE - Z @ dH) @ Hinv).reshape(-1, 4)
            out[fi, :, 4:] = np.einsum("sp,spq->sq", dHz - np.einsum("sp,spq->sq", T, dH), Hinv)
        return out

    def jtvec(self, m: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Collective: gradient per owned cell of Re(sum weights * responses)."""
        self._ensure(m)
        mesh, sp = self.mesh, self.space
        grad = np.zeros(mesh.n_cells)
        for fi in self.freq_index:
            omega_z, omega_t = weights[fi, :, :4].reshape(-1, 2, 2), weights[fi, :, 4:]
            if not (omega_z.any() or omega_t.any()):
                continue
            sys = self.system(fi)
            wmu = 2 * np.pi * self.survey.frequencies[fi] * MU0
            Hinv, Z, T = self._linear[fi]
            HinvT = Hinv.transpose(0, 2, 1)
            Y = omega_z @ HinvT                                   # source of dE
            Yt = np.einsum("sp,spq->sq", omega_t, HinvT)          # source of dH_z
            SH = -(Z.transpose(0, 2, 1) @ Y) - T[:, :, None] * Yt[:, None, :]   # source of dH
            forms = np.zeros(mesh.n_cells, np.complex128)
            for p, e in enumerate(self._fields[fi]):
                wE = np.zeros((self.stations.n, 2), np.complex128)
                wC = np.zeros((self.stations.n, 3), np.complex128)
                for a in range(2):
                    wE[:, _GEO[a]] = Y[:, a, p]
                    wC[:, _GEO[a]] = SH[:, a, p] / (-1j * wmu)
                wC[:, 2] = -Yt[:, p] / (-1j * wmu)
                source = self.stations.adjoint(wE, wC)
                source[self.fixed] = 0.0
                lam = self._solve(sys, fi, source)
                mass_forms(*sp.kernel, self.fixed, e, lam, forms)
            grad -= (1j * wmu * self.sigma * forms).real
        grad[mesh.is_air] = 0.0
        return grad

    def destroy(self) -> None:
        for sys in self._systems.values():
            sys.destroy()
            sys.H.destroy()
            sys.W.destroy()
        self._systems.clear()
        self.pattern.destroy()
        if self._ams_data is not None:
            self._ams_data.destroy()
            self._stiffness.destroy()
