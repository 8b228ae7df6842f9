"""The command line: `info`, the mesh commands, and bad input under `mpirun -n 2`.

Every bad input must give exit code 2, a single `parjoint: error:` line naming the
file or key, no traceback, no output file, and it must do so within seconds (no hang
when only rank 0 found the problem).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from clirun import REPO, run_cli
from meshgen import box_with_block

RANKS = 2
FAST = 30.0  # seconds; a hang would hit the subprocess timeout instead


def assert_clean_failure(proc, seconds, *needles):
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("parjoint: error:")]
    assert len(errors) == 1, proc.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]
    assert "Traceback" not in proc.stderr and "MPI_ABORT" not in proc.stderr
    assert seconds < FAST


def test_info_reports_versions_and_ranks():
    proc, _ = run_cli(["info"], ranks=RANKS)
    assert proc.returncode == 0, proc.stderr
    assert "PETSc         3." in proc.stdout and "ranks         2" in proc.stdout
    assert proc.stdout.count("parjoint      ") == 1  # printed once, by rank 0


def test_report_convert_export_roundtrip(tmp_path):
    msh = str(tmp_path / "m.msh")
    box_with_block(msh, h=150.0)
    first, _ = run_cli(["mesh", "report", msh], ranks=RANKS)
    assert first.returncode == 0, first.stderr
    assert "on 2 rank(s)" in first.stdout and "block" in first.stdout
    h5 = str(tmp_path / "m.h5")
    proc, _ = run_cli(["mesh", "convert", msh, "-o", h5], ranks=RANKS)
    assert proc.returncode == 0 and os.path.exists(h5), proc.stderr
    proc2, _ = run_cli(["mesh", "report", h5], ranks=RANKS)
    assert proc2.returncode == 0, proc2.stderr
    # same mesh: identical report apart from the partition line (file name, counts, volumes)
    keep = [line for line in first.stdout.splitlines() if "cells per rank" not in line]
    keep2 = [line for line in proc2.stdout.splitlines() if "cells per rank" not in line]
    assert keep == keep2
    xdmf = str(tmp_path / "m.xdmf")
    proc, _ = run_cli(["mesh", "export", h5, "-o", xdmf, "-log_view"], ranks=RANKS)
    assert proc.returncode == 0, proc.stderr
    assert os.path.exists(xdmf) and os.path.exists(xdmf + ".h5")
    assert "Event" in proc.stdout  # the PETSc option reached PETSc


def test_missing_mesh_file(tmp_path):
    proc, t = run_cli(["mesh", "report", str(tmp_path / "nowhere.msh")], ranks=RANKS)
    assert_clean_failure(proc, t, "nowhere.msh", "no such file")


def test_malformed_msh(tmp_path):
    good = str(tmp_path / "good.msh")
    box_with_block(good, h=200.0, binary=False)
    bad = tmp_path / "broken.msh"
    text = open(good, "rb").read()
    bad.write_bytes(text[: int(len(text) * 0.7)])
    proc, t = run_cli(["mesh", "report", str(bad)], ranks=RANKS)
    assert_clean_failure(proc, t, "broken.msh", "malformed")


def test_output_of_wrong_kind(tmp_path):
    msh = str(tmp_path / "m.msh")
    box_with_block(msh, h=200.0)
    proc, t = run_cli(["mesh", "convert", msh, "-o", str(tmp_path / "m.vtu")], ranks=RANKS)
    assert_clean_failure(proc, t, "m.vtu", ".h5")


def _spec(tmp_path, topography: str, extra: str = "") -> str:
    text = f"""
[mesh]
cell_size = 100.0
[core]
x = [-300.0, 300.0]
y = [-300.0, 300.0]
depth = 300.0
[padding]
horizontal = 600.0
depth = 600.0
[topography]
{topography}
{extra}
"""
    path = tmp_path / "spec.toml"
    path.write_text(text)
    return str(path)


def _dem(tmp_path, z=None, swap_rows=False) -> str:
    xs, ys = np.linspace(-1000, 1000, 11), np.linspace(-1000, 1000, 9)
    X, Y = np.meshgrid(xs, ys)  # x fastest
    Z = 10 * np.cos(X / 500) if z is None else z(X, Y)
    rows = np.column_stack([X.ravel(), Y.ravel(), Z.ravel()])
    if swap_rows:
        rows[[20, 21]] = rows[[21, 20]]
    path = tmp_path / "dem.xyz"
    np.savetxt(path, rows, header="x y z", fmt="%.6f")
    return str(path)


@pytest.mark.parametrize("case", ["unknown_key", "dem_nan", "dem_unsorted", "station_outside_dem"])
def test_bad_build_inputs(tmp_path, case):
    out = str(tmp_path / "out.msh")
    if case == "unknown_key":
        spec = _spec(tmp_path, 'kind = "flat"\nelevation = 0.0\nheigth = 3.0')
        needles = ("spec.toml", "heigth")
    elif case == "dem_nan":
        _dem(tmp_path, z=lambda X, Y: np.where((X == 0) & (Y == 0), np.nan, 1.0))
        spec = _spec(tmp_path, 'kind = "dem"\nfile = "dem.xyz"')
        needles = ("dem.xyz", "line")
    elif case == "dem_unsorted":
        _dem(tmp_path, swap_rows=True)
        spec = _spec(tmp_path, 'kind = "dem"\nfile = "dem.xyz"')
        needles = ("dem.xyz", "line")
    else:
        _dem(tmp_path)
        spec = _spec(tmp_path, 'kind = "dem"\nfile = "dem.xyz"',
                     "[stations]\nline = { start = [0.0, 0.0], end = [0.0, 1500.0], count = 4 }\ncell_size = 50.0")
        needles = ("station",)
    proc, t = run_cli(["mesh", "build", spec, "-o", out], ranks=RANKS)
    assert_clean_failure(proc, t, *needles)
    assert not os.path.exists(out)
    assert not [f for f in os.listdir(tmp_path) if ".partial" in f]


def test_usage_error_exit_code():
    proc, _ = run_cli(["mesh", "frobnicate"])
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


def test_cli_module_in_repo():
    assert os.path.exists(os.path.join(REPO, "parjoint", "cli.py"))
