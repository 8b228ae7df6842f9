"""3-D magnetotelluric forward modelling and sensitivities with Nedelec edge elements.

Problem (SI; e^{+i omega t}; E in V/m for a unit magnetic field at the top of the
domain): for each of two source polarizations,

    curl curl E + i omega mu0 sigma E = 0   in the whole box, air included,
    n x E = n x E_1D                        on its outer boundary,

with E_1D the 1-D plane-wave field of the model's boundary columns
(:mod:`.boundary`).  Air cells get ``air_conductivity`` (default 1e-8 S/m: small
enough that the air is quasi-static, large enough that the curl-curl operator stays
definite); the model m = log(sigma) applies to the earth cells.  Multiplied by mu0,
the Galerkin system with lowest-order Nedelec elements (:mod:`parjoint.fem.nedelec`)
is (C + i omega mu0 M_sigma) e = 0, boundary dofs eliminated symmetrically, solved as
a real 2x2 block (:mod:`.solver`).

Responses (:mod:`.survey`, :mod:`.receivers`): per station, E and H = curl E /
(-i omega mu0) of both polarizations form 2x2 matrices in the geographic frame, and
Z = E H^{-1}, T = H_z H^{-1}.

Sensitivities by the adjoint method.  Only the mass matrix depends on the model:
dA/dm_c = i omega mu0 sigma_c M_c.  For a perturbation v of log-conductivity,

    de_p = -A^{-1} (i omega mu0 sum_c v_c sigma_c M_c e_p)   (free rows; e_p includes
                                                              its boundary values)
    dZ = (dE - Z dH) H^{-1},   dT = (dH_z - T dH) H^{-1}.

The complex matrix is symmetric, so the adjoint fields of a weighted data sum solve
the same system: A lambda_p = a_p, with a_p the derivative of the weighted response
sum with respect to e_p, and

    (J^T w)_c = -Re(i omega mu0 sigma_c sum_p lambda_p^T M_c e_p).

Every solve at a frequency (two polarizations, two per J product) reuses that
frequency's preconditioner or factorization.  Data are replicated on every rank;
model vectors are per owned cell.  With ``frequency_groups`` G > 1 the ranks form G
groups, each solving every G-th frequency on its own copy of the mesh
(:mod:`parjoint.fem.groups`); results are the same as with one group to the solver's
tolerance.
"""

from __future__ import annotations

import numpy as np
from mpi4py import MPI

from ...errors import InputError
from ...mesh import Mesh
from ...petsc import IntType, PETSc
from .problem import FrequencyProblem
from .solver import choose_method
from .survey import MTSurvey

AIR_CONDUCTIVITY = 1e-8  #: S/m, default conductivity of air cells
_KEEP_LIMIT = 4_000_000  # "auto": keep every frequency's system while n_freq * n_edges stays below


class MTSimulation:
    """MT forward modelling on ``mesh`` for ``survey``; model m = log(sigma) per owned cell.

    ``boundary_model`` (log sigma per owned cell, air values ignored) gives the 1-D
    columns of the boundary values; pass the forward model, or a background.
    ``method`` "ams" (FGMRES + PRESB/AMS) or "mumps"; PETSc options under ``prefix``.
    ``frequency_groups``: G dividing the rank count, or "auto" (one group per rank when
    there are at least as many frequencies as ranks and at most 0.5M edges).
    ``keep_systems``: keep each frequency's matrices and preconditioner between calls
    (True, False or "auto": while n_frequencies x n_edges <= 4M).
    """

    def __init__(self, mesh: Mesh, survey: MTSurvey, boundary_model: np.ndarray, *, method: str = "ams",
                 prefix: str = "mt_", air_conductivity: float = AIR_CONDUCTIVITY,
                 frequency_groups: int | str = 1, tolerance: float = 1e-3, keep_systems: bool | str = "auto"):
        problem = survey.validate()
        if problem:
            raise InputError(f"survey: {problem}", collective=True)
        if not air_conductivity > 0:
            raise InputError(f"air conductivity must be positive, got {air_conductivity:g} S/m", collective=True)
        self.mesh, self.survey, self.comm = mesh, survey, mesh.comm
        self.method = choose_method(method, prefix)
        n_f = survey.n_frequencies
        size = self.comm.size
        if frequency_groups == "auto":
            frequency_groups = size if n_f >= size and mesh.n_edges_global <= 500_000 else 1
        G = int(frequency_groups)
        self.groups = None
        work_mesh, bmodel = mesh, np.asarray(boundary_model, dtype=np.float64)
        if bmodel.shape != (mesh.n_cells,):
            raise ValueError(f"boundary model has shape {bmodel.shape}, expected ({mesh.n_cells},)")
        if G > 1:
            from ...fem.groups import MeshGroups

            self.groups = MeshGroups(mesh, G)
            work_mesh = self.groups.mesh
            bmodel = self.groups.cells_to_group(bmodel)
            self._build_cell_return()
        mine = np.arange(n_f)[self.groups.group::G] if self.groups else np.arange(n_f)
        if keep_systems == "auto":
            keep_systems = len(mine) * mesh.n_edges_global <= _KEEP_LIMIT
        self.problem = FrequencyProblem(work_mesh, survey, mine, bmodel, self.method, prefix, air_conductivity,
                                tolerance, bool(keep_systems))
        self._cache: tuple | None = None

    @property
    def n_data(self) -> int:
        return self.survey.n_data

    @property
    def iterations(self) -> dict[float, list[int]]:
        """Outer iterations of every solve, per frequency (Hz), gathered from all groups."""
        local = {float(self.survey.frequencies[f]): its for f, its in self.problem.iterations.items()}
        if self.groups is None:
            return local
        parts = self.comm.allgather(local if self.groups.comm.rank == 0 else {})
        return {f: its for part in parts for f, its in part.items()}

    # ------------------------------------------------------------ groups
    def _build_cell_return(self) -> None:
        """A scatter adding per-cell values of every group's partition into the world's."""
        groups, mesh = self.groups, self.mesh
        world_index = groups.cells_to_group(mesh.cell_global.astype(np.float64)).astype(IntType)
        n = groups.mesh.n_cells
        self._world_cells = mesh.create_cell_vec()
        self._group_stack = PETSc.Vec().createMPI((n, PETSc.DECIDE), comm=self.comm)
        first = self._group_stack.getOwnershipRange()[0]
        self._cell_return = PETSc.Scatter().create(
            self._group_stack, PETSc.IS().createGeneral(np.arange(first, first + n, dtype=IntType), comm=self.comm),
            self._world_cells, PETSc.IS().createGeneral(world_index, comm=self.comm))

    def _to_group(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (self.mesh.n_cells,):
            raise ValueError(f"cell array has shape {values.shape}, expected ({self.mesh.n_cells},)")
        return self.groups.cells_to_group(values) if self.groups else values

    def _combine(self, local: np.ndarray) -> np.ndarray:
        """Per-frequency results of every group, on every rank (each group fills its own)."""
        if self.groups is None:
            return local
        out = local if self.groups.comm.rank == 0 else np.zeros_like(local)
        out = np.ascontiguousarray(out)
        self.comm.Allreduce(MPI.IN_PLACE, out, op=MPI.SUM)
        return out

    def _cells_to_world(self, group_values: np.ndarray) -> np.ndarray:
        if self.groups is None:
            return group_values
        self._group_stack.getArray()[:] = group_values
        self._world_cells.set(0.0)
        self._cell_return.scatter(self._group_stack, self._world_cells, PETSc.InsertMode.ADD,
                                  PETSc.ScatterMode.FORWARD)
        return self._world_cells.getArray(readonly=True).copy()

    # ------------------------------------------------------------ forward
    def responses(self, m: np.ndarray) -> np.ndarray:
        """Complex responses (n_frequencies, n_stations, 6): Z (ohm) and T (see :mod:`.survey`)."""
        if self._cache is not None and np.array_equal(self._cache[0], m):
            return self._cache[1]
        R = self._combine(self.problem.responses(self._to_group(m)))
        self._cache = (np.array(m, copy=True), R)
        return R

    def dpred(self, m: np.ndarray) -> np.ndarray:
        """The real data vector (survey order) for model m; replicated on every rank."""
        return self.survey.to_data(self.responses(m))

    # ------------------------------------------------------------ sensitivities
    def Jvec(self, m: np.ndarray, v: np.ndarray) -> np.ndarray:
        """d(data)/dm v for a perturbation v of log(sigma) per owned cell."""
        R = self.responses(m)
        dR = self._combine(self.problem.jvec(self._to_group(m), self._to_group(v)))
        f, s, c = self.survey.datum_index()
        beta = self.survey.linearization(R)
        return (beta * dR[f, s, c][:, None]).real.ravel()

    def Jtvec(self, m: np.ndarray, w: np.ndarray) -> np.ndarray:
        """(d(data)/dm)^T w per owned cell (zero in the air)."""
        R = self.responses(m)
        f, s, c = self.survey.datum_index()
        beta = self.survey.linearization(R)
        weights = np.zeros(R.shape, np.complex128)
        np.add.at(weights, (f, s, c), (np.asarray(w, dtype=np.float64).reshape(-1, 2) * beta).sum(axis=1))
        return self._cells_to_world(self.problem.jtvec(self._to_group(m), weights))

    def destroy(self) -> None:
        self.problem.destroy()
