"""Potential-field data files: CSV and UBC-GIF GRAV3D / MAG3D, round trips and bad files."""

from __future__ import annotations

import numpy as np
import pytest

from parjoint.errors import InputError
from parjoint.io.potential_csv import read_potential_csv, write_potential_csv
from parjoint.io.ubc_potential import read_ubc_gravity, read_ubc_magnetics, write_ubc_gravity, write_ubc_magnetics

RNG = np.random.default_rng(8)
XYZ = np.column_stack([RNG.uniform(-1e3, 1e3, 6), RNG.uniform(-1e3, 1e3, 6), RNG.uniform(-50, 50, 6)])
BELOW = np.array([False, True, False, False, True, False])


def test_csv_round_trip(tmp_path):
    path = str(tmp_path / "d.csv")
    values = {"gz": RNG.standard_normal(6), "gxx": RNG.standard_normal(6)}
    sd = {"gz": np.full(6, 0.01), "gxx": np.full(6, 2.0)}
    write_potential_csv(path, XYZ, values, sd, {"gz": "mGal", "gxx": "Eotvos"}, BELOW, "test data")
    text = open(path).read()
    assert "# gz: mGal" in text and "z down" in text and "x,y,z,gz,gz_uncertainty,gxx" in text
    table = read_potential_csv(path)
    assert np.array_equal(table.xyz, XYZ)
    assert np.array_equal(table.values["gz"], values["gz"]) and np.array_equal(table.uncertainties["gxx"], sd["gxx"])
    rows = [line for line in text.splitlines() if not line.startswith("#")][1:]
    assert [bool(int(row.split(",")[-1])) for row in rows] == BELOW.tolist()


def test_csv_without_header(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("# stations\n1.0, 2.0, 3.0, 0.5\n4.0,5.0,6.0,0.25\n")
    table = read_potential_csv(str(path))
    assert table.xyz.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]] and table.values["value"].tolist() == [0.5, 0.25]


@pytest.mark.parametrize("text, needle", [
    ("x,y,z\n1,2,3\n4,nan,6\n", "line 3"),
    ("x,y,z\n1,2,3\n4,5\n", "line 3"),
    ("x,y,elevation\n1,2,3\n", "'z'"),
    ("# nothing\n", "no stations"),
])
def test_bad_csv(tmp_path, text, needle):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=needle):
        read_potential_csv(str(path))


def test_ubc_gravity_round_trip(tmp_path):
    path = str(tmp_path / "g.grv")
    gz, sd = RNG.standard_normal(6), np.full(6, 0.02)
    write_ubc_gravity(path, XYZ, gz, sd, BELOW)
    text = open(path).read()
    assert "! 2 station(s) below the topography" in text and "mGal" in text
    table = read_ubc_gravity(path)
    assert np.array_equal(table.xyz, XYZ) and np.array_equal(table.values["gz"], gz)
    assert np.array_equal(table.uncertainties["gz"], sd)
    write_ubc_gravity(path, XYZ, None)  # a survey (locations) file
    assert read_ubc_gravity(path).values == {}


def test_ubc_magnetics_round_trip(tmp_path):
    path = str(tmp_path / "m.mag")
    tmi = RNG.standard_normal(6)
    write_ubc_magnetics(path, (65.0, -12.5, 52000.0), XYZ, tmi, None, BELOW)
    field, table = read_ubc_magnetics(path)
    assert field == (65.0, -12.5, 52000.0)
    assert np.array_equal(table.xyz, XYZ) and np.array_equal(table.values["tmi"], tmi)


@pytest.mark.parametrize("text, needle", [
    ("3\n0 0 1\n1 1 1\n", "announces 3 data"),
    ("2\n0 0 1 0.5 0.1\n1 1 1 0.2 0\n", "uncertainty must be positive"),
    ("2\n0 0 1\n1 x 1\n", "line 3"),
    ("two\n0 0 1\n", "number of data"),
])
def test_bad_ubc_gravity(tmp_path, text, needle):
    path = tmp_path / "bad.grv"
    path.write_text(text)
    with pytest.raises(InputError, match=needle):
        read_ubc_gravity(str(path))


def test_ubc_magnetics_other_projections_refused(tmp_path):
    path = tmp_path / "m.mag"
    path.write_text("60 10 50000\n90 0 0\n1\n0 0 1 5.0\n")
    with pytest.raises(InputError, match="idir = 1"):
        read_ubc_magnetics(str(path))
