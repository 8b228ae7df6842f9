"""3-D MT responses: a conductive block (symmetries, convergence under refinement) and
a ridge over a homogeneous earth (the galvanic topographic distortion pattern).

Block: 10 ohm m, [-100, 100]^2 x [-250, -50] m, in 100 ohm m, 10 Hz, stations on a
3 x 3 grid of spacing 150 m.  By the mirror symmetries of the model, the diagonal
impedances vanish on the x and y axes, Z_xx = -Z_yy on the diagonals x = +-y, and the
tipper component across an axis is antisymmetric about it.  An unstructured mesh is
not symmetric, so these hold to the discretization error, which shrinks under
refinement (``meshes/mt_block.toml`` with every size, and growth - 1, divided by 1.5,
2.25 and 3.375: 16k, 53k and 173k cells; gmsh runs on one thread, so the meshes are
the same every run).  Measured on the finest: |Z_xx + Z_yy| 1.7% of |Z_xx| (which is
15% of |Z_xy|) on the diagonals, diagonal impedances 0.3% of |Z_xy| on the axes, the
tipper antisymmetric to 1%; the largest change of Z between levels 3.9% then 1.1% of
|Z_xy| (coarser meshes are pre-asymptotic: from the 5k-cell level the change is 5%).

Ridge: 150 m high, striking north, 100 m flat top, 700 m base, over 100 ohm m, 1 Hz
(skin depth 5 km, the galvanic regime).  Known pattern (Wannamaker, Stodt & Rijo
1986, *Geophysics* 51, 2131): the TM mode (E across strike) apparent resistivity is
depressed on the crest and enhanced at the foot of the slopes, with almost no phase
change (a static shift); the TE mode is nearly undistorted at low frequency.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from parjoint.mesh import load_mesh
from parjoint.mesh.builder import build_mesh_from_spec
from parjoint.mesh.surface import surface_elevation
from parjoint.physics.mt.simulation import MTSimulation
from parjoint.physics.mt.survey import MTSurvey, apparent_resistivity, phase

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GRID = np.array([[x, y] for y in (-150.0, 0.0, 150.0) for x in (-150.0, 0.0, 150.0)])  # row-major, south first
AXES, DIAGONALS = [1, 3, 5, 7], [0, 2, 6, 8]


def _scaled_spec(source: str, scale: float) -> str:
    """The block spec with every size divided by ``scale`` (growth - 1 too)."""
    text = open(source).read()
    out = []
    for line in text.splitlines():
        key = line.split("=")[0].strip()
        if key in ("cell_size", "max_cell_size"):
            value = float(line.split("=")[1].split("#")[0])
            line = f"{key} = {value / scale:.3f}"
        elif key == "growth":
            value = float(line.split("=")[1].split("#")[0])
            line = f"growth = {1 + (value - 1) / scale:.4f}"
        out.append(line)
    return "\n".join(out) + "\n"


def _responses(path: str, frequency: float, xy: np.ndarray, block: bool) -> np.ndarray:
    mesh = load_mesh(path)
    xyz = np.column_stack([xy, surface_elevation(mesh, xy)])
    survey = MTSurvey(xyz, [frequency], np.ones((1, len(xy), 6), bool))
    m = np.full(mesh.n_cells, -np.log(100.0))
    if block:
        m[mesh.cell_region == mesh.region_tag("block")] = -np.log(10.0)
    sim = MTSimulation(mesh, survey, m)
    R = sim.responses(m)[0]
    sim.destroy()
    return R


@pytest.fixture(scope="module")
def block_levels(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mtblock")
    out = []
    for level, scale in enumerate((1.5, 2.25, 3.375)):
        spec = folder / f"block{level}.toml"
        spec.write_text(_scaled_spec(os.path.join(REPO, "meshes", "mt_block.toml"), scale))
        build_mesh_from_spec(str(spec), str(folder / f"block{level}.msh"))
        out.append(_responses(str(folder / f"block{level}.msh"), 10.0, GRID, block=True))
    return out


def test_block_symmetries(block_levels):
    R = block_levels[-1]
    zxy = np.abs(R[:, 1]).max()
    zxx, zyy = R[DIAGONALS, 0], R[DIAGONALS, 3]
    assert np.abs(zxx).min() > 0.05 * zxy  # the block makes a real diagonal impedance off the axes ...
    assert np.abs(zxx + zyy).max() < 0.1 * np.abs(zxx).min()  # ... with Z_xx = -Z_yy on the diagonals
    assert np.abs(R[AXES][:, [0, 3]]).max() < 0.02 * zxy  # and none on the axes
    # tipper across each axis antisymmetric: T_zx (north) at south/north, T_zy (east) at west/east
    for component, (a, b) in ((4, (1, 7)), (5, (3, 5))):
        assert abs(R[a, component]) > 0.01
        assert abs(R[a, component] + R[b, component]) < 0.15 * abs(R[a, component] - R[b, component]) / 2


def test_block_converges_under_refinement(block_levels):
    r0, r1, r2 = block_levels
    scale = np.abs(r2[:, 1]).max()
    d01 = np.abs(r0[:, :4] - r1[:, :4]).max() / scale
    d12 = np.abs(r1[:, :4] - r2[:, :4]).max() / scale
    assert d12 < 0.6 * d01 and d12 < 0.03, (d01, d12)
    # the block's signal is far above the discretization differences
    background = _background(10.0)
    assert np.abs(r2[4, 1] - background) > 10 * d12 * scale


def _background(frequency: float) -> complex:
    omega = 2 * np.pi * frequency
    return np.sqrt(1j * omega * 4e-7 * np.pi * 100.0)


def test_ridge_galvanic_pattern(tmp_path):
    build_mesh_from_spec(os.path.join(REPO, "meshes", "mt_ridge.toml"), str(tmp_path / "ridge.msh"))
    x = np.array([-550.0, -350.0, 0.0, 350.0, 550.0])
    R = _responses(str(tmp_path / "ridge.msh"), 1.0, np.column_stack([x, np.zeros_like(x)]), block=False)
    te_rho, te_phase = apparent_resistivity(R[:, 1], 1.0), phase(R[:, 1])
    tm_rho, tm_phase = apparent_resistivity(R[:, 2], 1.0), phase(-R[:, 2])  # E across the strike
    far, foot, crest = [0, 4], [1, 3], 2
    assert tm_rho[crest] < 50.0  # depressed on the crest (measured 23)
    assert tm_rho[foot].min() > 150.0  # enhanced where the slopes meet the plain (measured 231)
    assert np.abs(tm_rho[far] / 100.0 - 1).max() < 0.2  # and fading away from the ridge
    assert np.abs(tm_rho[0] / tm_rho[4] - 1) < 0.1  # symmetric about the crest
    assert np.abs(tm_phase - 45.0).max() < 3.0  # a static shift: the phase barely moves
    assert np.abs(te_rho / 100.0 - 1).max() < 0.1 and np.abs(te_phase - 45.0).max() < 3.0  # TE nearly undistorted
    assert R[0, 5].real * R[4, 5].real < 0  # tipper reverses across the crest
