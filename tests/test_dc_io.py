"""DC surveys and files: array builders, BERT and UBC formats, the forward command."""

from __future__ import annotations

import os

import numpy as np
import pytest

from clirun import run_cli
from parjoint.errors import InputError
from parjoint.io.bert import read_bert, write_bert
from parjoint.io.ubc_dc import read_ubc_dc, write_ubc_dc
from parjoint.physics.dc.survey import (Survey, dipole_dipole, grid_survey, line_electrodes, line_survey,
                                        pole_dipole, pole_pole, schlumberger, wenner)
from test_cli import assert_clean_failure


def test_array_builders():
    assert len(wenner(11)[0]) == 8 + 5 + 2  # spacings 1, 2, 3
    a, b, m, n = dipole_dipole(10, n_max=2)
    assert len(a) == 7 + 6 and (b == a - 1).all() and (n == m + 1).all() and (m == a + np.r_[[1] * 7, [2] * 6]).all()
    a, b, m, n = pole_dipole(6, n_max=2)
    assert (b == -1).all() and len(a) == 4 + 3
    assert len(pole_pole(5)[0]) == 10 and (pole_pole(5)[3] == -1).all()
    a, b, m, n = schlumberger(8)
    assert ((m - a) == (b - n)).all() and (n - m == 1).all()
    g = grid_survey([0, 40], [0, 20], 5, 3, "dipole-dipole", n_max=2)
    assert g.validate() is None and len(g.electrodes) == 15


def test_wenner_geometric_factor_is_2_pi_a():
    survey = line_survey(line_electrodes([0, 0], [90, 0], 10), "wenner")
    spacing = np.linalg.norm(survey.electrodes[survey.a] - survey.electrodes[survey.m], axis=1)
    assert np.allclose(survey.halfspace_geometric_factor(), 2 * np.pi * spacing)


def test_validation_messages():
    e = line_electrodes([0, 0], [30, 0], 4)
    assert "a = b" in Survey(e, [0], [0], [2], [3]).validate()
    assert "does not exist" in Survey(e, [0], [1], [2], [7]).validate()


def _survey():
    survey = line_survey(line_electrodes([-50, 0], [50, 0], 11), "dipole-dipole", n_max=3)
    survey.electrodes[:, 2] = np.linspace(0, 5, 11)
    return survey


def test_bert_roundtrip(tmp_path):
    survey = _survey()
    rng = np.random.default_rng(0)
    cols = {"r": rng.random(survey.n_data), "rhoa": 100 + rng.random(survey.n_data),
            "err": np.full(survey.n_data, 0.03), "ip": 0.01 * rng.random(survey.n_data)}
    path = str(tmp_path / "s.dat")
    write_bert(path, survey, cols)
    back = read_bert(path)
    for name in "abmn":
        assert np.array_equal(getattr(back, name), getattr(survey, name))
    assert np.allclose(back.electrodes, survey.electrodes)
    for name, values in cols.items():
        assert np.allclose(back.values[name], values, rtol=1e-9)


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace("# a b m n", "# a b m"), "lacks column 'n'"),
    (lambda t: t.replace("\n3 2 4 5 ", "\n3 3 4 5 "), "line 17: a = b"),
    (lambda t: t.replace("\n3 2 4 5 ", "\n3 2 4 45 "), "line 17: electrode n = 45 does not exist"),
    (lambda t: t.replace("11\n", "12\n", 1), "line 14: electrode 12: expected coordinates"),
])
def test_bert_errors_name_the_line(tmp_path, edit, message):
    path = tmp_path / "s.dat"
    write_bert(str(path), _survey(), {"rhoa": np.ones(_survey().n_data)})
    path.write_text(edit(path.read_text()))
    with pytest.raises(InputError, match=message):
        read_bert(str(path))


def test_ubc_roundtrip_and_errors(tmp_path):
    survey = line_survey(line_electrodes([-50, 0], [50, 0], 11), "pole-dipole", n_max=3)
    value = np.linspace(1, 2, survey.n_data)
    path = tmp_path / "s.obs"
    write_ubc_dc(str(path), survey, value, 0.05 * value)
    back, is_ip = read_ubc_dc(str(path))
    assert not is_ip and back.n_data == survey.n_data and (back.b == -1).all()
    # UBC groups data by source and electrodes are renumbered by position: compare as sets
    def rows(s, v):
        return sorted(tuple(np.round(np.concatenate([s.electrodes[s.a[k]], s.electrodes[s.m[k]],
                                                     s.electrodes[s.n[k]], [v[k]]]), 6)) for k in range(s.n_data))

    assert rows(back, back.values["value"]) == rows(survey, value)
    text = path.read_text().splitlines()
    text[3] = " ".join(text[3].split()[:6])
    path.write_text("\n".join(text))
    with pytest.raises(InputError, match="line 4"):
        read_ubc_dc(str(path))


# ------------------------------------------------------------------ the forward command
SPEC = """
[mesh]
cell_size = 40.0
max_cell_size = 500.0
[core]
x = [-120.0, 120.0]
y = [-60.0, 60.0]
depth = 80.0
[padding]
horizontal = 800.0
depth = 800.0
[topography]
kind = "gaussian_hill"
elevation = 0.0
height = 15.0
sigma = 60.0
[air]
height = 500.0
[stations]
line = { start = [-100.0, 0.0], end = [100.0, 0.0], count = 11 }
cell_size = 8.0
"""


@pytest.fixture(scope="module")
def air_mesh(tmp_path_factory):
    from parjoint.mesh.builder import build_mesh_from_spec

    folder = tmp_path_factory.mktemp("dccli")
    (folder / "spec.toml").write_text(SPEC)
    build_mesh_from_spec(str(folder / "spec.toml"), str(folder / "m.msh"))
    return folder


def _config(folder, survey="array = \"dipole-dipole\"\nline = { start = [-100.0, 0.0], end = [100.0, 0.0], count = 11 }",
            model="resistivity = { earth = 100.0, air = 1e8 }", physics="dc", output="out.dat"):
    text = f"""physics = "{physics}"
[mesh]
file = "m.msh"
[model]
{model}
[survey]
{survey}
[output]
data = "{output}"
"""
    (folder / "run.toml").write_text(text)
    return str(folder / "run.toml")


def test_forward_homogeneous_gives_true_rhoa(air_mesh):
    proc, _ = run_cli(["forward", _config(air_mesh)], ranks=2)
    assert proc.returncode == 0, proc.stderr
    data = read_bert(str(air_mesh / "out.dat"))
    assert np.allclose(data.values["rhoa"], 100.0, rtol=1e-6)
    assert data.electrodes[:, 2].max() > 10.0  # draped on the hill
    proc, _ = run_cli(["forward", _config(air_mesh, model="resistivity = 100.0\nchargeability = 0.05",
                                          physics="ip", output="ip.obs")])
    assert proc.returncode == 0, proc.stderr
    back, is_ip = read_ubc_dc(str(air_mesh / "ip.obs"))
    assert is_ip and np.allclose(back.values["value"], 0.05, rtol=1e-6)


def test_forward_dipole_lengths_from_config(air_mesh):
    """``spacings = 2``: dipole-dipole with dipoles of one and two electrode spacings."""
    survey = "array = \"dipole-dipole\"\nline = { start = [-100.0, 0.0], end = [100.0, 0.0], count = 11 }\n"
    proc, _ = run_cli(["forward", _config(air_mesh, survey=survey + "n_max = 3\nspacings = 2", output="s2.dat")])
    assert proc.returncode == 0, proc.stderr
    data = read_bert(str(air_mesh / "s2.dat"))
    a, b, m, n = dipole_dipole(11, n_max=3, spacings=2)
    assert len(data.a) == len(a) > len(dipole_dipole(11, n_max=3)[0])
    assert set(np.abs(data.a - data.b)) == {1, 2}  # both dipole lengths
    assert np.allclose(data.values["rhoa"], 100.0, rtol=1e-6)


def _survey_file(folder, electrodes, rows, header="# a b m n"):
    lines = [str(len(electrodes)), "# x y z"] + [" ".join(map(str, e)) for e in electrodes]
    lines += [str(len(rows)), header] + [" ".join(map(str, r)) for r in rows] + ["0"]
    (folder / "s.dat").write_text("\n".join(lines) + "\n")
    return 'file = "s.dat"'


@pytest.mark.parametrize("case", ["off_mesh", "in_air", "negative", "nan", "missing_column", "a_equals_b"])
def test_forward_bad_input(air_mesh, case):
    ok_electrodes = [(-100.0, 0.0, 0.0), (-80.0, 0.0, 0.0), (-60.0, 0.0, 0.0), (-40.0, 0.0, 0.0)]
    from parjoint.mesh.gmsh_reader import read_msh

    coords = read_msh(str(air_mesh / "m.msh")).coords
    drape = {round(x, 6): z for x, y, z in coords if abs(y) < 1e-9 and -101 < x < -39 and z < 20 and z > -1}
    ok_electrodes = [(x, y, drape[round(x, 6)]) for x, y, _ in ok_electrodes]
    kwargs, needles = {}, ()
    if case == "off_mesh":
        kwargs["survey"] = _survey_file(air_mesh, ok_electrodes[:3] + [(-35.0, 3.0, 0.5)], [(1, 2, 3, 4)])
        needles = ("electrode 4", "not a mesh node")
    elif case == "in_air":
        top = coords[np.argmax(coords[:, 2] + coords[:, 0] + coords[:, 1])]
        kwargs["survey"] = _survey_file(air_mesh, ok_electrodes[:3] + [tuple(top)], [(1, 2, 3, 4)])
        needles = ("electrode 4", "in the air")
    elif case == "negative":
        kwargs["model"] = "resistivity = { earth = -5.0, air = 1e8 }"
        needles = ("model.resistivity", "positive")
    elif case == "nan":
        kwargs["model"] = "resistivity = nan"
        needles = ("model.resistivity", "finite")
    elif case == "missing_column":
        kwargs["survey"] = _survey_file(air_mesh, ok_electrodes, [(1, 2, 3)], header="# a b m")
        needles = ("s.dat", "lacks column 'n'")
    else:
        kwargs["survey"] = _survey_file(air_mesh, ok_electrodes, [(1, 2, 3, 4), (2, 2, 3, 4)])
        needles = ("s.dat", "line 10", "a = b")
    proc, seconds = run_cli(["forward", _config(air_mesh, output=f"{case}.dat", **kwargs)], ranks=2)
    assert_clean_failure(proc, seconds, *needles)
    assert not os.path.exists(air_mesh / f"{case}.dat")
