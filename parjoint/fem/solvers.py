"""Linear solvers for symmetric positive definite finite-element systems.

Two methods, chosen per simulation and overridable from the command line:

* ``amg``: conjugate gradients with hypre BoomerAMG, with the settings measured best
  here for 3-D P1/P2 Laplacians (strong threshold 0.5, HMIS coarsening, ext+i
  interpolation, P_max 4): about 13 iterations to 1e-10 regardless of mesh size;
* ``mumps``: a MUMPS Cholesky factorization, computed once per matrix and reused
  for every right-hand side (all sources and all adjoint solves).

The defaults are written into PETSc's options database under the solver's prefix
(e.g. ``dc_``) only where the user has not set them, then ``KSPSetFromOptions``
applies everything, so ``-dc_ksp_monitor``, ``-dc_ksp_rtol 1e-12`` or
``-dc_pc_type gamg`` work as usual.  ``-<prefix>solver amg|mumps`` picks a method.
"""

from __future__ import annotations

from ..errors import InputError
from ..petsc import PETSc

#: CG + BoomerAMG for a 3-D scalar diffusion operator (also the MT divergence correction's)
AMG_OPTIONS = {
    "ksp_type": "cg",
    "ksp_rtol": "1e-10",
    "ksp_atol": "1e-50",
    "ksp_max_it": "500",
    "pc_type": "hypre",
    "pc_hypre_type": "boomeramg",
    "pc_hypre_boomeramg_strong_threshold": "0.5",
    "pc_hypre_boomeramg_coarsen_type": "HMIS",
    "pc_hypre_boomeramg_interp_type": "ext+i",
    "pc_hypre_boomeramg_P_max": "4",
    "pc_hypre_boomeramg_agg_nl": "0",
}
_DEFAULTS = {
    "amg": AMG_OPTIONS,
    "mumps": {
        "ksp_type": "preonly",
        "pc_type": "cholesky",
        "pc_factor_mat_solver_type": "mumps",
    },
}
METHODS = ("auto", "amg", "mumps")


class SolverError(RuntimeError):
    """A linear solve did not converge."""


#: MUMPS INFOG(1) values of a factorization that ran out of workspace
MUMPS_WORKSPACE_ERRORS = (-8, -9, -11, -12, -14, -15, -17, -20)


def set_up(ksp: PETSc.KSP, prefix: str, method: str, attempts: int = 4) -> None:
    """``ksp.setUp()``; a MUMPS factorization that ran out of
    workspace (numerical pivoting can need more than the analysis estimated, depending
    on the parallel ordering) is repeated with ICNTL(14), the workspace allowance over
    the estimate in percent, doubled (at least 50), up to ``attempts`` times.  INFOG is
    global, so every rank takes the same branch."""
    ksp.setUp()
    if method != "mumps":
        return
    for _ in range(attempts):
        F = ksp.getPC().getFactorMatrix()
        if F.getMumpsInfog(1) not in MUMPS_WORKSPACE_ERRORS:
            return
        # a failed factor is not factored again in place (PETSc skips it): a new one
        PETSc.Options(prefix).setValue("mat_mumps_icntl_14", str(max(2 * F.getMumpsIcntl(14), 50)))
        mat = ksp.getOperators()[0]  # the reset drops the KSP's reference
        ksp.reset()
        ksp.setOperators(mat)
        ksp.setFromOptions()
        ksp.setUp()


def choose_method(requested: str, n_rhs: int, n_dofs: int, prefix: str) -> str:
    """``auto``: MUMPS when many right-hand sides share the matrix and the factor fits
    comfortably (<= 1.5 million dofs), else AMG.  ``-<prefix>solver`` overrides."""
    opts = PETSc.Options(prefix)
    if opts.hasName("solver"):
        requested = opts.getString("solver")
    if requested not in METHODS:
        raise InputError(f"solver method {requested!r}: choose one of {', '.join(METHODS)}", collective=True)
    if requested != "auto":
        return requested
    return "mumps" if n_rhs >= 4 and n_dofs <= 1_500_000 else "amg"


class LinearSolver:
    """A KSP for one operator, set up once per matrix and reused for all solves."""

    def __init__(self, comm, prefix: str, method: str):
        self.prefix, self.method = prefix, method
        opts = PETSc.Options(prefix)
        for key, value in _DEFAULTS[method].items():
            if not opts.hasName(key):
                opts.setValue(key, value)
        self.ksp = PETSc.KSP().create(comm=comm)
        self.ksp.setOptionsPrefix(prefix)
        self.iterations: list[int] = []

    def set_operator(self, mat: PETSc.Mat) -> None:
        """(Re)build the preconditioner or factorization for ``mat`` at the next solve."""
        self.ksp.setOperators(mat)
        self.ksp.setFromOptions()
        set_up(self.ksp, self.prefix, self.method)

    def solve(self, b: PETSc.Vec, x: PETSc.Vec) -> None:
        self.ksp.solve(b, x)
        reason = self.ksp.getConvergedReason()
        if reason < 0:
            detail = ""
            if self.method == "mumps":
                factor = self.ksp.getPC().getFactorMatrix()
                detail = f"; MUMPS INFOG(1) = {factor.getMumpsInfog(1)}, INFOG(2) = {factor.getMumpsInfog(2)}"
            raise SolverError(f"{self.prefix}ksp diverged (reason {reason}) after {self.ksp.getIterationNumber()} "
                              f"iterations{detail}; try -{self.prefix}solver amg|mumps or -{self.prefix}ksp_monitor")
        self.iterations.append(self.ksp.getIterationNumber())

    def destroy(self) -> None:
        self.ksp.destroy()
