"""Topographic surfaces z(x, y) for the mesh builder.

Coordinates and elevations are in metres (x east, y north, z up).  Every surface is
a callable ``surface(x, y) -> z`` that broadcasts over numpy arrays, and has
``contains(x, y)`` (where the surface is defined by data rather than extrapolated)
and ``extremes(x_range, y_range, spacing)`` (lowest and highest z over a rectangle).

Surfaces (the ``kind`` of the ``[topography]`` table of a mesh spec):

``flat``
    :class:`Flat`: z = elevation.
``gaussian_hill``
    :class:`GaussianHill`: z = elevation + height exp(-r^2 / (2 sigma^2)), r the
    horizontal distance from ``center``.  A negative height makes a basin.
``ridge``
    :class:`Ridge`: a straight ridge of infinite length with a trapezoidal cross
    section: flat top ``top_width`` wide, ``height`` above ``elevation``, linear
    flanks reaching ``elevation`` at ``base_width``.  Its axis passes through
    ``center`` along ``strike``, in degrees clockwise from north (the +y axis):
    0 runs north-south, 90 east-west.
``dem``
    :class:`Dem`, read by :func:`read_dem` from one of two formats:

    (a) text columns ``x y z`` separated by whitespace or commas (any other
        extension than ``.asc``).  ``#`` starts a comment; the first data line may
        be a non-numeric header such as ``x,y,z``.  The points must form a complete
        regular grid (uniform spacing in x and in y, at least 2 x 2) listed with x
        increasing fastest, then y increasing: all points of the southernmost row
        west to east, then the next row north, and so on.
    (b) ESRI ASCII grid (extension ``.asc``): header lines ``ncols``, ``nrows``,
        ``xllcorner`` or ``xllcenter``, ``yllcorner`` or ``yllcenter``,
        ``cellsize`` and optionally ``NODATA_value`` (keys case-insensitive), then
        ``nrows`` lines of ``ncols`` values, the first line being the northernmost
        row.  Values belong to cell centres, which are the grid nodes here: with
        ``xllcorner`` the first node is at xllcorner + cellsize / 2.

    Missing values (NaN, infinity, or the NODATA value) are errors naming the file
    and line: a mesh needs an elevation everywhere.

    Between grid nodes a DEM is interpolated bilinearly.  Outside the grid (the
    padding of a mesh usually extends beyond the DEM) it takes the value at the
    nearest point of the grid edge, i.e. x and y are clamped to the grid extent.
    :meth:`Dem.contains` tells whether points lie inside the extent of the grid
    nodes.
"""

from __future__ import annotations

import math
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError

# Cap on samples per axis when searching a rectangle for its extremes (memory and time).
_MAX_SAMPLES = 1025


class Surface(ABC):
    """Base class: a surface z(x, y) in metres defined over the whole plane."""

    @abstractmethod
    def __call__(self, x, y) -> np.ndarray:
        """Elevation (m) at the points (x, y) (m), broadcast together."""

    def contains(self, x, y) -> np.ndarray:
        """Boolean array: True where (x, y) lies where the surface is given (everywhere here)."""
        return np.ones(np.broadcast(np.asarray(x), np.asarray(y)).shape, bool)

    def knots(self) -> tuple[np.ndarray, np.ndarray]:
        """x and y coordinates of grid lines on which the surface has its kinks or peaks.

        :meth:`extremes` always samples these lines, so it is exact for a surface
        that is bilinear between them (a DEM) or whose peak lies on them (a hill).
        """
        return np.zeros(0), np.zeros(0)

    def extremes(self, x_range, y_range, spacing: float) -> tuple[float, float]:
        """(lowest, highest) z over the rectangle x_range x y_range (metres).

        The surface is sampled on a tensor grid with at most ``spacing`` between
        samples (and at most 1025 samples per axis) plus the :meth:`knots` lines
        inside the rectangle.  Exact for flat surfaces and DEMs; for the analytic
        shapes the error is below the slope times the sample spacing.
        """
        kx, ky = self.knots()
        xs = _samples(x_range, spacing, kx)
        ys = _samples(y_range, spacing, ky)
        z = self(xs[None, :], ys[:, None])
        return float(z.min()), float(z.max())


def _samples(bounds, spacing: float, knots: np.ndarray) -> np.ndarray:
    lo, hi = bounds
    n = min(math.ceil((hi - lo) / spacing), _MAX_SAMPLES - 1) + 1
    inside = knots[(knots > lo) & (knots < hi)]
    return np.unique(np.concatenate([np.linspace(lo, hi, n), inside]))


@dataclass(frozen=True)
class Flat(Surface):
    """z = elevation (m)."""

    elevation: float = 0.0

    def __call__(self, x, y) -> np.ndarray:
        return np.full(np.broadcast(np.asarray(x), np.asarray(y)).shape, self.elevation)


@dataclass(frozen=True)
class GaussianHill(Surface):
    """z = elevation + height exp(-|(x, y) - center|^2 / (2 sigma^2)); metres."""

    elevation: float
    height: float
    center: tuple[float, float]
    sigma: float

    def __call__(self, x, y) -> np.ndarray:
        r2 = (np.asarray(x) - self.center[0]) ** 2 + (np.asarray(y) - self.center[1]) ** 2
        return self.elevation + self.height * np.exp(-r2 / (2.0 * self.sigma ** 2))

    def knots(self):
        return np.array([self.center[0]]), np.array([self.center[1]])


@dataclass(frozen=True)
class Ridge(Surface):
    """A straight ridge with a trapezoidal cross section (metres; strike in degrees).

    The axis passes through ``center`` with azimuth ``strike`` (clockwise from
    north, i.e. from +y).  At horizontal distance d from the axis
    z = elevation + height * clip((base_width/2 - d) / ((base_width - top_width)/2), 0, 1).
    """

    elevation: float
    height: float
    center: tuple[float, float]
    strike: float
    top_width: float
    base_width: float

    def __call__(self, x, y) -> np.ndarray:
        angle = math.radians(self.strike)
        # distance from the axis, whose direction is (sin strike, cos strike)
        d = np.abs((np.asarray(x) - self.center[0]) * math.cos(angle)
                   - (np.asarray(y) - self.center[1]) * math.sin(angle))
        flank = 0.5 * (self.base_width - self.top_width)
        return self.elevation + self.height * np.clip((0.5 * self.base_width - d) / flank, 0.0, 1.0)


@dataclass(frozen=True, eq=False)
class Dem(Surface):
    """A regular grid of elevations, bilinear between nodes, clamped outside (metres).

    Node (i, j) is at (x0 + i dx, y0 + j dy) with elevation ``z[j, i]``.
    """

    x0: float
    y0: float
    dx: float
    dy: float
    z: np.ndarray = field(repr=False)  #: (ny, nx) elevations, row 0 southernmost
    source: str = ""  #: file the grid was read from (for messages)

    @property
    def x1(self) -> float:
        return self.x0 + (self.z.shape[1] - 1) * self.dx

    @property
    def y1(self) -> float:
        return self.y0 + (self.z.shape[0] - 1) * self.dy

    def __call__(self, x, y) -> np.ndarray:
        ny, nx = self.z.shape
        # Clamping to the grid gives the value of the nearest grid-edge point outside it.
        u = np.clip((np.asarray(x, float) - self.x0) / self.dx, 0.0, nx - 1)
        v = np.clip((np.asarray(y, float) - self.y0) / self.dy, 0.0, ny - 1)
        u, v = np.broadcast_arrays(u, v)
        i = np.minimum(u.astype(np.int64), nx - 2)  # cell index; the last node uses the last cell
        j = np.minimum(v.astype(np.int64), ny - 2)
        s, t = u - i, v - j
        z = self.z
        return ((1 - s) * (1 - t) * z[j, i] + s * (1 - t) * z[j, i + 1]
                + (1 - s) * t * z[j + 1, i] + s * t * z[j + 1, i + 1])

    def contains(self, x, y) -> np.ndarray:
        x, y = np.asarray(x), np.asarray(y)
        return (x >= self.x0) & (x <= self.x1) & (y >= self.y0) & (y <= self.y1)

    def knots(self):
        return self.x0 + self.dx * np.arange(self.z.shape[1]), self.y0 + self.dy * np.arange(self.z.shape[0])

    def extent(self) -> str:
        """The node extent as text, for messages."""
        return f"x [{self.x0:g}, {self.x1:g}] m, y [{self.y0:g}, {self.y1:g}] m"


# -- reading -------------------------------------------------------------------------

def read_dem(path: str) -> Dem:
    """Read a DEM (``.asc`` ESRI ASCII grid, otherwise ``x y z`` columns); see the module doc."""
    if path.lower().endswith(".asc"):
        return _read_esri_ascii(path)
    return _read_xyz_grid(path)


def read_columns(path: str, ncols: int, names: str) -> tuple[np.ndarray, np.ndarray]:
    """Read a table of ``ncols`` numbers per line (whitespace or commas).

    ``#`` starts a comment, blank lines are skipped and the first data line may be a
    non-numeric header.  Returns the (n, ncols) values and the 1-based line number
    of each row.  Errors name the file and line; ``names`` (e.g. ``"x y z"``)
    describes the expected columns.
    """
    rows = list(_content_lines(path))
    if rows and not _numeric(rows[0][1]):
        rows = rows[1:]  # a header such as "x, y, z"
    if not rows:
        raise InputError(f"{path}: no data (expected columns {names})")
    for number, words in rows:
        if len(words) != ncols or not _numeric(words):
            raise InputError(f"{path}: line {number}: expected {ncols} numbers ({names}), got {' '.join(words)!r}")
    values = np.array([words for _, words in rows], dtype=float)
    lines = np.array([number for number, _ in rows], dtype=np.int64)
    _require_finite(path, values, lines)
    return values, lines


def _content_lines(path: str):
    """(line number, words) of each non-blank line, comments removed, commas as separators."""
    text = _read_text(path)
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split("#", 1)[0].replace(",", " ").split()
        if words:
            yield number, words


def _read_text(path: str) -> str:
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text (UTF-8) file") from None


def _numeric(words: list[str]) -> bool:
    try:
        for word in words:
            float(word)
    except ValueError:
        return False
    return True


def _require_finite(path: str, values: np.ndarray, lines: np.ndarray) -> None:
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        raise InputError(f"{path}: line {lines[bad.argmax()]}: missing value (NaN or infinity); "
                         "the mesh needs an elevation everywhere")


def _read_xyz_grid(path: str) -> Dem:
    xyz, lines = read_columns(path, 3, "x y z")
    x, y = xyz[:, 0], xyz[:, 1]
    _reject_duplicates(path, x, y, lines)
    if len(x) < 4 or y[1] != y[0]:
        raise InputError(f"{path}: line {lines[min(1, len(x) - 1)]}: a DEM needs a grid of at least 2 x 2 points, "
                         "listed with x increasing fastest")
    nx = int(np.argmax(y != y[0])) if (y != y[0]).any() else len(x)
    xs = x[:nx]
    ys = y[::nx]
    dx = _uniform_spacing(path, xs, lines[:nx], "x")
    dy = _uniform_spacing(path, ys, lines[::nx], "y")
    # Expected position of row k: x = xs[k % nx], y = ys[k // nx].
    k = np.arange(len(x))
    wrong = (x != xs[k % nx]) | (y != ys[k // nx])
    if wrong.any():
        first = int(wrong.argmax())
        raise InputError(
            f"{path}: line {lines[first]}: point ({x[first]:g}, {y[first]:g}) breaks the grid; expected "
            f"({xs[first % nx]:g}, {ys[first // nx]:g}) (rows of {nx} points with x increasing, rows in increasing y)")
    if len(x) % nx:
        raise InputError(f"{path}: line {lines[-1]}: incomplete grid: the last row has {len(x) % nx} of {nx} points")
    return Dem(x0=float(xs[0]), y0=float(ys[0]), dx=dx, dy=dy, z=xyz[:, 2].reshape(len(ys), nx), source=path)


def _reject_duplicates(path: str, x, y, lines) -> None:
    order = np.lexsort((y, x))
    same = (np.diff(x[order]) == 0) & (np.diff(y[order]) == 0)
    if same.any():
        # report the later of each duplicated pair, and the earliest such line
        pairs = np.sort(np.stack([order[:-1][same], order[1:][same]], axis=1), axis=1)
        first, later = pairs[np.argmin(pairs[:, 1])]
        raise InputError(f"{path}: line {lines[later]}: duplicate point ({x[later]:g}, {y[later]:g}), "
                         f"also on line {lines[first]}")


def _uniform_spacing(path: str, values: np.ndarray, lines: np.ndarray, axis: str) -> float:
    """The constant increment of ``values``; an error names the first line that breaks it."""
    if len(values) < 2:
        raise InputError(f"{path}: line {lines[0]}: a DEM needs at least 2 distinct {axis} values")
    step = np.diff(values)
    if step[0] <= 0:
        raise InputError(f"{path}: line {lines[1]}: {axis} must increase along the grid "
                         f"({values[1]:g} after {values[0]:g})")
    # tolerance for decimal rounding in the text file
    wrong = np.abs(step - step[0]) > 1e-6 * step[0]
    if wrong.any():
        bad = int(wrong.argmax()) + 1
        raise InputError(f"{path}: line {lines[bad]}: {axis} = {values[bad]:g} after {values[bad - 1]:g} breaks the "
                         f"uniform {axis} spacing {step[0]:g} (unsorted, missing or irregular grid)")
    return float((values[-1] - values[0]) / (len(values) - 1))


def _read_esri_ascii(path: str) -> Dem:
    lines = list(_content_lines(path))
    header: dict[str, float] = {}
    while lines and not _numeric(lines[0][1][:1]):
        number, words = lines.pop(0)
        if len(words) != 2 or not _numeric(words[1:]):
            raise InputError(f"{path}: line {number}: expected a header line 'key value', got {' '.join(words)!r}")
        header[words[0].lower()] = float(words[1])
    missing = [key for key in ("ncols", "nrows", "cellsize", "xll", "yll")
               if not {key, f"{key}corner", f"{key}center"} & header.keys()]
    if missing:
        raise InputError(f"{path}: ESRI ASCII grid header lacks {', '.join(missing)} "
                         "(xll/yll: xllcorner or xllcenter, yllcorner or yllcenter)")
    ncols, nrows, cell = int(header["ncols"]), int(header["nrows"]), header["cellsize"]
    if ncols < 2 or nrows < 2 or cell <= 0:
        raise InputError(f"{path}: ESRI ASCII grid needs ncols, nrows >= 2 and cellsize > 0")
    if len(lines) != nrows:
        where = lines[nrows][0] if len(lines) > nrows else (lines[-1][0] if lines else "end")
        raise InputError(f"{path}: line {where}: expected {nrows} rows of values, found {len(lines)}")
    for number, words in lines:
        if len(words) != ncols or not _numeric(words):
            raise InputError(f"{path}: line {number}: expected {ncols} numbers, got {len(words)} values")
    rows = np.array([words for _, words in lines], dtype=float)
    numbers = np.array([number for number, _ in lines])
    _require_finite(path, rows, numbers)
    if "nodata_value" in header:
        nodata = (rows == header["nodata_value"]).any(axis=1)
        if nodata.any():
            raise InputError(f"{path}: line {numbers[nodata.argmax()]}: NODATA value "
                             f"{header['nodata_value']:g}; the mesh needs an elevation everywhere")
    half = 0.5 * cell  # corner registration: the first cell centre is half a cell inside
    x0 = header["xllcenter"] if "xllcenter" in header else header["xllcorner"] + half
    y0 = header["yllcenter"] if "yllcenter" in header else header["yllcorner"] + half
    return Dem(x0=x0, y0=y0, dx=cell, dy=cell, z=rows[::-1].copy(), source=path)
