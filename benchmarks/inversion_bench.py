#!/usr/bin/env python3
"""Inversion benchmark: where the time of a Gauss-Newton iteration goes.

    python benchmarks/inversion_bench.py [--ranks 1 2] [--iterations 3] [--physics dc gravity]

On the ~0.2M-cell DC benchmark mesh (``meshes/dc_200k.toml``, 41 electrodes) it makes
synthetic data of a buried block, then runs Gauss-Newton iterations with every piece
timed: forward modelling (pole solves), J v and J^T w products, regularization terms
and the CG iterations' remaining work.  It counts the PDE solves per iteration and
compares them with the bound (2 + CG steps) x poles.  Gravity (when its simulation
is available) runs the same on the same mesh.  JSON to
``benchmarks/results/inversion_bench.json`` and a table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import defaultdict

from benchlib import RESULTS, WORK, build_mesh, run_mpi


class Timers:
    def __init__(self):
        self.seconds = defaultdict(float)
        self.calls = defaultdict(int)

    def wrap(self, obj, method: str, label: str):
        original = getattr(obj, method)

        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - t0
                self.calls[label] += 1

        setattr(obj, method, timed)


def _block_model(mesh):
    import numpy as np

    c = mesh.centroid
    inside = (np.abs(c[:, 0]) < 120) & (np.abs(c[:, 1]) < 80) & (c[:, 2] > -120) & (c[:, 2] < -40)
    return inside


def worker(args) -> None:
    import numpy as np
    from mpi4py import MPI

    from parjoint.inversion.layout import Block, ModelLayout
    from parjoint.inversion.maps import Injection
    from parjoint.inversion.objective import JointObjective
    from parjoint.inversion.optimizers import Inversion, Settings
    from parjoint.inversion.terms import DataMisfit, Smallness, Smoothness
    from parjoint.mesh import load_mesh

    comm = MPI.COMM_WORLD
    mesh = load_mesh(args.worker, comm)
    inside = _block_model(mesh)
    timers = Timers()
    active = ~mesh.is_air
    layout = ModelLayout(mesh, [Block("m", active, "1")])
    if args.physics == "dc":
        from parjoint.physics.dc.data import LogApparentResistivity
        from parjoint.physics.dc.forward import geometric_factors
        from parjoint.physics.dc.simulation import DCSimulation
        from parjoint.physics.dc.survey import line_electrodes, line_survey

        survey = line_survey(line_electrodes([-500.0, 0.0], [500.0, 0.0], 41), "dipole-dipole", n_max=6)
        dc = DCSimulation(mesh, survey, order=1, method="mumps", prefix="ibench_")
        sim = LogApparentResistivity(dc, geometric_factors(dc))
        true = np.where(inside, np.log(0.1), np.log(0.01))
        start = np.full(layout.n_local, np.log(0.01))
        poles = len(dc.poles)
        solves = lambda: len(dc.solver.iterations)  # noqa: E731
    else:
        from parjoint.physics.gravity.simulation import GravitySimulation

        x = np.linspace(-500.0, 500.0, 21)
        gx, gy = np.meshgrid(x, x)
        stations = np.column_stack([gx.ravel(), gy.ravel(), np.full(gx.size, 1.0)])
        sim = GravitySimulation(mesh, stations)
        true = np.where(inside, 300.0, 0.0)
        start = layout.zeros()
        poles, solves = 0, lambda: 0  # noqa: E731
    observed = sim.dpred(true)
    sd = 0.02 * np.abs(observed) + 1e-3 * np.abs(observed).max()
    term = DataMisfit(args.physics, sim, layout, "m", Injection(active, 0.0), observed, sd)
    objective = JointObjective(layout, [term], [(1.0, Smoothness(layout, "m")), (1e-3, Smallness(layout, "m", 0.0))])
    timers.wrap(sim, "dpred", "forward")
    timers.wrap(sim, "Jvec", "J v")
    timers.wrap(sim, "Jtvec", "J^T w")
    for _, t in objective.regularization:
        for method in ("value", "gradient", "hessvec"):
            timers.wrap(t, method, "regularization")
    inversion = Inversion(objective, Settings(max_iterations=args.iterations, beta=None, chi_factor=1e-9,
                                              min_decrease=0.0), log=lambda *a: None)
    timers.wrap(inversion, "_cg", "CG (total)")
    comm.Barrier()
    # the set-up (first forward, beta estimate) is outside the per-iteration figures
    objective.update(start)
    sim.dpred(start)
    before_solves = solves()
    t0 = time.perf_counter()
    base = dict(timers.seconds)
    inversion.run(start)
    comm.Barrier()
    elapsed = time.perf_counter() - t0
    its = args.iterations
    history = inversion.history[1:]
    cg_steps = sum(r["cg_iterations"] for r in history)
    per = {k: (v - base.get(k, 0.0)) / its for k, v in timers.seconds.items()}
    result = {"physics": args.physics, "ranks": comm.size, "cells": mesh.n_cells_global,
              "data": term.n_data, "seconds_per_iteration": elapsed / its, "breakdown_per_iteration": per,
              "cg_steps_per_iteration": cg_steps / its, "poles": poles,
              "pde_solves_per_iteration": (solves() - before_solves) / its,
              "bound_solves_per_iteration": (2 + cg_steps / its) * poles}
    if comm.rank == 0:
        with open(args.json, "w") as fh:
            json.dump(result, fh)




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--ranks", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--physics", nargs="+", default=["dc", "gravity"])
    parser.add_argument("--json", default=os.path.join(RESULTS, "inversion_bench.json"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args()
    if args.worker:
        args.physics = args.physics[0]
        return worker(args)
    os.makedirs(WORK, exist_ok=True)
    os.makedirs(RESULTS, exist_ok=True)
    msh, _ = build_mesh("dc_200k")
    rows = []
    for physics in args.physics:
        for ranks in args.ranks:
            rows.append(run_mpi(__file__, ranks, ["--worker", msh, "--physics", physics, "--iterations", str(args.iterations)]))
            print(table(rows[-1:]).splitlines()[-1], flush=True)
    with open(args.json, "w") as fh:
        json.dump({"date": time.strftime("%Y-%m-%d %H:%M"), "rows": rows}, fh, indent=1)
    print(table(rows))
    print(f"\nwrote {args.json}")


def table(rows) -> str:
    head = ("physics", "ranks", "cells", "data", "s/iteration", "forward s", "J v s", "J^T w s", "regularization s",
            "CG total s", "CG steps", "PDE solves", "bound (2+CG) x poles")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        b = r["breakdown_per_iteration"]
        # J v and J^T w run inside CG (Hessian products) and outside it (gradient, beta
        # estimate), so CG's total is shown whole rather than net of them
        lines.append(f"| {r['physics']} | {r['ranks']} | {r['cells']} | {r['data']} | {r['seconds_per_iteration']:.2f} | "
                     f"{b.get('forward', 0):.2f} | {b.get('J v', 0):.2f} | {b.get('J^T w', 0):.2f} | "
                     f"{b.get('regularization', 0):.2f} | {b.get('CG (total)', 0):.2f} | {r['cg_steps_per_iteration']:.0f} | "
                     f"{r['pde_solves_per_iteration']:.0f} | {r['bound_solves_per_iteration']:.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
