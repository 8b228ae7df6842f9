"""The optimizer loop: Gauss-Newton-CG, L-BFGS (PETSc TAO) and ADMM, with beta cooling,
dataset weighting, stopping rules, a per-iteration table and checkpoints.

* ``gauss-newton``: each iteration solves (sum_k lambda_k H_k + beta R) p = -g with
  conjugate gradients on a matrix-free shell matrix (PETSc KSP, options prefix
  ``inv_``: ``-inv_ksp_rtol``, ``-inv_ksp_max_it``, ``-inv_ksp_monitor``), then a
  backtracking (Armijo) line search.
* ``lbfgs`` / ``blmvm``: PETSc TAO's limited-memory quasi-Newton (``blmvm`` keeps the
  model within the block bounds); ``inner_iterations`` TAO steps per outer iteration
  at fixed beta (options prefix ``inv_``, e.g. ``-inv_tao_monitor``).
* ``admm``: bound / interval constraints by the alternating direction method of
  multipliers (as in Wang & Yang 2023): x minimises the objective plus
  rho/2 |x - z + u|^2 by one Gauss-Newton step, z = projection of x + u on the
  bounds, u += x - z.

Each model block has its own beta (see :mod:`parjoint.inversion.weighting`): it cools
while the block's data are above their target window and warms up when they are all
below it.  Stopping: every data set within its target window, chi^2_k <= (1 +
chi_tolerance) chi_factor N_k, or a relative decrease of the objective below
``min_decrease``, or ``max_iterations``.  A step that would take a misfit from above the window to below
(1 - chi_tolerance) chi_factor N_k is rejected and redone from the same model with
beta multiplied by sqrt(cooling) (up to six times), so the inversion ends near the
target instead of over-fitting the noise in one stride.
Restarts reproduce the uninterrupted iterates exactly for gauss-newton and admm
(their state is in the checkpoint); TAO's quasi-Newton memory is not exposed by
PETSc, so an L-BFGS restart rebuilds it from the restart model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from mpi4py import MPI

from ..petsc import PETSc
from .checkpoint import write_checkpoint
from .weighting import adapt_weights, estimate_beta, initial_weights

METHODS = ("gauss-newton", "lbfgs", "blmvm", "admm")


@dataclass
class Settings:
    method: str = "gauss-newton"
    max_iterations: int = 20
    cg_max_iterations: int = 20
    cg_rtol: float = 1e-2
    chi_factor: float = 1.0  #: target chi^2 = chi_factor * N per data set
    chi_tolerance: float = 0.1  #: the target window: (1 -/+ tolerance) chi_factor N
    beta: float | dict | None = None  #: initial beta (per block, or one for all); None: estimated
    beta_ratio: float | dict = 10.0  # one number or one per block
    cooling: float = 2.0
    cooling_rate: int = 1
    weighting: str = "uniform"
    min_decrease: float = 1e-4
    inner_iterations: int = 10
    rho: float = 1.0  #: ADMM penalty
    max_change: float = 10.0  #: largest change of a model value a quasi-Newton trial may make
    free: np.ndarray | None = None  #: mask of the flat vector that may change (gauss-newton); None: all
    lower: np.ndarray | None = None  #: bounds on the flat vector (blmvm, admm)
    upper: np.ndarray | None = None
    extra: dict = field(default_factory=dict)


class Inversion:
    def __init__(self, objective, settings: Settings, checkpoint: str | None = None, fingerprint: str = "",
                 log=print):
        self.objective, self.settings = objective, settings
        self.layout = objective.layout
        self.checkpoint, self.fingerprint = checkpoint, fingerprint
        self.log = log if self.layout.comm.rank == 0 else (lambda *a, **k: None)
        self.history: list[dict] = []
        self._coupling_mark = 0.0  # objective.coupling_seconds at the last recorded iteration
        self._ksp = None

    # ------------------------------------------------------------------ driver
    def run(self, x0: np.ndarray, restart: dict | None = None) -> np.ndarray:
        try:
            return self._run(x0, restart)
        finally:
            # the KSP holds the Python shell matrix: free it while Python can still run its callbacks
            if self._ksp is not None:
                self._ksp.destroy()
                self._ksp = None

    def _run(self, x0: np.ndarray, restart: dict | None) -> np.ndarray:
        s, obj = self.settings, self.objective
        x = np.array(x0, dtype=np.float64)
        z = u = None
        if s.method == "admm":
            z, u = self._project(x.copy()), self.layout.zeros()
        first = 0
        if restart is None:
            obj.update(x)
            obj.data_weights = initial_weights(obj, x, s.weighting)
            obj.multiplicative = s.weighting == "multiplicative"
            obj.beta = obj.beta_dict(s.beta) if s.beta is not None else estimate_beta(obj, x, s.beta_ratio)
        else:
            x = restart["x"]
            z, u = restart.get("z", z), restart.get("u", u)
            sc = restart["scalars"]
            obj.beta, first = obj.beta_dict(sc["beta"]), sc["iteration"] + 1
            obj.data_scale = dict(sc.get("data_scale", {}))
            obj.data_weights = restart["arrays"]["data_weights"]
            obj.multiplicative = s.weighting == "multiplicative"
            for term in obj.data:
                term.weights = restart["arrays"][f"irls/{term.name}"]
            self.history = restart["history"]
        self._header()
        if restart is None:
            self._record(0, x, step=0.0, its=0, seconds=0.0)
            previous = obj.value(x)
        else:
            previous = restart["scalars"]["previous"]
        for it in range(max(first, 1), s.max_iterations + 1):
            t0 = time.perf_counter()
            for retry in range(7):
                x_new, z_new, u_new, step, its = self._step(x, z, u)
                over = self._overshoots(x, x_new)
                if retry == 6 or not over:
                    break
                for block in over:
                    obj.beta[block] *= np.sqrt(s.cooling)
            x, z, u = x_new, z_new, u_new
            row = self._record(it, x, step, its, time.perf_counter() - t0)
            current = obj.value(x)
            reason = None
            if all(r <= s.chi_factor * (1 + s.chi_tolerance) for r in row["chi2_ratio"]):
                reason = (f"every data set reached its target misfit (chi^2 <= "
                          f"{s.chi_factor * (1 + s.chi_tolerance):g} N)")
            elif abs(previous - current) <= s.min_decrease * abs(previous):
                reason = f"relative decrease of the objective below {s.min_decrease:g}"
            elif it == s.max_iterations:
                reason = f"{s.max_iterations} iterations"
            # the schedule runs whatever the stopping reason, so the checkpoint holds exactly
            # what iteration it + 1 of a longer run starts from
            self._schedule(it, x, row)
            obj.update(x)
            previous = obj.value(x)
            self._save(it, x, z, u, previous)
            if reason:
                self.log(f"stopping: {reason}")
                break
        return x

    # ------------------------------------------------------------------ steps
    def _step(self, x, z, u):
        method = self.settings.method
        if method == "admm":
            return self._admm_step(x, z, u)
        y, step, its = self._gauss_newton_step(x) if method == "gauss-newton" else self._tao_step(x)
        return y, z, u, step, its

    def _overshoots(self, x, x_new) -> set[str]:
        """The blocks of the data sets that go from above their target window to below it."""
        s = self.settings
        blocks = set()
        for term in self.objective.data:
            before, after = term.chi2(x) / term.n_data, term.chi2(x_new) / term.n_data
            if before > s.chi_factor * (1 + s.chi_tolerance) and after < s.chi_factor * (1 - s.chi_tolerance):
                blocks.add(term.block.name)
        return blocks

    def _gauss_newton_step(self, x, extra_diag: float = 0.0, shift: np.ndarray | None = None):
        """Solve (H + extra_diag I) p = -(g + extra_diag * shift) by CG, then a line search."""
        obj = self.objective
        free = 1.0 if self.settings.free is None else self.settings.free.astype(float)
        g = obj.gradient(x)
        if extra_diag:
            g = g + extra_diag * shift
        g = g * free  # frozen blocks (cooperative and sequential strategies) do not move

        def hessvec(v):
            return (obj.hessvec(x, v * free) + extra_diag * v) * free

        diag = obj.preconditioner() * free + extra_diag + (1.0 - free)  # frozen entries: identity
        p, its = self._cg(hessvec, -g, diag)

        def f(y):
            value = obj.value(y)
            if extra_diag:
                d = y - x + shift
                value += 0.5 * extra_diag * self.layout.dot(d, d)
            return value

        blocks = {t.block.name for t in obj.data}
        if len(blocks) > 1 and not extra_diag:
            return self._block_line_search(x, g, p), 1.0, its
        step = self._line_search(f, x, p, self.layout.dot(g, p))
        return x + step * p, step, its

    def _block_line_search(self, x, g, p) -> np.ndarray:
        """A step length per model block, each by backtracking on the part of the objective
        that involves the block (its data, its regularization, its couplings).

        Blocks of different physics want different steps: a linear data set would accept
        a full step that a nonlinear one must shorten, and a common step length makes the
        slowest block set the pace of all.
        """
        obj, layout = self.objective, self.layout
        y = x.copy()
        for name, block in layout.blocks.items():
            data = [(w, t) for w, t in zip(obj._data_factors(x), obj.data) if t.block.name == name]
            if not data:
                continue
            reg = [(a, t) for a, t in obj.regularization if t.block.name == name]
            coupling = [(c, t) for c, t in obj.coupling if name in getattr(t, "blocks", ())]

            def f(z, data=data, reg=reg, coupling=coupling, name=name):
                return (sum(w * t.value(z) for w, t in data) + sum(a * obj.beta[name] * t.value(z) for a, t in reg)
                        + sum(c * t.value(z) for c, t in coupling))

            pb = np.zeros_like(p)
            pb[block.slice] = p[block.slice]
            t = self._line_search(f, y, pb, layout.dot(g, pb))
            y = y + t * pb
        return y

    def _cg(self, hessvec, rhs: np.ndarray, diag: np.ndarray) -> tuple[np.ndarray, int]:
        """CG on the shell Hessian with the diagonal preconditioner ``diag`` (PETSc PCSHELL)."""
        layout = self.layout
        sizes = (layout.n_local, layout.n_global)

        class Shell:
            def mult(self, mat, X, Y):
                Y.getArray()[:] = hessvec(X.getArray(readonly=True))

        class Jacobi:
            def apply(self, pc, X, Y):
                Y.getArray()[:] = X.getArray(readonly=True) / diag

        H = PETSc.Mat().createPython((sizes, sizes), Shell(), comm=layout.comm)
        H.setUp()
        if self._ksp is None:
            opts = PETSc.Options("inv_")
            for key, value in (("ksp_type", "cg"), ("ksp_rtol", str(self.settings.cg_rtol)),
                               ("ksp_max_it", str(self.settings.cg_max_iterations))):
                if not opts.hasName(key):
                    opts.setValue(key, value)
            self._ksp = PETSc.KSP().create(comm=layout.comm)
            self._ksp.setOptionsPrefix("inv_")
        self._ksp.setOperators(H)
        pc = self._ksp.getPC()
        if not PETSc.Options("inv_").hasName("pc_type"):
            pc.setType(PETSc.PC.Type.PYTHON)
            pc.setPythonContext(Jacobi())
        self._ksp.setFromOptions()
        b = PETSc.Vec().createWithArray(rhs.copy(), size=sizes, comm=layout.comm)
        p = b.duplicate()
        p.set(0.0)
        self._ksp.solve(b, p)
        out = p.getArray(readonly=True).copy()
        its = self._ksp.getIterationNumber()
        for obj in (H, b, p):
            obj.destroy()
        return out, its

    def _line_search(self, f, x, p, slope: float, shrink: float = 0.5, tries: int = 10) -> float:
        """Backtracking until the Armijo condition f(x + t p) <= f(x) + 1e-4 t g.p holds."""
        f0 = f(x)
        t = 1.0
        for _ in range(tries):
            if f(x + t * p) <= f0 + 1e-4 * t * slope:
                return t
            t *= shrink
        return t

    def _admm_step(self, x, z, u):
        s = self.settings
        x, step, its = self._gauss_newton_step(x, extra_diag=s.rho, shift=(x - z + u))
        z = self._project(x + u)
        u = u + x - z
        return x, z, u, step, its

    def _project(self, x):
        s = self.settings
        lo = -np.inf if s.lower is None else s.lower
        hi = np.inf if s.upper is None else s.upper
        return np.clip(x, lo, hi)

    def _tao_step(self, x):
        """inner_iterations of TAO lmvm/blmvm at fixed beta and weights."""
        layout, obj, s = self.layout, self.objective, self.settings
        sizes = (layout.n_local, layout.n_global)
        X = PETSc.Vec().createWithArray(x.copy(), size=sizes, comm=layout.comm)

        def objgrad(tao, Xv, G):
            y = Xv.getArray(readonly=True)
            # a trial point far outside any plausible model (the first quasi-Newton steps
            # have no curvature to scale them) is refused with a huge value, so the line
            # search backtracks instead of running the physics on overflowing properties
            if layout.comm.allreduce(float(np.abs(y - x).max(initial=0.0)), op=MPI.MAX) > s.max_change:
                G.set(0.0)
                return 1e300
            G.getArray()[:] = obj.gradient(y)
            return obj.value(y)

        tao = PETSc.TAO().create(comm=layout.comm)
        tao.setOptionsPrefix("inv_")
        tao.setType("blmvm" if s.method == "blmvm" else "lmvm")
        gradient = X.duplicate()
        tao.setObjectiveGradient(objgrad, gradient)
        if s.method == "blmvm":
            lo = X.duplicate()
            hi = X.duplicate()
            lo.getArray()[:] = -1e20 if s.lower is None else s.lower
            hi.getArray()[:] = 1e20 if s.upper is None else s.upper
            tao.setVariableBounds(lo, hi)
        opts = PETSc.Options("inv_")
        if not opts.hasName("tao_ls_type"):
            opts.setValue("tao_ls_type", "armijo")
        tao.setMaximumIterations(s.inner_iterations)
        tao.setTolerances(gatol=0.0, grtol=1e-8)
        tao.setFromOptions()
        tao.solve(X)
        its = tao.getIterationNumber()
        out = X.getArray(readonly=True).copy()
        tao.destroy()
        X.destroy()
        gradient.destroy()
        return out, 1.0, its

    # ------------------------------------------------------------------ schedule
    def _schedule(self, it: int, x, row) -> None:
        s, obj = self.settings, self.objective
        if it % s.cooling_rate == 0:
            # a block cools while any of its data sets is above its target window, and
            # warms up again (by sqrt(cooling)) when all of them are below it
            # (twice as fast while the last iteration improved the misfit by less than 20%,
            # not at all if it got worse: nonlinear data must not be rushed).  Only the data
            # sets above their window count: one below it may rise (adaptive weighting lowers
            # its weight for that) without holding back the others.
            before = self.history[-2]["chi2_ratio"] if len(self.history) > 1 else row["chi2_ratio"]
            ratios, gains = {}, {}
            for term, r, r0 in zip(obj.data, row["chi2_ratio"], before):
                ratios.setdefault(term.block.name, []).append(r / s.chi_factor)
                if r / s.chi_factor > 1 + s.chi_tolerance:
                    gains.setdefault(term.block.name, []).append(r0 / max(r, 1e-300))
            for block, rs in ratios.items():
                gain = min(gains.get(block, [1.0]))
                if max(rs) > 1 + s.chi_tolerance:
                    if gain >= 1.0:
                        obj.beta[block] /= s.cooling**2 if gain < 1.2 else s.cooling
                elif max(rs) < 1 - s.chi_tolerance:
                    obj.beta[block] *= np.sqrt(s.cooling)
        if s.weighting == "adaptive" and len(obj.data) > 1:
            obj.data_weights = adapt_weights(obj.data_weights, np.array(row["chi2_ratio"]) / s.chi_factor)

    # ------------------------------------------------------------------ bookkeeping
    def _header(self) -> None:
        names = " ".join(f"{'phi_' + t.name:>12s} {'chi2/N':>7s}" for t in self.objective.data)
        coupling = f" {'phi_c':>11s}" if self.objective.coupling else ""
        betas = " ".join(f"{'beta_' + b[:8]:>13s}" for b in self.objective.beta)
        self.log(f"{'it':>3s} {names} {'phi_m':>11s}{coupling} {betas} {'step':>6s} {'CG':>4s} {'time s':>7s}")

    def _record(self, it, x, step, its, seconds) -> dict:
        obj = self.objective
        phi = obj.data_values(x)
        chi2 = [t.chi2(x) / t.n_data for t in obj.data]
        row = {"iteration": it, "phi_d": phi.tolist(), "chi2_ratio": chi2, "phi_m": obj.regularization_value(x),
               "phi_c": obj.coupling_value(x), "beta": dict(obj.beta), "step": step, "cg_iterations": its,
               "seconds": seconds, "data_weights": obj.data_weights.tolist(),
               "coupling_seconds": obj.coupling_seconds - self._coupling_mark}
        self._coupling_mark = obj.coupling_seconds
        self.history.append(row)
        cols = " ".join(f"{p:12.5g} {c:7.3f}" for p, c in zip(phi, chi2))
        coupling = f" {row['phi_c']:11.5g}" if obj.coupling else ""
        betas = " ".join(f"{b:13.4g}" for b in obj.beta.values())
        self.log(f"{it:3d} {cols} {row['phi_m']:11.5g}{coupling} {betas} {step:6.3f} {its:4d} {seconds:7.2f}")
        return row

    def _save(self, it: int, x, z, u, previous: float) -> None:
        if not self.checkpoint:
            return
        obj = self.objective
        arrays = {"data_weights": obj.data_weights}
        arrays.update({f"irls/{t.name}": t.weights for t in obj.data})
        write_checkpoint(self.checkpoint, self.layout, {
            "x": x, "z": z, "u": u, "arrays": arrays, "history": self.history, "fingerprint": self.fingerprint,
            "scalars": {"iteration": it, "beta": dict(obj.beta), "method": self.settings.method,
                        "previous": previous, "data_scale": dict(obj.data_scale)}})
