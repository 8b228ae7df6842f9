#!/usr/bin/env python3
"""Mesh benchmark: build, load + distribute, geometry, HDF5 save and reload, memory.

    python benchmarks/mesh_bench.py [--sizes 200k 1p5M] [--ranks 1 2] [--json out.json]

For each mesh size it builds ``meshes/box_<size>.toml`` with gmsh, then for each rank
count runs two fresh MPI jobs:

* from ``.msh``: read, build the DMPlex, partition and distribute, precompute the
  geometry (cell volumes, centroids, P1 gradients; face areas, normals, centroids;
  timed again on its own), save the distributed mesh to HDF5;
* from ``.h5``: reload the saved distributed mesh and precompute the geometry.

Peak memory is the largest resident set (``ru_maxrss``) of any rank of a job.
Results go to ``benchmarks/results/mesh_bench.json`` and a table on stdout.
Targets (2-core machine): geometry >= 2M cells/s per rank; 1.5M-cell build < 15 s;
first load + distribute < 40 s and reload < 10 s on 2 ranks; reload peak memory per
rank on 2 ranks <= 60% of 1 rank's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

from benchlib import RESULTS, WORK, barrier_timer, build_mesh, run_mpi


def worker(args) -> None:
    """Runs under mpirun: one load path, timings and memory as JSON on rank 0."""
    import resource

    from mpi4py import MPI

    from parjoint.mesh import load_mesh

    comm = MPI.COMM_WORLD

    timed = barrier_timer(comm)

    mesh, t_load = timed(lambda: load_mesh(args.worker, comm))

    # volumes, centroids, P1 gradients, face areas, normals and centroids
    _, t_geom = timed(mesh._compute_geometry)
    t_geom = comm.allreduce(t_geom, op=MPI.MAX)
    result = {
        "ranks": comm.size,
        "cells": mesh.n_cells_global,
        "cells_per_rank_max": comm.allreduce(mesh.n_cells, op=MPI.MAX),
        "load_s": t_load,
        "geometry_s": t_geom,
        "geometry_cells_per_s_per_rank": comm.allreduce(mesh.n_cells, op=MPI.MAX) / t_geom,
    }
    if args.save:
        _, result["save_s"] = timed(lambda: mesh.save(args.save))
    result["peak_rss_mb_max_rank"] = comm.allreduce(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, op=MPI.MAX)
    if comm.rank == 0:
        with open(args.json, "w") as fh:
            json.dump(result, fh)






def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--sizes", nargs="+", default=["200k", "1p5M"])
    parser.add_argument("--ranks", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--json", default=os.path.join(RESULTS, "mesh_bench.json"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--save", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    os.makedirs(WORK, exist_ok=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    rows = []
    for size in args.sizes:
        msh, t_build = build_mesh(f"box_{size}", rebuild=True)
        for ranks in args.ranks:
            h5 = os.path.join(WORK, f"box_{size}_{ranks}.h5")
            first = run_mpi(__file__, ranks, ["--worker", msh, "--save", h5])
            again = run_mpi(__file__, ranks, ["--worker", h5])
            rows.append({
                "mesh": f"box_{size}", "cells": first["cells"], "ranks": ranks, "build_s": t_build,
                "msh_load_distribute_s": first["load_s"], "geometry_s": first["geometry_s"],
                "geometry_Mcells_per_s_per_rank": first["geometry_cells_per_s_per_rank"] / 1e6,
                "save_h5_s": first["save_s"], "reload_h5_s": again["load_s"],
                "peak_mb_msh_path": first["peak_rss_mb_max_rank"], "peak_mb_reload": again["peak_rss_mb_max_rank"],
            })
    for row in rows:  # memory ratio of the reload path against one rank, per mesh
        one = [r for r in rows if r["mesh"] == row["mesh"] and r["ranks"] == 1]
        row["reload_memory_vs_1_rank"] = row["peak_mb_reload"] / one[0]["peak_mb_reload"] if one else None
    report = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "node": platform.node()},
              "date": time.strftime("%Y-%m-%d %H:%M"), "rows": rows}
    with open(args.json, "w") as fh:
        json.dump(report, fh, indent=1)
    print(table(rows))
    print(f"\nwrote {args.json}")


def table(rows: list[dict]) -> str:
    head = ("mesh", "cells", "ranks", "build s", "msh->dist s", "geom Mcell/s/rank", "save s", "reload s",
            "peak MB (msh)", "peak MB (reload)", "reload mem vs 1")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        ratio = r["reload_memory_vs_1_rank"]
        lines.append(
            f"| {r['mesh']} | {r['cells']} | {r['ranks']} | {r['build_s']:.1f} | {r['msh_load_distribute_s']:.1f} | "
            f"{r['geometry_Mcells_per_s_per_rank']:.2f} | {r['save_h5_s']:.1f} | {r['reload_h5_s']:.1f} | "
            f"{r['peak_mb_msh_path']:.0f} | {r['peak_mb_reload']:.0f} | "
            f"{'-' if ratio is None else f'{ratio:.2f}'} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
