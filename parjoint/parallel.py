"""MPI helpers: the world communicator, collective error agreement, rank-0 output.

Every function here is collective over the communicator it is given unless it says
otherwise.
"""

from __future__ import annotations

import contextlib
import os
from typing import Callable, TypeVar

from mpi4py import MPI

from .errors import InputError

T = TypeVar("T")


def world() -> MPI.Comm:
    return MPI.COMM_WORLD


def print0(*args, comm: MPI.Comm | None = None, **kwargs) -> None:
    """Print on rank 0 only (not collective)."""
    if (comm or MPI.COMM_WORLD).rank == 0:
        print(*args, **kwargs, flush=True)


@contextlib.contextmanager
def agree_on_errors(comm: MPI.Comm):
    """Make :class:`InputError` raised inside the block collective.

    The block must not contain collective calls, because a rank that fails skips
    the rest of it.  At the end every rank learns whether any rank failed, and all
    raise the message of the lowest failing rank.
    """
    message = None
    try:
        yield
    except InputError as exc:
        message = str(exc)
    messages = comm.allgather(message)
    failed = [m for m in messages if m is not None]
    if failed:
        raise InputError(failed[0], collective=True)


def on_root(comm: MPI.Comm, fn: Callable[[], T], root: int = 0) -> T:
    """Run ``fn`` on ``root`` only and broadcast its result (or its InputError)."""
    result = None
    with agree_on_errors(comm):
        if comm.rank == root:
            result = fn()
    return comm.bcast(result, root=root)


def atomic_path(path: str) -> str:
    """A temporary sibling of ``path``: same directory (so ``os.replace`` is atomic)
    and same extension (writers such as gmsh choose the format from it)."""
    head, tail = os.path.split(os.path.abspath(path))
    stem, ext = os.path.splitext(tail)
    return os.path.join(head, f".{stem}.partial{ext}")


@contextlib.contextmanager
def atomic_output(path: str, comm: MPI.Comm):
    """Collective: yield a temporary file name; rename it to ``path`` on success.

    On any error the partial file is removed, so a reader never sees a half-written
    output.  All ranks must leave the block the same way (normally or by a
    collective error).
    """
    tmp = atomic_path(path)
    try:
        yield tmp
    except BaseException:
        if comm.rank == 0 and os.path.exists(tmp):
            os.remove(tmp)
        raise
    comm.Barrier()
    if comm.rank == 0:
        os.replace(tmp, path)
    comm.Barrier()
