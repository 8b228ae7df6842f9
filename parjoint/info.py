"""``parjoint info``: what this installation runs on."""

from __future__ import annotations

import platform

from mpi4py import MPI

from . import __version__
from .petsc import PETSc

# Solver and I/O packages parjoint uses when PETSc has them.
_PACKAGES = ("hypre", "mumps", "superlu_dist", "scalapack", "ptscotch", "parmetis", "hdf5", "ml", "suitesparse")


def petsc_packages() -> dict[str, bool]:
    """Which external packages this PETSc was configured with."""
    return {name: bool(PETSc.Sys.hasExternalPackage(name)) for name in _PACKAGES}


def print_info(comm: MPI.Comm) -> None:
    import numpy

    lines = [
        f"parjoint      {__version__}",
        f"python        {platform.python_version()}",
        f"numpy         {numpy.__version__}",
        f"PETSc         {'.'.join(map(str, PETSc.Sys.getVersion()))} "
        f"(scalar {PETSc.ScalarType.__name__}, {PETSc.IntType().itemsize * 8}-bit indices)",
        f"petsc4py      {__import__('petsc4py').__version__}",
        f"mpi4py        {__import__('mpi4py').__version__}",
        f"MPI           {MPI.Get_library_version().splitlines()[0].strip()}",
        f"ranks         {comm.size}",
    ]
    pk = petsc_packages()
    lines.append("PETSc packages " + " ".join(f"{k}:{'yes' if v else 'no'}" for k, v in pk.items()))
    try:
        import h5py

        lines.append(f"h5py          {h5py.__version__} (parallel {'yes' if h5py.get_config().mpi else 'no'})")
    except ImportError:
        lines.append("h5py          not installed")
    try:
        import gmsh

        lines.append(f"gmsh          {gmsh.__version__}")
    except ImportError:
        lines.append("gmsh          not installed (needed by 'parjoint mesh build')")
    if comm.rank == 0:
        print("\n".join(lines), flush=True)
