"""pytest configuration shared by serial and MPI runs.

``make test`` runs the suite serially, then the tests marked ``mpi`` under
``mpirun -n 2`` and ``mpirun -n 4 --oversubscribe``.  Under MPI only rank 0
reports; a failure on any rank prints that rank's report and aborts the whole job,
so a failing rank can never leave the others waiting in a collective call (and
``mpirun`` exits non-zero).  Hung tests are stopped by pytest-timeout.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

import pytest

from parjoint import petsc  # noqa: F401  (initialises PETSc before mpi4py is used)
from mpi4py import MPI

COMM = MPI.COMM_WORLD


@pytest.hookimpl(trylast=True)  # after the terminal reporter has registered itself
def pytest_configure(config):
    if COMM.size > 1 and COMM.rank > 0:
        reporter = config.pluginmanager.getplugin("terminalreporter")
        if reporter is not None:
            config.pluginmanager.unregister(reporter)


def pytest_collection_modifyitems(config, items):
    if COMM.size == 1:
        return
    keep = [item for item in items if item.get_closest_marker("mpi")]
    dropped = [item for item in items if not item.get_closest_marker("mpi")]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = keep


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if COMM.size > 1 and report.failed:
        sys.stderr.write(f"\n[rank {COMM.rank} of {COMM.size}] {report.nodeid} FAILED ({report.when})\n"
                         f"{report.longreprtext}\n")
        sys.stderr.flush()
        COMM.Abort(1)


@pytest.fixture(scope="session")
def comm():
    return COMM


@pytest.fixture(scope="session")
def shared_dir():
    """A temporary directory that every rank sees (tmp_path differs per rank)."""
    path = tempfile.mkdtemp(prefix="parjoint-test-") if COMM.rank == 0 else None
    path = COMM.bcast(path)
    yield path
    COMM.Barrier()
    if COMM.rank == 0:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def block_mesh(shared_dir):
    """A small box mesh with an air layer and a buried block (regions earth, air, block)."""
    from meshgen import box_with_block

    path = os.path.join(shared_dir, "block.msh")
    if COMM.rank == 0:
        box_with_block(path)
    COMM.Barrier()
    return path
