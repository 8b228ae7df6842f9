"""Vectors, matrices and ghost exchange shared by the finite-element spaces.

A space numbers its dofs per rank as *owned* first, then *ghost* (owned elsewhere);
``local_to_global`` and ``lgmap`` map local to global numbers, which are contiguous
per rank (PETSc's layout).  Subclasses set ``comm``, ``n_owned``, ``n_global``,
``n_local``, ``local_to_global`` and ``lgmap``.
"""

from __future__ import annotations

import numpy as np

from ..petsc import IntType, PETSc


class DistributedDofs:
    """Global vectors and matrices of a space, and owned <-> owned + ghost transfers."""

    comm: object
    n_owned: int
    n_global: int
    n_local: int
    local_to_global: np.ndarray
    lgmap: PETSc.LGMap

    def create_vec(self) -> PETSc.Vec:
        """A global vector (owned dofs) of this space."""
        return PETSc.Vec().createMPI((self.n_owned, self.n_global), comm=self.comm)

    def create_matrix(self) -> PETSc.Mat:
        """An AIJ matrix on this space with its local-to-global map (not preallocated)."""
        mat = PETSc.Mat().create(comm=self.comm)
        mat.setSizes(((self.n_owned, self.n_global), (self.n_owned, self.n_global)))
        mat.setType(PETSc.Mat.Type.AIJ)
        mat.setLGMap(self.lgmap, self.lgmap)
        return mat

    def to_local(self, vec: PETSc.Vec) -> np.ndarray:
        """Collective: owned + ghost values (local dof order) of a global vector."""
        scatter = self._scatter()
        scatter.scatter(vec, self._ghosted, PETSc.InsertMode.INSERT, PETSc.ScatterMode.FORWARD)
        return self._ghosted.getArray(readonly=True).copy()

    def add_local(self, values: np.ndarray, vec: PETSc.Vec) -> None:
        """Collective: add local-dof values (owned + ghost) into a global vector."""
        scatter = self._scatter()
        self._ghosted.getArray()[:] = values
        scatter.scatter(self._ghosted, vec, PETSc.InsertMode.ADD, PETSc.ScatterMode.REVERSE)

    def _scatter(self) -> PETSc.Scatter:
        if not hasattr(self, "_scatter_obj"):
            self._ghosted = PETSc.Vec().createSeq(self.n_local, comm=PETSc.COMM_SELF)
            index = PETSc.IS().createGeneral(self.local_to_global.astype(IntType), comm=self.comm)
            self._scatter_obj = PETSc.Scatter().create(self.create_vec(), index, self._ghosted, None)
        return self._scatter_obj
