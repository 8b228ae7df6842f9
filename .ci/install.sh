#!/bin/sh
# Install what parjoint needs into a virtual environment, once.
#
#   .ci/install.sh VENV
#
# 1. If a Python that imports petsc4py and mpi4py is already there (a cluster module,
#    Spack, conda-forge; or PARJOINT_PYTHON names it), use it and never call apt-get.
# 2. Otherwise, on Debian/Ubuntu as root, install PETSc 3.18, petsc4py, mpi4py, h5py
#    (MPI build), scipy and OpenMPI from the distribution.
# 3. Otherwise stop with one message saying what to install.
# Then make VENV with --system-site-packages (so it sees those packages), install
# parjoint in editable mode and the pure-Python extras (gmsh, pytest, ...).
set -eu
VENV=${1:-.venv}
DEBIAN_PETSC_DIR=/usr/lib/petscdir/petsc3.18/x86_64-linux-gnu-real
APT_PACKAGES="python3-petsc4py-real3.18 python3-petsc4py python3-mpi4py python3-h5py-mpi python3-scipy \
python3-matplotlib python3-venv python3-pip openmpi-bin libopenmpi-dev"

imports_petsc() {  # $1 = python, $2 = PETSC_DIR or empty
    if [ -n "$2" ]; then
        PETSC_DIR=$2 "$1" -c "import petsc4py, mpi4py, numpy" >/dev/null 2>&1
    else
        "$1" -c "import petsc4py, mpi4py, numpy" >/dev/null 2>&1
    fi
}

PY=""
PETSC_DIR_FOR_VENV=""
for candidate in ${PARJOINT_PYTHON:-} python3; do
    if command -v "$candidate" >/dev/null 2>&1 && imports_petsc "$candidate" ""; then
        PY=$(command -v "$candidate")
        break
    fi
done
if [ -z "$PY" ]; then
    # the Debian route: install (or complete) the distribution's packages
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        missing=""
        for package in $APT_PACKAGES; do
            dpkg -s "$package" >/dev/null 2>&1 || missing="$missing $package"
        done
        if [ -n "$missing" ]; then
            echo "parjoint: installing Debian packages:$missing"
            export DEBIAN_FRONTEND=noninteractive
            apt-get update -qq
            # shellcheck disable=SC2086
            apt-get install -y -qq --no-install-recommends $missing >/dev/null
        fi
    fi
    if [ -x /usr/bin/python3 ] && imports_petsc /usr/bin/python3 "$DEBIAN_PETSC_DIR"; then
        PY=/usr/bin/python3
        PETSC_DIR_FOR_VENV=$DEBIAN_PETSC_DIR
    else
        cat >&2 <<MSG
parjoint: no Python with petsc4py and mpi4py found, and cannot install them here
(not root, or not Debian).  Install PETSc >= 3.18 (real scalars; with hypre, MUMPS,
PTScotch, HDF5) with petsc4py, mpi4py and h5py, e.g. 'module load petsc', Spack
'spack install py-petsc4py ^petsc+hypre+mumps+ptscotch+hdf5', or conda-forge
'conda install -c conda-forge petsc4py mpi4py h5py', then run make again
(set PARJOINT_PYTHON=/path/to/python if it is not 'python3').
MSG
        exit 1
    fi
fi

echo "parjoint: using $PY ($("$PY" --version 2>&1)) for the environment $VENV"
"$PY" -m venv --system-site-packages "$VENV"
if [ -n "$PETSC_DIR_FOR_VENV" ]; then
    # Debian's petsc4py is found through PETSC_DIR; set it for every interpreter start.
    SITE=$("$VENV/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    echo "import os; os.environ.setdefault('PETSC_DIR', '$PETSC_DIR_FOR_VENV')" > "$SITE/00-parjoint-petsc.pth"
fi
"$VENV/bin/python" -m pip install -q --no-deps -e .
# numba (compiled kernels) and gmsh bring their own libraries; the rest are pure Python.
# numpy, scipy, h5py, petsc4py and mpi4py stay the system's (pip must not replace them).
"$VENV/bin/python" -m pip install -q "numba>=0.58" "gmsh>=4.11" "pytest>=7" "pytest-timeout>=2" "psutil>=5"
# figures: the system's matplotlib where there is one (Debian's matches its numpy)
"$VENV/bin/python" -c "import matplotlib" 2>/dev/null || "$VENV/bin/python" -m pip install -q matplotlib
"$VENV/bin/python" -c "import petsc4py, mpi4py, h5py, gmsh, numba, matplotlib, parjoint" || { echo "parjoint: environment check failed" >&2; exit 1; }
echo "parjoint: environment ready in $VENV"
