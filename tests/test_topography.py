"""Topographic surfaces and DEM readers (parjoint.mesh.topography)."""

from __future__ import annotations

import numpy as np
import pytest

from parjoint.errors import InputError
from parjoint.mesh.topography import Dem, Flat, GaussianHill, Ridge, read_columns, read_dem

# A 6 x 4 grid, 50 m spacing, south-west node at (100, -50).
X = 100.0 + 50.0 * np.arange(6)
Y = -50.0 + 50.0 * np.arange(4)


def plane(x, y):
    return 250.0 + 0.3 * x - 0.2 * y


def write_xyz(path, x=X, y=Y, f=plane, header="x, y, z"):
    gx, gy = np.meshgrid(x, y)  # rows of constant y: x varies fastest when raveled
    lines = ["# test DEM (metres)", header] + [f"{a!r}, {b!r}, {c!r}" for a, b, c in
                                                zip(gx.ravel(), gy.ravel(), f(gx, gy).ravel())]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_asc(path, x=X, y=Y, f=plane, corner=True, nodata=None):
    gx, gy = np.meshgrid(x, y[::-1])  # first row is the northernmost
    cell = x[1] - x[0]
    xll, yll = (x[0] - cell / 2, y[0] - cell / 2) if corner else (x[0], y[0])
    kind = "corner" if corner else "center"
    head = [f"ncols {len(x)}", f"nrows {len(y)}", f"xll{kind} {xll!r}", f"yll{kind} {yll!r}", f"cellsize {cell!r}"]
    if nodata is not None:
        head.append(f"NODATA_value {nodata}")
    rows = [" ".join(repr(v) for v in row) for row in f(gx, gy)]
    path.write_text("\n".join(head + rows) + "\n")
    return path


def test_dem_reproduces_a_plane_exactly(tmp_path):
    dem = read_dem(str(write_xyz(tmp_path / "plane.xyz")))
    rng = np.random.default_rng(1)
    x = rng.uniform(X[0], X[-1], 1000)
    y = rng.uniform(Y[0], Y[-1], 1000)
    assert np.abs(dem(x, y) - plane(x, y)).max() < 1e-9
    # on the nodes and the far edge (the last cell is used for the last node)
    gx, gy = np.meshgrid(X, Y)
    assert np.abs(dem(gx, gy) - plane(gx, gy)).max() < 1e-9


def test_dem_outside_takes_the_nearest_edge_value(tmp_path):
    dem = read_dem(str(write_xyz(tmp_path / "plane.xyz")))
    x = np.array([0.0, 1000.0, 200.0, -500.0])
    y = np.array([0.0, 20.0, 5000.0, -500.0])
    clamped = plane(np.clip(x, X[0], X[-1]), np.clip(y, Y[0], Y[-1]))
    assert np.abs(dem(x, y) - clamped).max() < 1e-9
    assert list(dem.contains(x, y)) == [False, False, False, False]
    assert list(dem.contains([X[0], X[-1], 200.0], [Y[0], Y[-1], 0.0])) == [True, True, True]


def test_dem_interpolates_a_smooth_surface_within_the_bilinear_bound(tmp_path):
    hill = GaussianHill(elevation=0.0, height=80.0, center=(230.0, 40.0), sigma=120.0)
    h = 10.0
    x = np.arange(0.0, 500.0 + h / 2, h)
    y = np.arange(-200.0, 300.0 + h / 2, h)
    dem = read_dem(str(write_xyz(tmp_path / "hill.xyz", x, y, hill)))
    rng = np.random.default_rng(2)
    px, py = rng.uniform(0, 500, 20000), rng.uniform(-200, 300, 20000)
    error = np.abs(dem(px, py) - hill(px, py)).max()
    # Bilinear interpolation error <= h^2/8 (max|z_xx| + max|z_yy|); |z_xx| <= height / sigma^2.
    bound = h ** 2 / 8 * 2 * hill.height / hill.sigma ** 2
    assert 0.1 * bound < error < bound


def test_asc_and_xyz_readers_agree(tmp_path):
    def surface(x, y):  # not symmetric in y, so a flipped row order would show
        return 100.0 + np.sin(x / 70.0) * np.cos(y / 40.0) + 0.01 * y

    xyz = read_dem(str(write_xyz(tmp_path / "d.xyz", f=surface)))
    rng = np.random.default_rng(3)
    px, py = rng.uniform(0, 500, 500), rng.uniform(-150, 250, 500)
    for corner in (True, False):
        asc = read_dem(str(write_asc(tmp_path / f"d{corner}.asc", f=surface, corner=corner, nodata=-9999)))
        assert (asc.x0, asc.y0, asc.dx, asc.dy) == pytest.approx((xyz.x0, xyz.y0, xyz.dx, xyz.dy), abs=1e-12)
        assert np.abs(asc(px, py) - xyz(px, py)).max() < 1e-9


def xyz_lines(path):
    return path.read_text().splitlines()


@pytest.mark.parametrize("damage, line", [
    # (what to do to the lines of a good file, the 1-based line the error must name)
    (lambda L: L[:9] + [L[9].replace(L[9].split(", ")[2], "nan")] + L[10:], 10),
    (lambda L: L[:4] + [L[5], L[4]] + L[6:], 5),  # two points of the first row swapped
    (lambda L: L[:13] + [L[12]] + L[13:], 14),  # a duplicated line
    (lambda L: L[:14] + L[20:], 15),  # the third row (lines 15-20) missing
    (lambda L: L[:16] + L[17:], 17),  # one point missing inside the third row
    (lambda L: L[:-1], 25),  # the last point missing: incomplete last row
])
def test_bad_xyz_dem_names_file_and_line(tmp_path, damage, line):
    # lines 1-2 are a comment and the header; the grid rows are lines 3-8, 9-14, 15-20, 21-26
    good = write_xyz(tmp_path / "good.xyz")
    bad = tmp_path / "bad.xyz"
    bad.write_text("\n".join(damage(xyz_lines(good))) + "\n")
    with pytest.raises(InputError, match=rf"bad\.xyz: line {line}:"):
        read_dem(str(bad))


def test_y_fastest_order_is_rejected(tmp_path):
    gx, gy = np.meshgrid(X, Y, indexing="ij")  # y varies fastest
    path = tmp_path / "yfast.xyz"
    path.write_text("\n".join(f"{a} {b} {plane(a, b)}" for a, b in zip(gx.ravel(), gy.ravel())))
    with pytest.raises(InputError, match=r"yfast\.xyz: line 2: .*x increasing fastest"):
        read_dem(str(path))


@pytest.mark.parametrize("value, message", [("-9999", "NODATA"), ("nan", "NaN")])
def test_bad_asc_dem_names_file_and_line(tmp_path, value, message):
    path = write_asc(tmp_path / "bad.asc", nodata=-9999)
    lines = path.read_text().splitlines()
    words = lines[7].split()  # header is lines 1-6; line 8 is the second (from the north) grid row
    lines[7] = " ".join(words[:2] + [value] + words[3:])
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=rf"bad\.asc: line 8: .*{message}"):
        read_dem(str(path))


def test_asc_with_a_short_row_is_rejected(tmp_path):
    path = write_asc(tmp_path / "short.asc")
    lines = path.read_text().splitlines()
    lines[6] = " ".join(lines[6].split()[:-1])
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"short\.asc: line 7: expected 6 numbers"):
        read_dem(str(path))


def test_read_columns_skips_comments_and_header(tmp_path):
    path = tmp_path / "stations.csv"
    path.write_text("# stations\nx,y\n\n1.5, 2\n3 4  # the second\n")
    values, lines = read_columns(str(path), 2, "x y")
    assert values.tolist() == [[1.5, 2.0], [3.0, 4.0]]
    assert lines.tolist() == [4, 5]
    path.write_text("x,y\n1 2\n3 four\n")
    with pytest.raises(InputError, match=r"stations\.csv: line 3: expected 2 numbers"):
        read_columns(str(path), 2, "x y")


def test_ridge_follows_its_strike_convention():
    # strike 90: the axis runs east-west through (0, 100)
    ridge = Ridge(elevation=10.0, height=50.0, center=(0.0, 100.0), strike=90.0, top_width=100.0, base_width=300.0)
    assert ridge(np.array([-1e4, 0.0, 1e4]), 100.0) == pytest.approx([60.0, 60.0, 60.0])
    assert ridge(0.0, 100.0 + np.array([50.0, 100.0, 150.0, 400.0])) == pytest.approx([60.0, 35.0, 10.0, 10.0])
    # strike 30: moving along (sin 30, cos 30) stays on the crest; across it, the flank
    ridge = Ridge(elevation=0.0, height=50.0, center=(0.0, 0.0), strike=30.0, top_width=0.0, base_width=200.0)
    along = np.array([np.sin(np.radians(30)), np.cos(np.radians(30))])
    across = np.array([np.cos(np.radians(30)), -np.sin(np.radians(30))])
    assert ridge(*(500 * along)) == pytest.approx(50.0)
    assert ridge(*(50 * across)) == pytest.approx(25.0)


def test_extremes_are_exact_for_a_dem():
    rng = np.random.default_rng(4)
    dem = Dem(x0=0.0, y0=0.0, dx=10.0, dy=20.0, z=rng.normal(size=(30, 40)))
    low, high = dem.extremes((-100.0, 1000.0), (-50.0, 1000.0), spacing=500.0)  # covers the grid
    assert (low, high) == (dem.z.min(), dem.z.max())
    # a rectangle cutting through cells: compare with a much denser sampling
    x, y = np.meshgrid(np.linspace(33.0, 257.0, 901), np.linspace(41.0, 333.0, 901))
    dense = dem(x, y)
    low, high = dem.extremes((33.0, 257.0), (41.0, 333.0), spacing=1000.0)
    assert low <= dense.min() and high >= dense.max()  # never misses an extreme ...
    assert dense.min() - low < 0.1 and high - dense.max() < 0.1  # ... and finds real ones


def test_analytic_surfaces_broadcast():
    hill = GaussianHill(elevation=5.0, height=80.0, center=(10.0, -20.0), sigma=250.0)
    assert hill(10.0, -20.0) == pytest.approx(85.0)
    assert hill(np.zeros((3, 1)), np.zeros((1, 4))).shape == (3, 4)
    assert Flat(7.0)(np.zeros((2, 1)), np.zeros(5)).shape == (2, 5)
    assert hill.extremes((-1000.0, 1000.0), (-1000.0, 1000.0), 50.0)[1] == pytest.approx(85.0)
