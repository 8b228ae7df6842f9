"""PETSc start-up and the few PETSc C functions petsc4py 3.18 does not wrap.

Import PETSc through :func:`init` so that command-line PETSc options (``-ksp_monitor``,
``-dc_pc_type hypre``, ...) reach PETSc.  Functions missing from petsc4py 3.18 are
called through ``ctypes`` on the loaded ``libpetsc`` using the objects' ``handle``;
they exist with the same signatures in every PETSc from 3.18 on.
"""

from __future__ import annotations

import ctypes
import os
import sys

import numpy as np

_DEBIAN_PETSC = "/usr/lib/petscdir/petsc3.18/x86_64-linux-gnu-real"


def _import_petsc4py():
    try:
        import petsc4py  # noqa: F401
    except ImportError:
        # Debian's petsc4py lives under PETSC_DIR; its .pth only looks there when
        # PETSC_DIR is set when the interpreter starts.
        candidate = os.path.join(os.environ.get("PETSC_DIR", _DEBIAN_PETSC), "lib/python3/dist-packages")
        if os.path.isdir(candidate) and candidate not in sys.path:
            sys.path.append(candidate)
        os.environ.setdefault("PETSC_DIR", _DEBIAN_PETSC)
    import petsc4py

    return petsc4py


def _init():
    from . import PETSC_ARGS

    petsc4py = _import_petsc4py()
    if "petsc4py.PETSc" not in sys.modules:
        petsc4py.init([sys.argv[0], *PETSC_ARGS])
    from petsc4py import PETSc

    return PETSc


PETSc = _init()
IntType = np.dtype(PETSc.IntType)
ScalarType = np.dtype(PETSc.ScalarType)
if ScalarType.kind == "c":  # parjoint writes complex systems as real 2x2 blocks
    raise ImportError("parjoint needs a real-scalar PETSc build (found complex scalars)")


def _find_libpetsc() -> ctypes.CDLL:
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            if "libpetsc" in os.path.basename(path) and ".so" in path:
                return ctypes.CDLL(path)
    raise ImportError("libpetsc is not loaded in this process; cannot reach PETSc C functions")


_lib = _find_libpetsc()
_int = ctypes.c_int64 if IntType.itemsize == 8 else ctypes.c_int32
_ptr = ctypes.c_void_p


def _bind(name, *argtypes):
    fn = getattr(_lib, name)
    fn.argtypes = list(argtypes)
    fn.restype = ctypes.c_int
    return fn


def _check(ierr: int, name: str) -> None:
    if ierr:
        raise RuntimeError(f"PETSc {name} failed with error code {ierr}")


_create_from_dag = _bind("DMPlexCreateFromDAG", _ptr, _int, _ptr, _ptr, _ptr, _ptr, _ptr)
_get_cones = _bind("DMPlexGetCones", _ptr, ctypes.POINTER(ctypes.POINTER(_int)))
_get_orients = _bind("DMPlexGetConeOrientations", _ptr, ctypes.POINTER(ctypes.POINTER(_int)))
_check_fns = {
    "symmetry": _bind("DMPlexCheckSymmetry", _ptr),
    "skeleton": _bind("DMPlexCheckSkeleton", _ptr, _int),
    "faces": _bind("DMPlexCheckFaces", _ptr, _int),
    "geometry": _bind("DMPlexCheckGeometry", _ptr),
    "pointsf": _bind("DMPlexCheckPointSF", _ptr, _ptr),
}


def plex_create_from_dag(dm, num_points, cone_sizes, cones, orientations, coords) -> None:
    """``DMPlexCreateFromDAG`` on an existing (empty) DMPlex, in place.

    ``num_points`` is the count per depth (vertices, edges, faces, cells); the other
    arrays follow the chart order.  Collective on the DM.
    """
    arrays = [np.ascontiguousarray(a, dtype=IntType) for a in (num_points, cone_sizes, cones, orientations)]
    xyz = np.ascontiguousarray(coords, dtype=np.float64)
    ptrs = [a.ctypes.data for a in arrays]
    _check(_create_from_dag(dm.handle, len(arrays[0]) - 1, *ptrs, xyz.ctypes.data), "DMPlexCreateFromDAG")


def plex_cones(dm) -> tuple[np.ndarray, np.ndarray]:
    """Copies of the concatenated cone and cone-orientation arrays (chart order).

    Assumes one cell type per depth stratum (true for tetrahedral meshes), so the
    storage size is the sum over strata of count times cone size.
    """
    n = 0
    for depth in range(dm.getDepth() + 1):
        start, end = dm.getDepthStratum(depth)
        if end > start:
            n += (end - start) * dm.getConeSize(start)
    out = []
    for getter, name in ((_get_cones, "DMPlexGetCones"), (_get_orients, "DMPlexGetConeOrientations")):
        ptr = ctypes.POINTER(_int)()
        _check(getter(dm.handle, ctypes.byref(ptr)), name)
        out.append(np.ctypeslib.as_array(ptr, shape=(n,)).copy() if n else np.zeros(0, IntType))
    return out[0], out[1]


def plex_check(dm, what: str) -> int:
    """Run one of PETSc's DMPlex consistency checks; return its error code (0 = ok)."""
    fn = _check_fns[what]
    if what in ("skeleton", "faces"):
        return fn(dm.handle, 0)
    if what == "pointsf":
        return fn(dm.handle, None)
    return fn(dm.handle)
