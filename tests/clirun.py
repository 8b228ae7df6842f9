"""Run the parjoint command line in a subprocess, serially or under mpirun."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cli(args: list[str], ranks: int = 1, timeout: float = 120.0, cwd: str | None = None):
    """Return (completed process, seconds).  Under mpirun the child gets a clean MPI
    environment (this process may itself be an MPI singleton)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMIX_", "PRTE_", "HYDRA_"))}
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", OMP_NUM_THREADS="1",
               PYTHONPATH=REPO + os.pathsep + env.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "parjoint", *args]
    if ranks > 1:
        cmd = [shutil.which("mpirun") or "mpirun", "-n", str(ranks), *cmd]
    start = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    return proc, time.monotonic() - start
