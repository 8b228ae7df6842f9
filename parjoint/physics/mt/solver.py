"""The MT linear system as a real 2x2 block, and its solvers (FGMRES + PRESB/AMS, or MUMPS).

The complex system (C + i W) e = b, with C the curl-curl matrix (1/m) and W = omega mu0 M
the conductivity mass matrix times omega mu0 (both real symmetric, C semidefinite, W
positive definite), is solved in real arithmetic as

    A [x; y] = [f; g],   A = [[C, -W], [W, C]],   e = x + i y,  b = f + i g.

Block vectors keep each rank's real parts then its imaginary parts (the local layout of
a MatNest of the two blocks), so a rank's half-vectors are contiguous slices.  Only
H = C + W and W are stored; A is applied as a matrix-free shell,
A [x; y] = [H x - W (x + y); H y + W (x - y)] (four sparse products).

Preconditioner (``solver = "ams"``, the default): PRESB, "preconditioned square block"
(Axelsson, Neytcheva & Ahmad 2014, *Numer. Algorithms* 66, 811),

    P = [[C, -W], [W, C + 2W]],

whose preconditioned spectrum lies in [1/2, 1] for any omega, mesh size and
conductivity contrast.  Applying P^{-1} takes two solves with H = C + W (here three
hypre AMS V-cycles each; Hiptmair & Xu 2007, Kolev & Vassilevski 2009) and one product
with W:

    (1) H h = f + g,   (2) H y = g - W h,   (3) x = h - y.

The outer Krylov method is FGMRES (AMS is an inexact inner solve).  The plain
block-diagonal AMS preconditioner used by MFEM's ex22p needed ~90 iterations at low
frequency on a 0.2M-cell mesh here; PRESB needs 8-20.  On the benchmark's 0.3M-edge
mesh, 1e-3 ... 1e3 Hz, it needs 17-26 outer iterations with one AMS V-cycle per
inner solve, 9-15 with two and 6-11 with three, in about the same time (10% more
for three than for one): the V-cycles dominate either way.  FGMRES keeps two block
vectors (32 bytes per edge) per iteration, the largest item in the solver's memory,
so the default is three V-cycles with restart 15, which cuts the solver's memory by
a quarter (``-mt_ams_pc_hypre_ams_max_iter 1 -mt_ksp_gmres_restart 30`` for one).

Divergence correction.  At low frequency the gradient part of the error is nearly
invisible in the residual (A grad phi = i W grad phi, with W ~ omega mu0 sigma h^2
times the curl part), so a residual reduction of 1e-8 left errors of several percent
in E at 1e-3 Hz.  After the Krylov solve the discrete divergence condition
G^T (b - A x) = 0 (the equation tested with the gradients of interior nodal
functions, which C annihilates) is restored exactly as in Smith's (1996, *Geophysics*
61, 1308) static divergence correction: with L = G^T W G = omega mu0 K, K the P1
stiffness matrix with coefficient sigma (exact: the gradients of P1 functions lie in
the edge space),

    K phi = -i G^T (b - A x) / (omega mu0),   x <- x + G phi,

over the vertices of earth cells (the others, and boundary vertices, keep phi = 0;
the air's gradient modes do not reach the earth or the curl).  Two real CG +
BoomerAMG solves (prefix ``mt_div_``) per block solve, cheap next to the curl-curl
solve; it restores MUMPS-level accuracy at rtol 1e-8 (0.1% in rho_a at 1e-3 Hz
instead of 5%).  K depends on the model only, so one K and its AMG serve every
frequency (:class:`DivergenceCorrection`); it is assembled directly on the vertices
(forming G^T W G by a parallel triple product kept 0.2 KB per edge of product data).

``solver = "mumps"``: the assembled block matrix is factored once by MUMPS (LU) and
the factors are reused for every right-hand side at that frequency.

Options (PETSc database, prefix ``mt_`` by default; the user's values win):
``-mt_solver ams|mumps``, the outer KSP (``-mt_ksp_rtol``, ``-mt_ksp_monitor``, ...) and
the inner AMS preconditioner under ``mt_ams_`` (``-mt_ams_pc_hypre_ams_cycle_type`` ...).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import InputError
from ...fem.solvers import AMG_OPTIONS, set_up
from ...petsc import PETSc

METHODS = ("ams", "mumps")
_DEFAULTS = {
    "ams": {
        "ksp_type": "fgmres",
        "ksp_rtol": "1e-8",
        "ksp_atol": "1e-50",
        "ksp_max_it": "300",
        "ksp_gmres_restart": "15",
        "ksp_norm_type": "unpreconditioned",
    },
    "mumps": {
        "ksp_type": "preonly",
        "pc_type": "lu",
        "pc_factor_mat_solver_type": "mumps",
    },
}
_DIV_DEFAULTS = {**AMG_OPTIONS, "ksp_rtol": "1e-8", "ksp_max_it": "200"}
_AMS_DEFAULTS = {
    "pc_type": "hypre",
    "pc_hypre_type": "ams",
    "pc_hypre_ams_cycle_type": "14",
    "pc_hypre_ams_max_iter": "3",
    "pc_hypre_ams_tol": "0",
}


@dataclass
class AmsData:
    """What AMS and the divergence correction need besides the matrix: the discrete
    gradient G, the edge vectors G x, G y, G z, and the divergence correction."""

    G: PETSc.Mat
    edge_vectors: list
    divergence: "DivergenceCorrection"

    def destroy(self) -> None:
        self.G.destroy()
        for v in self.edge_vectors:
            v.destroy()
        self.divergence.destroy()


class DivergenceCorrection:
    """Solves K phi = r for the correction (see the module notes): CG + BoomerAMG under
    ``<prefix>div_``, on the vertex stiffness matrix K given by :meth:`set_operator`.
    ``fixed_vertices`` (global vertex numbers, owned) keep phi = 0."""

    def __init__(self, G: PETSc.Mat, fixed_vertices: np.ndarray, prefix: str):
        self.G, self.fixed = G, fixed_vertices
        _set_defaults(prefix + "div_", _DIV_DEFAULTS)
        self.ksp = PETSc.KSP().create(comm=G.getComm())
        self.ksp.setOptionsPrefix(prefix + "div_")
        self.ksp.setFromOptions()
        self.g, self.phi = G.createVecRight(), G.createVecRight()
        self.u, self.corr = G.createVecLeft(), G.createVecLeft()

    def set_operator(self, K: PETSc.Mat) -> None:
        """A new K (new model): the AMG is set up again at the next solve."""
        self.ksp.setOperators(K)

    def correct(self, system: "BlockSystem", b: PETSc.Vec, x: PETSc.Vec) -> None:
        """x <- x + G phi with K phi = -i G^T (b - A x) / (omega mu0)."""
        r = system.create_vec()
        system.mult(x, r)
        r.aypx(-1.0, b)
        res_re, res_im = system.halves(r)
        x_re, x_im = system.halves(x, readonly=False)
        g, phi, u, corr = self.g, self.phi, self.u, self.corr
        zeros = np.zeros(len(self.fixed))
        # -i (r_re + i r_im) = r_im - i r_re
        for source, sign, target in ((res_im, 1.0, x_re), (res_re, -1.0, x_im)):
            u.getArray()[:] = source
            self.G.multTranspose(u, g)
            g.scale(sign / system.wmu)
            g.setValues(self.fixed, zeros)
            g.assemble()
            phi.set(0.0)
            self.ksp.solve(g, phi)
            self.G.mult(phi, corr)
            target += corr.getArray(readonly=True)
        r.destroy()

    def destroy(self) -> None:
        self.ksp.destroy()
        for v in (self.g, self.phi, self.u, self.corr):
            v.destroy()


def assemble_block(H: PETSc.Mat, W: PETSc.Mat) -> PETSc.Mat:
    """[[H - W, -W], [W, H - W]] as one AIJ matrix (for MUMPS), in the block vectors' layout."""
    K = H.copy()
    K.axpy(-1.0, W, structure=PETSc.Mat.Structure.SAME_NONZERO_PATTERN)
    minus_W = W.copy()
    minus_W.scale(-1.0)
    nest = PETSc.Mat().createNest([[K, minus_W], [W, K]], comm=H.getComm())
    out = nest.convert("aij", PETSc.Mat())  # a new matrix (without one, petsc4py converts in place)
    for m in (nest, K, minus_W):
        m.destroy()
    return out


class SolverError(RuntimeError):
    """A block solve did not converge."""


def choose_method(requested: str, prefix: str) -> str:
    """The method asked for, unless ``-<prefix>solver`` overrides it."""
    opts = PETSc.Options(prefix)
    if opts.hasName("solver"):
        requested = opts.getString("solver")
    if requested not in METHODS:
        raise InputError(f"MT solver {requested!r}: choose one of {', '.join(METHODS)}", collective=True)
    return requested


def _set_defaults(prefix: str, defaults: dict) -> None:
    opts = PETSc.Options(prefix)
    for key, value in defaults.items():
        if not opts.hasName(key):
            opts.setValue(key, value)


class BlockSystem:
    """A and its solver at one frequency, from the assembled H = C + W and W."""

    def __init__(self, space, H: PETSc.Mat, W: PETSc.Mat, wmu: float, method: str, prefix: str,
                 ams_data: AmsData | None):
        self.space, self.H, self.W, self.method, self.prefix = space, H, W, method, prefix
        self.wmu = wmu  #: omega mu0 of the frequency whose values H and W hold
        comm = space.comm
        n, N = space.n_owned, space.n_global
        self.n = n
        self._u = [space.create_vec() for _ in range(4)]  # half-vector work space
        self.A = PETSc.Mat().createPython(((2 * n, 2 * N), (2 * n, 2 * N)), _Shell(self), comm=comm)
        self.A.setUp()
        _set_defaults(prefix, _DEFAULTS[method])
        self.ksp = PETSc.KSP().create(comm=comm)
        self.ksp.setOptionsPrefix(prefix)
        if method == "ams":
            self.ksp.setOperators(self.A)
            pc = self.ksp.getPC()
            pc.setType(PETSc.PC.Type.PYTHON)
            self._presb = _PRESB(self, ams_data)
            pc.setPythonContext(_ShellPC(self._presb))
        else:
            self.assembled = assemble_block(self.H, self.W)
            self.ksp.setOperators(self.assembled)
        self.ksp.setFromOptions()
        if method == "ams":  # setFromOptions must not replace the shell preconditioner
            self.ksp.getPC().setType(PETSc.PC.Type.PYTHON)
        set_up(self.ksp, self.prefix, self.method)
        self.iterations: list[int] = []
        self.stamp: tuple = ()

    def refresh(self) -> None:
        """Rebuild the preconditioner (or factorization) after H and W changed values."""
        if self.method == "ams":
            self._presb.refresh()
        else:
            self.assembled.destroy()
            self.assembled = assemble_block(self.H, self.W)
            self.ksp.setOperators(self.assembled)
        set_up(self.ksp, self.prefix, self.method)

    # ------------------------------------------------------------ the shell matrix
    def halves(self, vec: PETSc.Vec, readonly: bool = True) -> tuple[np.ndarray, np.ndarray]:
        arr = vec.getArray(readonly=readonly)
        return arr[:self.n], arr[self.n:]

    def mult(self, X: PETSc.Vec, Y: PETSc.Vec) -> None:
        """Y = A X with A = [[H - W, -W], [W, H - W]]."""
        x, y = self.halves(X)
        u0, u1, u2, u3 = self._u
        u0.getArray()[:] = x
        u1.getArray()[:] = y
        self.H.mult(u0, u2)          # H x
        self.H.mult(u1, u3)          # H y
        out_x, out_y = self.halves(Y, readonly=False)
        out_x[:] = u2.getArray(readonly=True)
        out_y[:] = u3.getArray(readonly=True)
        u2.getArray()[:] = x + y
        self.W.mult(u2, u3)          # W (x + y)
        out_x -= u3.getArray(readonly=True)
        u2.getArray()[:] = x - y
        self.W.mult(u2, u3)          # W (x - y)
        out_y += u3.getArray(readonly=True)

    # ------------------------------------------------------------ solves
    def create_vec(self) -> PETSc.Vec:
        return self.A.createVecLeft()

    def solve(self, b: PETSc.Vec, x: PETSc.Vec) -> None:
        """x = A^{-1} b (x's content is ignored: zero initial guess)."""
        x.set(0.0)
        self.ksp.solve(b, x)
        reason = self.ksp.getConvergedReason()
        if reason < 0:
            if self.method == "mumps":
                F = self.ksp.getPC().getFactorMatrix()
                raise SolverError(f"{self.prefix}: MUMPS failed (reason {reason}, INFOG(1) = {F.getMumpsInfog(1)}, "
                                  f"INFOG(2) = {F.getMumpsInfog(2)}); see the MUMPS manual, section 8")
            raise SolverError(f"{self.prefix}ksp diverged (reason {reason}) after {self.ksp.getIterationNumber()} "
                              f"iterations; try -{self.prefix}solver mumps or -{self.prefix}ksp_monitor")
        self.iterations.append(self.ksp.getIterationNumber())
        if self.method == "ams":
            self._presb.data.divergence.correct(self, b, x)

    def destroy(self) -> None:
        if self.method == "ams":
            self._presb.destroy()
        else:
            self.assembled.destroy()
        self.ksp.destroy()
        self.A.destroy()
        for u in self._u:
            u.destroy()


class _Shell:
    """petsc4py context of the shell matrix A (the system keeps the data)."""

    def __init__(self, system: BlockSystem):
        self.system = system

    def mult(self, mat, X, Y) -> None:
        self.system.mult(X, Y)


class _ShellPC:
    """petsc4py context of the PRESB preconditioner."""

    def __init__(self, presb: "_PRESB"):
        self.presb = presb

    def apply(self, pc, X, Y) -> None:
        self.presb.apply(X, Y)


class _PRESB:
    """P^{-1} of the PRESB preconditioner with AMS V-cycles as the inner solves."""

    def __init__(self, system: BlockSystem, data: AmsData):
        self.system, self.data = system, data
        _set_defaults(system.prefix + "ams_", _AMS_DEFAULTS)
        self.ams = self._make_ams()

    def _make_ams(self) -> PETSc.PC:
        s = self.system
        ams = PETSc.PC().create(comm=s.space.comm)
        ams.setOptionsPrefix(s.prefix + "ams_")
        ams.setOperators(s.H)
        ams.setType(PETSc.PC.Type.HYPRE)
        ams.setHYPREType("ams")
        ams.setHYPREDiscreteGradient(self.data.G)
        ams.setHYPRESetEdgeConstantVectors(*self.data.edge_vectors)
        ams.setFromOptions()
        ams.setUp()
        return ams

    def refresh(self) -> None:
        # a new AMS: PCHYPRE's AMS set up again in place kept a stale hierarchy (PETSc 3.18)
        self.ams.destroy()
        self.ams = self._make_ams()

    def apply(self, X: PETSc.Vec, Y: PETSc.Vec) -> None:
        s = self.system
        f, g = s.halves(X)
        rhs, h, t = s._u[:3]  # the shell product's work space (not in use while P is applied)
        rhs.getArray()[:] = f + g
        self.ams.apply(rhs, h)                    # (1) H h = f + g
        s.W.mult(h, t)
        rhs.getArray()[:] = g - t.getArray(readonly=True)
        x_out, y_out = s.halves(Y, readonly=False)
        self.ams.apply(rhs, t)                    # (2) H y = g - W h
        y_out[:] = t.getArray(readonly=True)
        x_out[:] = h.getArray(readonly=True) - y_out   # (3) x = h - y

    def destroy(self) -> None:
        self.ams.destroy()
