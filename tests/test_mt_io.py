"""EDI files and the ``parjoint forward`` command for MT: round trips, surveys from EDI
files with different frequency sets, and bad input (exit code 2, one error line)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from clirun import run_cli
from parjoint.errors import InputError
from parjoint.io.edi import EdiStation, read_edi, write_edi
from parjoint.physics.mt.forward import survey_from_edi
from parjoint.physics.mt.survey import MTSurvey, apparent_resistivity, impedance_floor, standard_deviations
from test_cli import assert_clean_failure


def _station(n=6, name="S01", tipper=True, seed=0):
    rng = np.random.default_rng(seed)
    f = np.logspace(-2, 3, n)
    Z = (rng.standard_normal((n, 2, 2)) + 1j * rng.standard_normal((n, 2, 2))) * 1e-2
    T = rng.standard_normal((n, 2)) + 1j * rng.standard_normal((n, 2)) if tipper else None
    return EdiStation(name, f, Z, np.abs(Z) ** 2 * 1e-3, T=T, T_var=np.full((n, 2), 1e-4) if tipper else None,
                      lat=-33.5, lon=151.25, elevation=25.0, north=120.0, east=-40.0)


def test_edi_roundtrip(tmp_path):
    st = _station()
    st.Z[2, 0, 0] = np.nan  # a missing value travels as EMPTY
    path = str(tmp_path / "a.edi")
    write_edi(path, st)
    back = read_edi(path)
    assert back.name == "S01" and np.allclose(back.frequencies, st.frequencies, rtol=1e-7)
    assert np.isnan(back.Z[2, 0, 0])
    ok = ~np.isnan(st.Z)
    assert np.allclose(back.Z[ok], st.Z[ok], rtol=1e-6, atol=1e-12)
    assert np.allclose(back.T, st.T, rtol=1e-6) and np.allclose(back.T_var, 1e-4)
    assert np.allclose(back.Z_var[ok], st.Z_var[ok], rtol=1e-6)
    position = (back.lat, back.lon, back.elevation, back.north, back.east)
    assert position == pytest.approx((-33.5, 151.25, 25.0, 120.0, -40.0))
    text = open(path).read()
    assert ">ZXYR ROT=ZROT //6" in text and ">TXR.EXP" in text and "REFTYPE=CART" in text


def test_edi_units_and_rotation(tmp_path):
    """mV/km/nT on file, ohm in memory; data in rotated axes (ZROT) come back geographic."""
    st = _station(n=3, tipper=False)
    path = tmp_path / "r.edi"
    write_edi(str(path), st)
    text = path.read_text()
    Zf = read_edi(str(path)).Z / (4e-7 * np.pi * 1e3)  # field units
    value = float(text.split(">ZXYR ROT=ZROT //3")[1].split()[0])
    assert value == pytest.approx(Zf[0, 0, 1].real, rel=1e-6)
    # rotate the tensor by 30 degrees and declare it with ZROT
    theta = np.deg2rad(30.0)
    R = np.array([[np.cos(theta), np.sin(theta)], [-np.sin(theta), np.cos(theta)]])
    rotated = R @ st.Z @ R.T
    turned = EdiStation("S01", st.frequencies, rotated, st.Z_var)
    write_edi(str(path), turned)
    text = path.read_text().replace(">ZROT //3\n   0.0000000E+00   0.0000000E+00   0.0000000E+00",
                                    ">ZROT //3\n 30.0 30.0 30.0")
    path.write_text(text)
    assert np.allclose(read_edi(str(path)).Z, st.Z, rtol=1e-6)


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace(">ZXYI ROT=ZROT //6", ">XXXX //6"), "missing block >ZXYI"),
    (lambda t: t.replace(">ZYXR ROT=ZROT //6", ">ZYXR ROT=ZROT //5"), "announces 5 values"),
    (lambda t: t.replace("NFREQ=6", "NFREQ=7"), "NFREQ=7 but >FREQ"),
    (lambda t: t.replace(">FREQ ORDER=INC //6\n   1.0000000E-02", ">FREQ ORDER=INC //6\n  -1.0000000E-02"),
     "frequencies must be positive"),
    (lambda t: t.replace(">TYI.EXP ROT=TROT //6", ">TYQ.EXP ROT=TROT //6"), "missing block >TYI.EXP"),
    (lambda t: t.replace(">HEAD", ">HEADER"), "no >HEAD"),
])
def test_edi_errors_name_file_and_line(tmp_path, edit, message):
    path = tmp_path / "bad.edi"
    write_edi(str(path), _station())
    path.write_text(edit(path.read_text()))
    with pytest.raises(InputError, match=message) as info:
        read_edi(str(path))
    assert str(path) in str(info.value)
    if "announces" in message or "NFREQ" in message or "positive" in message:
        assert "line " in str(info.value)


def test_survey_from_edi_files_with_different_frequencies(tmp_path):
    a, b = _station(6, "A"), _station(4, "B", tipper=False, seed=1)
    b.frequencies = a.frequencies[[0, 2, 3, 5]] * (1 + 1e-9)  # the same frequencies up to rounding
    b.east = 60.0
    write_edi(str(tmp_path / "a.edi"), a)
    write_edi(str(tmp_path / "b.edi"), b)
    survey, _ = survey_from_edi([str(tmp_path / "a.edi"), str(tmp_path / "b.edi")], None)
    assert survey.n_frequencies == 6 and survey.names == ["A", "B"]
    assert survey.mask[:, 0].all()
    assert survey.mask[[0, 2, 3, 5], 1, :4].all() and not survey.mask[[1, 4], 1].any()
    assert not survey.mask[:, 1, 4:].any()
    assert np.allclose(survey.xyz[1], [60.0, 120.0, 25.0])  # mesh frame: x east, y north, z up


def test_error_floors_and_data_vector():
    """Floors are a fraction of |Z_xy Z_yx|^(1/2) for every impedance component (linearised
    for log10 rho_a and phase) and absolute for the tipper; the data vector round-trips."""
    rng = np.random.default_rng(3)
    f = np.array([0.1, 10.0])
    R = (rng.standard_normal((2, 3, 6)) + 1j * rng.standard_normal((2, 3, 6))) * 0.01
    mask = np.ones((2, 3, 6), bool)
    mask[1, 2, 4:] = False
    for kind in ("impedance", "rho_phase"):
        survey = MTSurvey(np.zeros((3, 3)), f, mask, kind=kind)
        sd = standard_deviations(survey, R, 0.05, 0.02).reshape(-1, 2)
        fi, si, ci = survey.datum_index()
        floor = 0.05 * np.sqrt(np.abs(R[fi, si, 1] * R[fi, si, 2]))
        expected = np.where(ci < 4, floor, 0.02)
        if kind == "rho_phase":
            z = (ci == 1) | (ci == 2)
            rel = floor[z] / np.abs(R[fi[z], si[z], ci[z]])
            assert np.allclose(sd[z, 0], 2 / np.log(10) * rel) and np.allclose(sd[z, 1], np.rad2deg(rel))
            assert np.allclose(sd[~z, 0], expected[~z]) and np.allclose(sd[~z, 1], expected[~z])
        else:
            assert np.allclose(sd[:, 0], expected) and np.allclose(sd[:, 1], expected)
        back = survey.from_data(survey.to_data(R))
        assert np.allclose(back[mask], R[mask]) and np.isnan(back[~mask]).all()
    rho = apparent_resistivity(np.sqrt(2j * np.pi * 1.0 * 4e-7 * np.pi * 100.0), 1.0)
    assert rho == pytest.approx(100.0) and impedance_floor(R, 0.1).shape == (2, 3)


# ------------------------------------------------------------------ the forward command
SPEC = """
[mesh]
cell_size = 60.0
max_cell_size = 2000.0
growth = 1.5
threads = 1
[core]
x = [-300.0, 300.0]
y = [-200.0, 200.0]
depth = 300.0
[padding]
horizontal = 2500.0
depth = 2500.0
[topography]
kind = "gaussian_hill"
elevation = 0.0
height = 40.0
sigma = 150.0
[air]
height = 2500.0
[stations]
line = { start = [-200.0, 0.0], end = [200.0, 0.0], count = 5 }
cell_size = 10.0
"""


@pytest.fixture(scope="module")
def cli_dir(tmp_path_factory):
    from parjoint.mesh.builder import build_mesh_from_spec

    folder = tmp_path_factory.mktemp("mtcli")
    (folder / "spec.toml").write_text(SPEC)
    build_mesh_from_spec(str(folder / "spec.toml"), str(folder / "m.msh"))
    return folder


def _config(folder, survey, name="run.toml", output="out", extra=""):
    text = f"""physics = "mt"
[mesh]
file = "m.msh"
[model]
resistivity = {{ earth = 100.0 }}
[survey]
{survey}
{extra}
[output]
edi = "{output}"
"""
    (folder / name).write_text(text)
    return str(folder / name)


LINE = 'frequencies = [0.1, 10.0]\nline = { start = [-200.0, 0.0], end = [200.0, 0.0], count = 5 }'


def test_forward_writes_edi_and_reads_them_back(cli_dir):
    proc, _ = run_cli(["forward", _config(cli_dir, LINE)], ranks=2)
    assert proc.returncode == 0, proc.stderr
    files = sorted(os.listdir(cli_dir / "out"))
    assert files == [f"MT{k:03d}.edi" for k in range(1, 6)]
    first = [read_edi(str(cli_dir / "out" / f)) for f in files]
    for st in first:
        rho = np.abs(st.Z[:, 0, 1]) ** 2 / (2 * np.pi * st.frequencies * 4e-7 * np.pi)
        assert np.all((rho > 60) & (rho < 160)), rho  # a hill over 100 ohm m
        assert np.allclose(np.angle(st.Z[:, 0, 1], deg=True), 45.0, atol=5.0)
    assert abs(first[2].elevation - 40.0) < 1e-6  # draped on the hill top
    # the EDI files as a survey (their local coordinates): the same responses, serially
    proc, _ = run_cli(["forward", _config(cli_dir, 'edi = "out/*.edi"', name="again.toml", output="again")])
    assert proc.returncode == 0, proc.stderr
    for st in first:
        back = read_edi(str(cli_dir / "again" / f"{st.name}.edi"))
        assert np.allclose(back.Z, st.Z, rtol=1e-5, atol=1e-5 * np.abs(st.Z).max())


def _bad_edi(folder, edit, name="bad.edi"):
    st = _station(3, "B1", tipper=False)
    st.frequencies = np.array([0.1, 1.0, 10.0])
    st.east, st.north = -100.0, 0.0
    write_edi(str(folder / name), st)
    path = folder / name
    path.write_text(edit(path.read_text()))
    return f'edi = "{name}"'


@pytest.mark.parametrize("case", ["missing_block", "count", "frequency", "outside", "air", "config_frequency",
                                  "no_position"])
def test_forward_bad_input(cli_dir, case):
    survey = LINE
    needles: tuple = ()
    if case == "missing_block":
        survey = _bad_edi(cli_dir, lambda t: t.replace(">ZYYR ROT=ZROT //3", ">ZYYQ //3"))
        needles = ("bad.edi", "missing block >ZYYR")
    elif case == "count":
        survey = _bad_edi(cli_dir, lambda t: t.replace("NFREQ=3", "NFREQ=4"))
        needles = ("bad.edi", "NFREQ=4 but >FREQ")
    elif case == "frequency":
        survey = _bad_edi(cli_dir, lambda t: t.replace(">FREQ ORDER=INC //3\n   1.0000000E-01",
                                                       ">FREQ ORDER=INC //3\n   0.0000000E+00"))
        needles = ("bad.edi", "line ", "frequencies must be positive")
    elif case == "outside":
        survey = _bad_edi(cli_dir, lambda t: t.replace("Y=-100.000", "Y=-9000.000"))
        needles = ("station B1", "bad.edi", "outside the mesh")
    elif case == "air":
        survey = _bad_edi(cli_dir, lambda t: t.replace("ELEV=25.000", "ELEV=300.000"))
        needles = ("station B1", "bad.edi", "in the air")
    elif case == "config_frequency":
        survey = LINE.replace("[0.1, 10.0]", "[0.1, -10.0]")
        needles = ("survey.frequencies", "positive")
    else:
        survey = _bad_edi(cli_dir, lambda t: t.replace("  REFTYPE=CART\n", ""))
        needles = ("bad.edi", "no local coordinates")
    proc, seconds = run_cli(["forward", _config(cli_dir, survey, name=f"{case}.toml", output=case)], ranks=2)
    assert_clean_failure(proc, seconds, *needles)
    assert not os.path.exists(cli_dir / case)
