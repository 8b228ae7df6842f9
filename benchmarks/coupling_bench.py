#!/usr/bin/env python3
"""Coupling benchmark: the share of a joint Gauss-Newton iteration spent in coupling terms.

    python benchmarks/coupling_bench.py [--ranks 2] [--iterations 2] [--kinds cross_gradient ...]

On the demo problem (``meshes/hill.toml``, ~108k cells; DC dipole-dipole and gz data of
a block, made here with ``parjoint.demo.synthesize`` unless ``benchmarks/work/demo``
already holds them) it runs the demo's joint DC + gravity inversion for a few
Gauss-Newton iterations with each coupling kind and reads, from the run's history, the
wall time of each iteration and the part of it spent in the coupling terms (update,
value, gradient and Hessian products, timed inside ``JointObjective``).  Target
(issue 6): coupling terms add at most 10% to the time of a joint GN iteration.  JSON to
``benchmarks/results/coupling_bench.json`` and a table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
WORK = os.path.join(HERE, "work", "demo")
RESULTS = os.path.join(HERE, "results")

COUPLINGS = {
    "none": "",
    "cross_gradient": 'kind = "cross_gradient"\nscale = [1.0, 100.0]\nweight = 100.0\n',
    "gramian": 'kind = "gramian"\nshift = [-4.6, 0.0]\nscale = [1.0, 100.0]\nweight = 1.0\n',
    "structural_gramian": 'kind = "structural_gramian"\nscale = [1.0, 100.0]\nweight = 100.0\n',
    "local_pearson": 'kind = "local_pearson"\nrings = 2\nweight = 10.0\n',
    "fcm": 'kind = "fcm"\ncentres = [[-4.6, 0.0], [-2.3, 400.0]]\nscale = [1.0, 100.0]\nweight = 10.0\n',
}


def worker(args) -> None:
    from mpi4py import MPI

    from parjoint.demo import JOINT, invert_config, synthesize
    from parjoint.inversion.run import run_invert

    comm = MPI.COMM_WORLD
    if not all(os.path.exists(os.path.join(WORK, f)) for f in ("hill.msh", "dc.dat", "gz.csv")):
        synthesize(WORK, comm)
    body = JOINT
    if COUPLINGS[args.worker]:
        body += '[[coupling]]\nblocks = ["log_conductivity", "density"]\n' + COUPLINGS[args.worker]
    path = os.path.join(WORK, f"bench_{args.worker}.toml")
    if comm.rank == 0:
        with open(path, "w") as fh:
            fh.write(invert_config(body, args.iterations, f"bench_{args.worker}"))
    comm.Barrier()
    run_invert(path, comm)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--iterations", type=int, default=2)
    ap.add_argument("--kinds", nargs="+", default=list(COUPLINGS), choices=list(COUPLINGS))
    ap.add_argument("--worker", choices=list(COUPLINGS), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    os.makedirs(WORK, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", PYTHONPATH=REPO)
    rows = []
    for kind in args.kinds:
        cmd = ["mpirun", "-n", str(args.ranks), sys.executable, os.path.abspath(__file__), "--worker", kind,
               "--iterations", str(args.iterations)]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode:
            sys.exit(f"{kind}: the joint run failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
        with open(os.path.join(WORK, f"bench_{kind}", "history.json")) as fh:
            history = json.load(fh)[1:]
        seconds = sum(h["seconds"] for h in history)
        coupling = sum(h.get("coupling_seconds", 0.0) for h in history)
        rows.append({"coupling": kind, "ranks": args.ranks, "iterations": len(history),
                     "seconds_per_iteration": seconds / len(history),
                     "coupling_seconds_per_iteration": coupling / len(history),
                     "share": coupling / seconds, "cg_iterations": [h["cg_iterations"] for h in history]})
        print(f"{kind}: {seconds / len(history):.2f} s per iteration, coupling {100 * coupling / seconds:.2f}%",
              flush=True)
    os.makedirs(RESULTS, exist_ok=True)
    out = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform()}, "target_share": 0.10, "rows": rows}
    with open(os.path.join(RESULTS, "coupling_bench.json"), "w") as fh:
        json.dump(out, fh, indent=1)
    print(f"\n{'coupling':<20s} {'ranks':>5s} {'s/iteration':>12s} {'coupling s/it':>14s} {'share':>7s}  target <= 10%")
    for r in rows:
        print(f"{r['coupling']:<20s} {r['ranks']:5d} {r['seconds_per_iteration']:12.2f} "
              f"{r['coupling_seconds_per_iteration']:14.3f} {100 * r['share']:6.2f}%  "
              f"{'ok' if r['share'] <= 0.10 else 'MISSED'}")


if __name__ == "__main__":
    main()
