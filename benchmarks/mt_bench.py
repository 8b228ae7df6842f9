#!/usr/bin/env python3
"""MT benchmark: edge dofs, assembly throughput, iterations and time per frequency, AMS vs MUMPS.

    python benchmarks/mt_bench.py [--sizes 60k 300k 2M] [--ranks 1 2] [--mumps-sizes 60k]
                                  [--no-mumps] [--fresh] [--json FILE]

Meshes ``meshes/mt_<size>.toml`` (flat earth, 5 km of air, 17 stations; about 70k,
0.3M and 2M edges, the last refined 2x in each direction in the core from the second,
8x in volume) are built once into ``benchmarks/work``.  The model is 100 ohm m with a
10 ohm m layer from 300 to 500 m depth (assigned by cell centroid).  For each size and
rank count an MPI job measures, with the default solver (FGMRES + PRESB/AMS, rtol 1e-8):

* for 1e-3 ... 1e3 Hz (7 frequencies, one system refilled per frequency): outer
  iterations of both polarizations, the set-up time (matrices, AMS, the divergence
  correction's AMG) and the time of the two solves;
* then peak resident memory: per rank, in total, and the solver's share, the peak
  minus what the process held once the mesh was loaded (Python, PETSc, the mesh);
* first assembly of the edge system (edge numbering and orientation from the mesh
  cones, boundary flags, pattern and PETSc matrices, curl-curl and mass
  values, H = C + W and W) and re-assembly for a new model (mass kernel, both
  matrices' values), in cells per second per rank, from wall time and from the
  busiest rank's CPU time (the machine may be shared: the JSON keeps the load average).

MUMPS (LU of the real block system) runs on ``--mumps-sizes`` at 1 Hz on the largest
rank count: factor time, time per right-hand side, MUMPS's own memory (INFOG(22), MB
used).  On the other sizes only MUMPS's analysis runs, whose INFOG(17) is its estimate
of the memory the factorization needs: about 20 GB already for 0.3M edges, more than
this 24 GB machine can spare.  Results are merged into
``benchmarks/results/mt_bench.json`` (rows of the same mesh and rank count replaced,
written after every run).  Targets (issue 7): iterations <= 30 at every frequency and
growing < 1.5x under 8x refinement; AMS memory <= 1/5 of MUMPS's on the 2M-edge mesh
and <= 2.5 KB per edge dof; first assembly >= 0.25M cells/s per rank, re-assembly
>= 1M cells/s per rank.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time

from benchlib import RESULTS, WORK, build_mesh, run_mpi

FREQUENCIES = [1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _setup(mesh_path: str, frequencies, method: str, prefix: str):
    import numpy as np
    from mpi4py import MPI

    from parjoint.mesh import load_mesh
    from parjoint.physics.mt.simulation import MTSimulation
    from parjoint.physics.mt.survey import MTSurvey

    comm = MPI.COMM_WORLD
    mesh = load_mesh(mesh_path, comm)
    depth = -mesh.centroid[:, 2]
    rho = np.where((depth > 300.0) & (depth < 500.0), 10.0, 100.0)
    m = -np.log(rho)
    x = np.linspace(-800.0, 800.0, 17)
    xyz = np.column_stack([x, np.zeros_like(x), np.zeros_like(x)])
    survey = MTSurvey(xyz, frequencies, np.ones((len(frequencies), len(x), 6), bool))
    baseline = _peak_mb()  # this rank's peak with the mesh loaded: what follows is the solver's
    sim = MTSimulation(mesh, survey, m, method=method, prefix=prefix, keep_systems=False)
    return comm, mesh, sim, m, baseline


def _timed(comm, fn):
    """(result, wall seconds, largest CPU seconds of a rank)."""
    from mpi4py import MPI

    comm.Barrier()
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    cpu = time.process_time() - c0
    comm.Barrier()
    return out, time.perf_counter() - t0, comm.allreduce(cpu, op=MPI.MAX)


def _memory(comm, baseline: float, edges: int) -> dict:
    """Peak resident memory: per rank, in total, and above the mesh (the solver's)."""
    from mpi4py import MPI

    peak = _peak_mb()
    total = comm.allreduce(peak, op=MPI.SUM)
    solver = comm.allreduce(peak - baseline, op=MPI.SUM)
    return {"peak_mb_per_rank": comm.allreduce(peak, op=MPI.MAX), "peak_mb_total": total,
            "baseline_mb_total": comm.allreduce(baseline, op=MPI.SUM), "solver_mb_total": solver,
            "kb_per_edge": 1024.0 * total / edges, "solver_kb_per_edge": 1024.0 * solver / edges}


def ams_worker(args) -> dict:
    """Every frequency with PRESB/AMS (peak memory recorded after it), then assembly throughput."""
    import numpy as np
    from mpi4py import MPI

    from parjoint.fem.assembly import Pattern
    from parjoint.fem.nedelec import EdgeSpace, curl_mass_scatter
    from parjoint.physics.mt.layered import MU0

    comm, mesh, sim, m, baseline = _setup(args.worker, FREQUENCIES, "ams", "bams_")
    problem = sim.problem
    problem._set_model(m)
    rows = []
    for fi, f in enumerate(FREQUENCIES):
        _, t_sys, _ = _timed(comm, lambda: problem.system(fi))
        saved = problem.freq_index
        problem.freq_index = np.array([fi])
        problem._fields = {}  # one frequency's fields at a time: the solver's memory, not a cache's
        _, t_solve, _ = _timed(comm, lambda: problem.fields(m))
        problem.freq_index = saved
        rows.append({"frequency": f, "iterations": problem.iterations[fi], "setup_s": t_sys, "solve_s": t_solve})
        if comm.rank == 0:
            print(f"  {f:g} Hz: iterations {problem.iterations[fi]}, set-up {t_sys:.1f} s, solves {t_solve:.1f} s",
                  flush=True)
    memory = _memory(comm, baseline, mesh.n_edges_global)

    cells_max = comm.allreduce(mesh.n_cells, op=MPI.MAX)
    sigma = problem.conductivity(m)
    wmu = 2 * np.pi * MU0

    def first():
        """Numbering, boundary flags, pattern and PETSc matrices, curl-curl and mass values, H and W."""
        space = EdgeSpace(mesh)
        fixed = space.outer_boundary()
        pattern = Pattern(space, space.kernel.dofs)
        C, M = np.zeros(pattern.nnz), np.zeros(pattern.nnz)
        curl_mass_scatter(*space.kernel, sigma, fixed, pattern.rowptr, pattern.within, C, M)
        H, W = pattern.new_matrix(), pattern.new_matrix()
        w = pattern.gather(M, Pattern.array(W))
        w *= wmu
        np.add(pattern.gather(C), w, out=Pattern.array(H))
        W.assemble(), H.assemble()
        return pattern, H, W

    def destroy(pattern, H, W):
        H.destroy(), W.destroy(), pattern.destroy()

    destroy(*first())  # once untimed: numba loads the compiled kernels on first use
    firsts = []
    for _ in range(2):
        made, t, cpu = _timed(comm, first)
        destroy(*made)
        firsts.append((t, cpu))
    t_first, cpu_first = min(firsts)
    # re-assembly for a new model, as in an inversion: the mass kernel, then H and W
    rng = np.random.default_rng(0)
    models = [m + 0.1 * rng.standard_normal(len(m)) for _ in range(3)]
    system = problem.system(len(FREQUENCIES) - 1)  # the one system (keep_systems=False)
    res = []
    for model in models:
        _, t, cpu = _timed(comm, lambda: (problem._set_model(model), problem._fill(system.H, system.W, wmu)))
        res.append((t, cpu))
    t_re, cpu_re = min(res)
    return {"ranks": comm.size, "cells": mesh.n_cells_global, "edges": mesh.n_edges_global,
            "first_assembly_s": t_first, "first_assembly_cpu_s": cpu_first,
            "first_assembly_Mcells_per_s_per_rank": cells_max / t_first / 1e6,
            "first_assembly_Mcells_per_cpu_s": cells_max / cpu_first / 1e6,
            "reassembly_s": t_re, "reassembly_cpu_s": cpu_re,
            "reassembly_Mcells_per_s_per_rank": cells_max / t_re / 1e6,
            "reassembly_Mcells_per_cpu_s": cells_max / cpu_re / 1e6,
            "frequencies": rows, "load_average": os.getloadavg(), **memory}


def mumps_worker(args) -> dict:
    """MUMPS at 1 Hz: the full factorization, or (--analysis) only its memory estimate."""
    import numpy as np

    from parjoint.petsc import PETSc
    from parjoint.physics.mt.layered import MU0
    from parjoint.physics.mt.solver import assemble_block

    method = "ams" if args.analysis else "mumps"
    comm, mesh, sim, m, baseline = _setup(args.worker, [1.0], method, "bmu_")
    problem = sim.problem
    out = {"ranks": comm.size, "cells": mesh.n_cells_global, "edges": mesh.n_edges_global}
    problem._set_model(m)
    if args.analysis:
        H, W = problem.pattern.new_matrix(), problem.pattern.new_matrix()
        problem._fill(H, W, 2 * np.pi * MU0)
        block = assemble_block(H, W)
        pc = PETSc.PC().create(comm=comm)
        pc.setOperators(block)
        pc.setType("lu")
        pc.setFactorSolverType("mumps")
        pc.setFactorSetUpSolverType()
        F = pc.getFactorMatrix()
        rows, cols = block.getOrdering("natural")
        _, t, _ = _timed(comm, lambda: _lu_symbolic(F, block, rows, cols))
        out.update({"analysis_s": t, "mumps_estimated_mb_total": float(F.getMumpsInfog(17)),
                    "mumps_estimated_mb_max_rank": float(F.getMumpsInfog(16))})
    else:
        _, t_factor, _ = _timed(comm, lambda: problem.system(0))
        _, t_solve, _ = _timed(comm, lambda: problem.fields(m))
        F = problem.system(0).ksp.getPC().getFactorMatrix()
        out.update({"factor_s": t_factor, "solve_s_per_rhs": t_solve / 2,
                    "mumps_used_mb_total": float(F.getMumpsInfog(22)),
                    "mumps_used_mb_max_rank": float(F.getMumpsInfog(21)),
                    "mumps_estimated_mb_total": float(F.getMumpsInfog(17))})
    out.update(_memory(comm, baseline, mesh.n_edges_global))
    return out


def _lu_symbolic(F, A, rows, cols) -> None:
    """MatLUFactorSymbolic (petsc4py 3.18 does not wrap it): for MUMPS, its analysis phase."""
    import ctypes

    from parjoint.petsc import _lib  # the loaded libpetsc (private to parjoint.petsc, fine in a benchmark)

    info = (ctypes.c_double * 32)()  # MatFactorInfo: 11 PetscReals in 3.18; room to spare
    _lib.MatFactorInfoInitialize(info)
    fn = _lib.MatLUFactorSymbolic
    fn.argtypes = [ctypes.c_void_p] * 5
    ierr = fn(F.handle, A.handle, rows.handle, cols.handle, ctypes.cast(info, ctypes.c_void_p))
    if ierr:
        raise RuntimeError(f"MatLUFactorSymbolic failed with error {ierr}")






def table(rows: list[dict]) -> str:
    lines = ["| mesh | edges | ranks | first assembly Mcell/s/rank (per CPU s) | re-assembly Mcell/s/rank (per CPU s) "
             "| outer iterations 1e-3 ... 1e3 Hz | s per frequency (set-up + 2 solves) | peak MB/rank "
             "| solver KB/edge (total) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        its = " ".join(str(max(f["iterations"])) for f in r["frequencies"])
        secs = " ".join(f"{f['setup_s'] + f['solve_s']:.0f}" for f in r["frequencies"])
        lines.append(f"| {r['mesh']} | {r['edges']} | {r['ranks']} | {r['first_assembly_Mcells_per_s_per_rank']:.2f} "
                     f"({r['first_assembly_Mcells_per_cpu_s']:.2f}) | {r['reassembly_Mcells_per_s_per_rank']:.2f} "
                     f"({r['reassembly_Mcells_per_cpu_s']:.2f}) | {its} | {secs} | {r['peak_mb_per_rank']:.0f} | "
                     f"{r['solver_kb_per_edge']:.2f} ({r['kb_per_edge']:.2f}) |")
    return "\n".join(lines)


def mumps_table(rows: list[dict], ams: list[dict]) -> str:
    lines = ["| mesh | edges | ranks | MUMPS factor s | s per rhs | MUMPS MB (used, or *estimated*) "
             "| AMS solver MB (same ranks) | AMS / MUMPS |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        mumps = r.get("mumps_used_mb_total", r["mumps_estimated_mb_total"])
        shown = f"{mumps:.0f}" if "factor_s" in r else f"*{mumps:.0f}*"
        match = [a for a in ams if a["mesh"] == r["mesh"] and a["ranks"] == r["ranks"]]
        solver = f"{match[0]['solver_mb_total']:.0f}" if match else "-"
        ratio = f"{match[0]['solver_mb_total'] / mumps:.3f}" if match else "-"
        factor = f"{r['factor_s']:.1f} | {r['solve_s_per_rhs']:.2f}" if "factor_s" in r else "- | -"
        lines.append(f"| {r['mesh']} | {r['edges']} | {r['ranks']} | {factor} | {shown} | {solver} | {ratio} |")
    return "\n".join(lines)


def growth(rows: list[dict], coarse: str = "mt_300k", fine: str = "mt_2M") -> list[dict]:
    """Outer iterations on the fine mesh over those on the coarse one, per frequency."""
    out = []
    for ranks in sorted({r["ranks"] for r in rows}):
        a = [r for r in rows if r["mesh"] == coarse and r["ranks"] == ranks]
        b = [r for r in rows if r["mesh"] == fine and r["ranks"] == ranks]
        if a and b:
            ratio = [max(fb["iterations"]) / max(fa["iterations"]) for fa, fb in zip(a[0]["frequencies"],
                                                                                  b[0]["frequencies"])]
            out.append({"ranks": ranks, "coarse": coarse, "fine": fine, "ratio_per_frequency": ratio,
                        "max_ratio": max(ratio)})
    return out


def _merge(old: list[dict], new: list[dict]) -> list[dict]:
    """Rows of ``new`` replace those of ``old`` with the same mesh and rank count."""
    keys = {(r["mesh"], r["ranks"]) for r in new}
    order = {"mt_60k": 0, "mt_300k": 1, "mt_2M": 2}
    rows = [r for r in old if (r["mesh"], r["ranks"]) not in keys] + new
    return sorted(rows, key=lambda r: (order.get(r["mesh"], 9), r["mesh"], r["ranks"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--sizes", nargs="+", default=["60k", "300k", "2M"])
    parser.add_argument("--ranks", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--mumps-sizes", nargs="*", default=["60k"])
    parser.add_argument("--json", default=os.path.join(RESULTS, "mt_bench.json"))
    parser.add_argument("--no-mumps", action="store_true", help="skip the MUMPS runs")
    parser.add_argument("--fresh", action="store_true", help="do not keep rows of earlier runs in the JSON")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--mumps", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--analysis", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        result = mumps_worker(args) if args.mumps else ams_worker(args)
        from mpi4py import MPI

        if MPI.COMM_WORLD.rank == 0:
            with open(args.json, "w") as fh:
                json.dump(result, fh)
        return
    os.makedirs(WORK, exist_ok=True)
    os.makedirs(RESULTS, exist_ok=True)
    old = {"ams": [], "mumps": []}
    if os.path.exists(args.json) and not args.fresh:  # earlier runs of other sizes are kept
        with open(args.json) as fh:
            old = json.load(fh)
    rows, mumps_rows = old["ams"], old["mumps"]

    def save() -> dict:  # after every run, so that an interrupted benchmark keeps what it measured
        report = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                  "date": time.strftime("%Y-%m-%d %H:%M"), "load_average": os.getloadavg(), "ams": rows,
                  "mumps": mumps_rows, "iteration_growth": growth(rows)}
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=1)
        return report

    for size in args.sizes:
        msh, _ = build_mesh(f"mt_{size}")
        for ranks in args.ranks:
            print(f"mt_{size}, {ranks} rank(s), FGMRES + PRESB/AMS:", flush=True)
            row = run_mpi(__file__, ranks, ["--worker", msh])
            row["mesh"] = f"mt_{size}"
            rows = _merge(rows, [row])
            save()
            print(table([row]).splitlines()[-1], flush=True)
        if args.no_mumps:
            continue
        extra = [] if size in args.mumps_sizes else ["--analysis"]
        print(f"mt_{size}, {max(args.ranks)} rank(s), MUMPS {'analysis' if extra else 'factorization'}:", flush=True)
        row = run_mpi(__file__, max(args.ranks), ["--worker", msh, "--mumps", *extra])
        row["mesh"] = f"mt_{size}"
        mumps_rows = _merge(mumps_rows, [row])
        save()
        print(mumps_table([row], rows).splitlines()[-1], flush=True)
    report = save()
    print(table(rows))
    print()
    print(mumps_table(mumps_rows, rows))
    for g in report["iteration_growth"]:
        print(f"\niterations {g['fine']} / {g['coarse']} on {g['ranks']} rank(s): "
              + " ".join(f"{x:.2f}" for x in g["ratio_per_frequency"]) + f" (max {g['max_ratio']:.2f})")
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
