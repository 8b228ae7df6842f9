"""The gmsh .msh 4.1 reader: binary and ASCII agree; malformed files are refused clearly."""

from __future__ import annotations

import numpy as np
import pytest

from meshgen import box_with_block, expected_volumes
from parjoint.errors import InputError
from parjoint.mesh.geometry import signed_volume6
from parjoint.mesh.gmsh_reader import read_msh


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("msh")
    binary, ascii_ = str(d / "b.msh"), str(d / "a.msh")
    box_with_block(binary, h=150.0, binary=True)
    box_with_block(ascii_, h=150.0, binary=False)
    return binary, ascii_


def test_binary_and_ascii_agree(files):
    b, a = read_msh(files[0]), read_msh(files[1])
    assert np.array_equal(b.cells, a.cells)
    assert np.allclose(b.coords, a.coords, rtol=1e-15, atol=1e-12)  # ASCII keeps 16 digits
    assert np.array_equal(b.cell_region, a.cell_region)
    assert b.region_names == a.region_names == {1: "earth", 2: "air", 3: "block"}


def test_region_volumes(files):
    m = read_msh(files[0])
    vol = np.abs(signed_volume6(m.coords, m.cells)) / 6
    for tag, name in m.region_names.items():
        assert vol[m.cell_region == tag].sum() == pytest.approx(expected_volumes()[name], rel=1e-12)
    assert len(np.unique(m.cells)) == len(m.coords)  # only nodes used by tetrahedra


@pytest.mark.parametrize("mutilate, message", [
    (lambda t: t[: len(t) // 2], "malformed|ends inside"),
    (lambda t: t.replace(b"$Elements", b"$Elemxnts"), "no \\$Elements"),
    (lambda t: t.replace(b"4.1 0 8", b"2.2 0 8"), "version 2.2"),
    (lambda t: b"hello world\n" + t, "not a gmsh"),
    (lambda t: t.replace(b"$Nodes\n", b"$Nodes\nx ", 1), "line .*: malformed"),
])
def test_malformed_files_name_file_and_line(files, tmp_path, mutilate, message):
    text = open(files[1], "rb").read()
    bad = tmp_path / "bad.msh"
    bad.write_bytes(mutilate(text))
    with pytest.raises(InputError, match=message) as err:
        read_msh(str(bad))
    assert "bad.msh" in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_msh(str(tmp_path / "none.msh"))


def test_element_pointing_at_missing_node(files, tmp_path):
    text = open(files[1], "rb").read()
    head, tail = text.split(b"$Elements\n")
    lines = tail.split(b"\n")
    # last tetrahedron line: point its first node at a tag that does not exist
    for i in range(len(lines) - 1, -1, -1):
        if len(lines[i].split()) == 5:
            parts = lines[i].split()
            parts[1] = b"99999999"
            lines[i] = b" ".join(parts)
            break
    bad = tmp_path / "dangling.msh"
    bad.write_bytes(head + b"$Elements\n" + b"\n".join(lines))
    with pytest.raises(InputError, match="node that does not exist"):
        read_msh(str(bad))
