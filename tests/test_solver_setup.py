"""Solver set-up shared by DC and MT: a MUMPS factorization that runs out of workspace
is redone with a larger ICNTL(14) instead of failing the solve (1, 2, 4 ranks)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from meshgen import dc_halfspace
from parjoint.fem.solvers import set_up
from parjoint.mesh import load_mesh
from parjoint.petsc import PETSc
from parjoint.physics.dc.simulation import DCSimulation
from parjoint.physics.dc.survey import line_electrodes, line_survey

pytestmark = pytest.mark.mpi
ELECTRODES = line_electrodes([-40.0, 0.0], [40.0, 0.0], 9)


class _Factor:
    def __init__(self, infog, icntl):
        self.infog, self.icntl = infog, icntl

    def getMumpsInfog(self, i):
        return self.infog

    def getMumpsIcntl(self, i):
        return self.icntl


class _KSP:
    """What set_up asks of a KSP; factorizations fail with INFOG(1) from ``outcomes``."""

    def __init__(self, outcomes):
        self.outcomes, self.setups, self.operators = list(outcomes), 0, "A"
        self.factor = None

    def setUp(self):
        icntl = int(PETSc.Options("solver_setup_test_").getString("mat_mumps_icntl_14", "20"))
        self.factor = _Factor(self.outcomes[min(self.setups, len(self.outcomes) - 1)], icntl)
        self.setups += 1

    def getPC(self):
        return self

    def getFactorMatrix(self):
        return self.factor

    def getOperators(self):
        return self.operators, self.operators

    def reset(self):
        self.operators = None

    def setOperators(self, mat):
        self.operators = mat

    def setFromOptions(self):
        pass


def test_workspace_shortage_is_refactored_with_more_workspace():
    opts = PETSc.Options("solver_setup_test_")
    try:
        ksp = _KSP([-9, -9, 0])
        set_up(ksp, "solver_setup_test_", "mumps")
        assert ksp.setups == 3 and ksp.operators == "A"  # operator handed back after each reset
        assert opts.getString("mat_mumps_icntl_14") == "100"  # 20 -> 50 -> 100
        ksp = _KSP([-13])  # not a workspace shortage (MUMPS out of memory): left to the solve
        set_up(ksp, "solver_setup_test_", "mumps")
        assert ksp.setups == 1
        ksp = _KSP([-9])  # amg: no factor to look at
        set_up(ksp, "solver_setup_test_", "amg")
        assert ksp.setups == 1
    finally:
        opts.delValue("mat_mumps_icntl_14")


def test_dc_solves_with_no_spare_mumps_workspace(shared_dir, comm):
    """ICNTL(14) = 0 leaves MUMPS no margin over its estimate; on 4 ranks some
    partitions then run out of workspace (INFOG(1) = -9), which failed the solve
    before the retry existed.  The data must equal those of a run with the default."""
    path = os.path.join(shared_dir, "dc_setup.msh")
    if comm.rank == 0:
        dc_halfspace(path, ELECTRODES, 3.0, 300.0, 1000.0, layer_depth=12.0)
    comm.Barrier()
    mesh = load_mesh(path, comm)
    c = mesh.centroid
    m = np.log(0.01) + 0.6 * np.sin(c[:, 0] / 17.0) * np.cos(c[:, 2] / 9.0)
    survey = line_survey(ELECTRODES, "dipole-dipole", n_max=3)
    reference = DCSimulation(mesh, survey, order=2, method="mumps", prefix="dc_setup_ref_").dpred(m)
    opts = PETSc.Options("dc_setup_tight_")
    opts.setValue("mat_mumps_icntl_14", "0")
    try:
        tight = DCSimulation(mesh, survey, order=2, method="mumps", prefix="dc_setup_tight_").dpred(m)
    finally:
        opts.delValue("mat_mumps_icntl_14")
    assert np.allclose(tight, reference, rtol=1e-9)
