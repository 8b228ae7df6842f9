"""Pieces shared by the benchmark scripts: MPI worker runs, mesh builds, timers.

Each benchmark script runs its measurements in MPI workers (the script itself under
``mpirun`` with ``--worker ...``) that leave their figures as JSON; this module starts
them and reads the JSON back.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
WORK = os.path.join(HERE, "work")  # meshes and peers' virtual environments (not in git)
RESULTS = os.path.join(HERE, "results")  # JSON results (in git)


def run_mpi(script: str, ranks: int, argv: list[str]) -> dict:
    """Run ``script argv --json FILE`` on ``ranks`` MPI ranks and return FILE's JSON."""
    os.makedirs(WORK, exist_ok=True)
    name = os.path.splitext(os.path.basename(script))[0]
    out = os.path.join(WORK, f"{name}_worker_{os.getpid()}.json")
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", OMP_NUM_THREADS="1")
    cmd = [shutil.which("mpirun") or "mpirun", "-n", str(ranks), sys.executable, script, *argv, "--json", out]
    subprocess.run(cmd, check=True, env=env, cwd=REPO)
    with open(out) as fh:
        return json.load(fh)


def build_mesh(name: str, rebuild: bool = False) -> tuple[str, float]:
    """``meshes/<name>.toml`` built into ``work/<name>.msh`` (once unless ``rebuild``);
    returns the path and the build time in seconds (0 when it already existed)."""
    os.makedirs(WORK, exist_ok=True)
    msh = os.path.join(WORK, f"{name}.msh")
    if os.path.exists(msh) and not rebuild:
        return msh, 0.0
    spec = os.path.join(REPO, "meshes", f"{name}.toml")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "parjoint", "mesh", "build", spec, "-o", msh], check=True, cwd=REPO)
    return msh, time.perf_counter() - t0


def barrier_timer(comm):
    """``timed(fn) -> (fn(), wall seconds)`` between barriers, so it is the slowest rank's time."""

    def timed(fn):
        comm.Barrier()
        t0 = time.perf_counter()
        out = fn()
        comm.Barrier()
        return out, time.perf_counter() - t0

    return timed
