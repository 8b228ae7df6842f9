"""``parjoint forward`` for gravity and magnetics under ``mpirun -n 2``: outputs with
units and borehole flags equal to the library's data, and bad input giving exit code
2 with one ``parjoint: error:`` line (see test_cli.py)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from clirun import run_cli
from meshgen import box_with_block
from parjoint.io.potential_csv import read_potential_csv
from parjoint.io.ubc_potential import read_ubc_magnetics
from parjoint.mesh import load_mesh
from parjoint.physics.gravity.simulation import GravitySimulation
from test_cli import assert_clean_failure

RANKS = 2
STATIONS = "x,y,z\n-200.0,0.0,5.0\n0.0,0.0,5.0\n200.0,50.0,5.0\n0.0,20.0,-150.0\n"  # the last in a borehole


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("potential_cli")
    box_with_block(str(path / "block.msh"), h=150.0)
    (path / "stations.csv").write_text(STATIONS)
    return path


def write_config(folder, text: str, name: str = "config.toml") -> str:
    path = folder / name
    path.write_text(text)
    return str(path)


GRAVITY = """
physics = "gravity"
[mesh]
file = "block.msh"
[model]
density = {{ block = 300.0 }}
[survey]
file = "{stations}"
components = ["gz", "gx", "gzz"]
{survey}
[output]
data = "gravity.csv"
model = "density.xdmf"
{extra}
"""

MAGNETICS = """
physics = "magnetics"
[mesh]
file = "block.msh"
[model]
susceptibility = {{ block = 0.03 }}
remanence_z = {{ block = 0.5 }}
[survey]
grid = {{ x = [-300.0, 300.0], y = [-300.0, 300.0], nx = 5, ny = 4 }}
height = 2.0
inclination = {inclination}
declination = 7.0
strength = {strength}
[output]
data = "tmi.mag"
{extra}
"""


def test_gravity_forward_writes_flagged_data_equal_to_the_library(folder):
    config = write_config(folder, GRAVITY.format(stations="stations.csv", survey="", extra=""))
    proc, _ = run_cli(["forward", config], ranks=RANKS)
    assert proc.returncode == 0, proc.stderr
    assert "1 of 4 station(s) below the topography" in proc.stdout and "station(s) 4" in proc.stdout
    assert "memory per rank" in proc.stdout and proc.stdout.count("wrote") == 2
    text = (folder / "gravity.csv").read_text()
    assert "# gz: mGal" in text and "# gzz: Eotvos" in text
    table = read_potential_csv(str(folder / "gravity.csv"))
    mesh = load_mesh(str(folder / "block.msh"))
    sim = GravitySimulation(mesh, table.xyz, ("gz", "gx", "gzz"), verbose=False)
    rho = np.where(mesh.cell_region == mesh.region_tag("block"), 300.0, 0.0)
    expected = sim.by_component(sim.dpred(rho))
    for k, name in enumerate(sim.components):
        assert np.abs(table.values[name] - expected[k]).max() <= 1e-12 * np.abs(expected[k]).max()
    assert [line.endswith(",1") for line in text.splitlines() if line[0].isdigit() or line[0] == "-"] == \
        [False, False, False, True]
    assert os.path.exists(folder / "density.xdmf")


def test_magnetics_forward_writes_mag3d(folder):
    config = write_config(folder, MAGNETICS.format(inclination=65.0, strength=50000.0, extra='regional = "plane"'))
    proc, _ = run_cli(["forward", config], ranks=RANKS)
    assert proc.returncode == 0, proc.stderr
    assert "with remanence" in proc.stdout
    field, table = read_ubc_magnetics(str(folder / "tmi.mag"))
    assert field == (65.0, 7.0, 50000.0) and len(table.xyz) == 20
    assert abs(table.values["tmi"].mean()) < 1e-9 * np.abs(table.values["tmi"]).max()  # plane removed


@pytest.mark.parametrize("case", ["nan_position", "zero_strength", "inclination", "unknown_key", "missing_file",
                                  "memory"])
def test_bad_input_exits_with_code_2(folder, case):
    if case == "nan_position":
        (folder / "nan.csv").write_text("x,y,z\n0.0,0.0,5.0\n10.0,nan,5.0\n")
        config = write_config(folder, GRAVITY.format(stations="nan.csv", survey="", extra=""), "bad.toml")
        needles = ("nan.csv", "line 3", "not finite")
    elif case == "zero_strength":
        config = write_config(folder, MAGNETICS.format(inclination=60.0, strength=0.0, extra=""), "bad.toml")
        needles = ("survey.strength", "positive")
    elif case == "inclination":
        config = write_config(folder, MAGNETICS.format(inclination=95.0, strength=5e4, extra=""), "bad.toml")
        needles = ("survey.inclination", "[-90, 90]")
    elif case == "unknown_key":
        config = write_config(folder, GRAVITY.format(stations="stations.csv", survey="heigth = 1.0", extra=""),
                              "bad.toml")
        needles = ("bad.toml", "survey.heigth")
    elif case == "missing_file":
        config = write_config(folder, GRAVITY.format(stations="nowhere.csv", survey="", extra=""), "bad.toml")
        needles = ("survey.file", "nowhere.csv")
    else:
        config = write_config(folder, GRAVITY.format(stations="stations.csv", survey="",
                                                     extra="[sensitivity]\nmax_memory_gb = 1e-6"), "bad.toml")
        needles = ("GB per rank", "max_memory_gb")
    proc, seconds = run_cli(["forward", config], ranks=RANKS)
    assert_clean_failure(proc, seconds, *needles)
    assert not os.path.exists(folder / "gravity.partial.csv")
