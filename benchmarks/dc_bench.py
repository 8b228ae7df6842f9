#!/usr/bin/env python3
"""DC resistivity benchmark: assembly, solver iterations and time per source, pyGIMLi.

    python benchmarks/dc_bench.py [--sizes 200k 1p5M] [--orders 1 2] [--ranks 1 2] [--no-pygimli]

Meshes ``meshes/dc_<size>.toml`` (flat earth, 41 electrodes on a line) are built
once.  For each size, element order and rank count an MPI job measures:

* first assembly (dof numbering, COO pattern and values) and re-assembly of the
  values for a new model on the fixed pattern, element kernels included;
* CG + BoomerAMG (rtol 1e-10): set-up time, iterations and time per source;
* MUMPS Cholesky: factorization time and time per source (skipped where the factor
  would not fit comfortably: P2 on the 1.5M-cell mesh).

Then it runs pyGIMLi's ERT forward (a benchmark peer, installed by this script in
its own virtual environment under ``benchmarks/work/``) on the same mesh and
dipole-dipole survey, and reports the time ratio and the largest relative
difference in apparent resistivity.  JSON to ``benchmarks/results/dc_bench.json``.
Targets: re-assembly >= 4M cells/s per rank, first assembly >= 0.5M cells/s, AMG
iterations < 25 growing < 1.5x under 8x refinement, 2-rank speedup of the 1.5M-cell
solve >= 1.6x, pyGIMLi within 2% and parjoint no slower.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time

from benchlib import RESULTS, WORK, barrier_timer, build_mesh, run_mpi
N_SOLVES = 4  # sources timed per solver
RHO = 100.0


def _survey():
    from parjoint.physics.dc.survey import line_electrodes, line_survey

    return line_survey(line_electrodes([-500.0, 0.0], [500.0, 0.0], 41), "dipole-dipole", n_max=6)


def worker(args) -> None:
    """Under mpirun: assembly and solver measurements for one mesh/order."""
    import numpy as np
    from mpi4py import MPI

    from parjoint.fem.solvers import LinearSolver
    from parjoint.mesh import load_mesh
    from parjoint.physics.dc.simulation import DCSimulation

    comm = MPI.COMM_WORLD

    timed = barrier_timer(comm)

    mesh = load_mesh(args.worker, comm)
    order = args.order
    sim, t_first = timed(lambda: DCSimulation(mesh, _survey(), order=order, method="amg", prefix="bamg_"))
    sigma = np.full(len(sim.space.cells), 1.0 / RHO)
    _, t_values = timed(lambda: sim.assemble(sigma))
    t_first += t_values
    rng = np.random.default_rng(0)
    sigma2 = sigma * np.exp(0.1 * rng.standard_normal(len(sigma)))
    t_re = min(timed(lambda: sim.assemble(sigma2))[1] for _ in range(3))
    cells_max = comm.allreduce(len(sim.space.cells), op=MPI.MAX)
    result = {"ranks": comm.size, "order": order, "cells": mesh.n_cells_global, "dofs": sim.space.n_global,
              "first_assembly_s": t_first, "first_assembly_Mcells_per_s": mesh.n_cells_global / t_first / 1e6,
              "reassembly_s": t_re, "reassembly_Mcells_per_s_per_rank": cells_max / t_re / 1e6}
    methods = ["amg"] + (["mumps"] if args.mumps else [])
    for method in methods:
        solver = sim.solver if method == "amg" else LinearSolver(comm, "bmumps_", "mumps")
        _, t_setup = timed(lambda: solver.set_operator(sim.mat))
        b, x = sim.space.create_vec(), sim.space.create_vec()
        times = []
        for i in range(N_SOLVES):
            b.set(0.0)
            if sim.pole_dof[i] >= 0:
                b.setValue(sim.space.global_offset + sim.pole_dof[i], 1.0)
            b.assemble()
            x.set(0.0)
            times.append(timed(lambda: solver.solve(b, x))[1])
        result[f"{method}_setup_s"] = t_setup
        result[f"{method}_solve_s"] = float(np.mean(times))
        result[f"{method}_iterations"] = int(np.max(solver.iterations[-N_SOLVES:]))
    if comm.rank == 0:
        with open(args.json, "w") as fh:
            json.dump(result, fh)






# ----------------------------------------------------------------------------- pyGIMLi
PYGIMLI_SCRIPT = r"""
import json, sys, time
import numpy as np
import pygimli as pg
from pygimli.physics import ert
data = np.load(sys.argv[1])
pg.setThreadCount(2)
mesh = pg.Mesh(3)
for p in data["coords"]:
    mesh.createNode(pg.Pos(*p))
for c in data["cells"]:
    n = [mesh.node(int(i)) for i in c]
    mesh.createTetrahedron(n[0], n[1], n[2], n[3], 1)
mesh.createNeighbourInfos()
for b in mesh.boundaries():
    if b.outside():
        top = abs(b.center().z()) < 1e-6
        b.setMarker(pg.core.MARKER_BOUND_HOMOGEN_NEUMANN if top else pg.core.MARKER_BOUND_MIXED)
scheme = pg.DataContainerERT()
for p in data["electrodes"]:
    scheme.createSensor(pg.Pos(*p))
scheme.resize(len(data["a"]))
for key in "abmn":
    scheme.set(key, data[key].astype(float))
scheme.set("k", data["k"])
fop = ert.ERTModelling(sr=False, verbose=False)
fop.setData(scheme)
fop.setMesh(mesh, ignoreRegionManager=True)
res = pg.Vector(mesh.cellCount(), float(data["rho"]))
t = time.perf_counter()
rhoa = np.array(fop.response(res))
seconds = time.perf_counter() - t
json.dump({"seconds": seconds, "rhoa": rhoa.tolist(), "threads": 2}, open(sys.argv[2], "w"))
"""


def pygimli_python() -> str:
    venv = os.path.join(WORK, "pygimli-venv")
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(py):
        subprocess.run(["/usr/bin/python3", "-m", "venv", venv], check=True)
        subprocess.run([py, "-m", "pip", "install", "-q", "pygimli"], check=True)
    return py


def compare_pygimli(msh: str, ranks: int) -> dict:
    """pyGIMLi ERT vs parjoint P1 (MUMPS) on the same mesh and survey."""
    import numpy as np

    from parjoint.mesh.gmsh_reader import read_msh

    mesh = read_msh(msh)
    survey = _survey()
    k = survey.halfspace_geometric_factor()
    npz = os.path.join(WORK, "pygimli_input.npz")
    np.savez(npz, coords=mesh.coords, cells=mesh.cells, electrodes=survey.electrodes, a=survey.a, b=survey.b,
             m=survey.m, n=survey.n, k=k, rho=RHO)
    script = os.path.join(WORK, "pygimli_forward.py")
    with open(script, "w") as fh:
        fh.write(PYGIMLI_SCRIPT)
    out = os.path.join(WORK, "pygimli_result.json")
    subprocess.run([pygimli_python(), script, npz, out], check=True, cwd=WORK)
    with open(out) as fh:
        peer = json.load(fh)
    mine = run_mpi(__file__, ranks, ["--forward", msh])
    diff = np.abs(np.array(mine["rhoa"]) / np.array(peer["rhoa"]) - 1)
    return {"mesh": os.path.basename(msh), "cells": len(mesh.cells), "data": survey.n_data,
            "electrodes": len(survey.electrodes), "pygimli_s": peer["seconds"], "parjoint_s": mine["seconds"],
            "parjoint_ranks": ranks, "time_ratio_parjoint_over_pygimli": mine["seconds"] / peer["seconds"],
            "max_rel_diff_rhoa": float(diff.max()),
            "parjoint_max_rel_err_vs_halfspace": float(np.abs(np.array(mine["rhoa"]) / RHO - 1).max()),
            "pygimli_max_rel_err_vs_halfspace": float(np.abs(np.array(peer["rhoa"]) / RHO - 1).max())}


def forward_worker(args) -> None:
    """Under mpirun: the complete P1 forward for the pyGIMLi comparison (all poles, data)."""
    import numpy as np
    from mpi4py import MPI

    from parjoint.mesh import load_mesh
    from parjoint.physics.dc.simulation import DCSimulation

    comm = MPI.COMM_WORLD
    mesh = load_mesh(args.forward, comm)
    survey = _survey()
    comm.Barrier()
    t0 = time.perf_counter()
    sim = DCSimulation(mesh, survey, order=1, method="mumps", prefix="cmp_")
    rhoa = survey.halfspace_geometric_factor() * sim.dpred(np.full(mesh.n_cells, -np.log(RHO)))
    comm.Barrier()
    seconds = time.perf_counter() - t0
    if comm.rank == 0:
        with open(args.json, "w") as fh:
            json.dump({"seconds": seconds, "rhoa": rhoa.tolist()}, fh)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--sizes", nargs="+", default=["200k", "1p5M"])
    parser.add_argument("--orders", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--ranks", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--no-pygimli", action="store_true")
    parser.add_argument("--json", default=os.path.join(RESULTS, "dc_bench.json"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--forward", help=argparse.SUPPRESS)
    parser.add_argument("--order", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--mumps", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    if args.forward:
        return forward_worker(args)
    os.makedirs(WORK, exist_ok=True)
    os.makedirs(RESULTS, exist_ok=True)
    rows = []
    for size in args.sizes:
        msh, _ = build_mesh(f"dc_{size}")
        for order in args.orders:
            for ranks in args.ranks:
                mumps = not (order == 2 and size == "1p5M")
                row = run_mpi(__file__, ranks, ["--worker", msh, "--order", str(order)] + (["--mumps"] if mumps else []))
                row["mesh"] = f"dc_{size}"
                rows.append(row)
                print(table([row]).splitlines()[-1], flush=True)
    report = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
              "date": time.strftime("%Y-%m-%d %H:%M"), "rows": rows}
    if not args.no_pygimli:
        report["pygimli"] = compare_pygimli(build_mesh(f"dc_{args.sizes[0]}")[0], max(args.ranks))
    with open(args.json, "w") as fh:
        json.dump(report, fh, indent=1)
    print(table(rows))
    if "pygimli" in report:
        p = report["pygimli"]
        print(f"\npyGIMLi ERT vs parjoint (P1, {p['cells']} cells, {p['data']} data, {p['electrodes']} electrodes): "
              f"pyGIMLi {p['pygimli_s']:.2f} s, parjoint {p['parjoint_s']:.2f} s on {p['parjoint_ranks']} ranks "
              f"(ratio {p['time_ratio_parjoint_over_pygimli']:.2f}); largest rho_a difference "
              f"{100 * p['max_rel_diff_rhoa']:.2f}%")
    print(f"\nwrote {args.json}")


def table(rows: list[dict]) -> str:
    head = ("mesh", "cells", "P", "ranks", "dofs", "1st asm Mcell/s", "re-asm Mcell/s/rank", "AMG its",
            "AMG setup s", "AMG s/src", "MUMPS fact s", "MUMPS s/src")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        mumps = (f"{r['mumps_setup_s']:.2f} | {r['mumps_solve_s']:.3f}" if "mumps_setup_s" in r else "- | -")
        lines.append(f"| {r['mesh']} | {r['cells']} | {r['order']} | {r['ranks']} | {r['dofs']} | "
                     f"{r['first_assembly_Mcells_per_s']:.2f} | {r['reassembly_Mcells_per_s_per_rank']:.2f} | "
                     f"{r['amg_iterations']} | {r['amg_setup_s']:.2f} | {r['amg_solve_s']:.2f} | {mumps} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
