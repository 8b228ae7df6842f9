"""DC resistivity / IP surveys: electrodes, four-electrode configurations, arrays.

A :class:`Survey` holds electrode positions (m) and, per datum, the indices of the
current electrodes A, B and potential electrodes M, N (``-1`` = not used: pole
arrays, the electrode at infinity).  Measured values and their standard deviations
are optional.  Data conventions (all with unit current, SI):

* resistance ``R = (phi_A - phi_B)(M) - (phi_A - phi_B)(N)`` in V/A (ohm),
* apparent resistivity ``rho_a = k R`` in ohm m with geometric factor k (m),
* apparent chargeability (IP) in V/V (files may use mV/V, stated there).

The array builders take electrodes ordered along a line (or the lines of a grid) and
return index arrays; they know nothing about positions, so they work on any
topography.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Survey:
    electrodes: np.ndarray  #: (n_electrodes, 3) positions, m
    a: np.ndarray  #: (n_data,) current electrode A (index), always set
    b: np.ndarray  #: (n_data,) current electrode B, -1 for a pole source
    m: np.ndarray  #: (n_data,) potential electrode M, always set
    n: np.ndarray  #: (n_data,) potential electrode N, -1 for a pole receiver
    values: dict[str, np.ndarray] = field(default_factory=dict)  #: e.g. "rhoa", "r", "err", "ip"

    def __post_init__(self):
        self.electrodes = np.asarray(self.electrodes, dtype=np.float64).reshape(-1, 3)
        for name in "abmn":
            setattr(self, name, np.asarray(getattr(self, name), dtype=np.int64))

    @property
    def n_data(self) -> int:
        return len(self.a)

    def validate(self) -> str | None:
        """A description of the first problem, or None if the survey is consistent."""
        ne = len(self.electrodes)
        if not np.isfinite(self.electrodes).all():
            return "electrode positions contain NaN or infinity"
        if len({len(self.a), len(self.b), len(self.m), len(self.n)}) != 1:
            return "a, b, m, n have different lengths"
        for name in "abmn":
            idx = getattr(self, name)
            if ((idx < -1) | (idx >= ne)).any():
                k = int(np.flatnonzero((idx < -1) | (idx >= ne))[0])
                return f"datum {k + 1}: electrode {name} = {idx[k] + 1} does not exist ({ne} electrodes)"
        if (self.a < 0).any() or (self.m < 0).any():
            k = int(np.flatnonzero((self.a < 0) | (self.m < 0))[0])
            return f"datum {k + 1}: electrodes A and M must be given"
        pairs = (("a", "b"), ("m", "n"), ("a", "m"), ("a", "n"), ("b", "m"), ("b", "n"))
        for p, q in pairs:
            x, y = getattr(self, p), getattr(self, q)
            same = (x == y) & (x >= 0)
            if same.any():
                k = int(np.flatnonzero(same)[0])
                return f"datum {k + 1}: {p} = {q} (electrode {x[k] + 1} used twice)"
        return None

    def source_poles(self) -> np.ndarray:
        """Electrodes used as current electrodes (each is one pole solve)."""
        return np.unique(np.concatenate([self.a, self.b[self.b >= 0]]))

    def receiver_poles(self) -> np.ndarray:
        return np.unique(np.concatenate([self.m, self.n[self.n >= 0]]))

    def halfspace_geometric_factor(self) -> np.ndarray:
        """k (m) of a flat homogeneous half-space: rho_a = k R, electrodes on its surface."""
        def inv_dist(i, j):
            out = np.zeros(self.n_data)
            ok = (i >= 0) & (j >= 0)
            out[ok] = 1.0 / np.linalg.norm(self.electrodes[i[ok]] - self.electrodes[j[ok]], axis=1)
            return out

        g = inv_dist(self.a, self.m) - inv_dist(self.a, self.n) - inv_dist(self.b, self.m) + inv_dist(self.b, self.n)
        with np.errstate(divide="ignore"):
            return 2.0 * np.pi / g


# ---------------------------------------------------------------- electrode layouts
def line_electrodes(start, end, count: int) -> np.ndarray:
    """``count`` equally spaced electrodes from ``start`` to ``end`` (x, y; z = 0 until draped)."""
    t = np.linspace(0.0, 1.0, count)[:, None]
    xy = (1 - t) * np.asarray(start, float)[None, :2] + t * np.asarray(end, float)[None, :2]
    return np.column_stack([xy, np.zeros(count)])


def grid_electrodes(x, y, nx: int, ny: int) -> np.ndarray:
    """A regular nx by ny grid over [x0, x1] x [y0, y1], x varying fastest."""
    gx, gy = np.meshgrid(np.linspace(x[0], x[1], nx), np.linspace(y[0], y[1], ny))
    return np.column_stack([gx.ravel(), gy.ravel(), np.zeros(nx * ny)])


# ---------------------------------------------------------------- arrays on a line
def _empty():
    return [], [], [], []


def wenner(n_electrodes: int) -> tuple[np.ndarray, ...]:
    """Wenner alpha: A M N B with equal spacing s, all spacings that fit."""
    a, b, m, n = _empty()
    for s in range(1, n_electrodes // 3 + 1):
        for i in range(n_electrodes - 3 * s):
            a.append(i), m.append(i + s), n.append(i + 2 * s), b.append(i + 3 * s)
    return _arrays(a, b, m, n)


def schlumberger(n_electrodes: int) -> tuple[np.ndarray, ...]:
    """Schlumberger: A ... M N ... B, potential dipole of one spacing at the centre."""
    a, b, m, n = _empty()
    for k in range(1, n_electrodes // 2):
        for i in range(n_electrodes - 2 * k - 1):
            a.append(i), m.append(i + k), n.append(i + k + 1), b.append(i + 2 * k + 1)
    return _arrays(a, b, m, n)


def dipole_dipole(n_electrodes: int, n_max: int = 6, spacings: int = 1) -> tuple[np.ndarray, ...]:
    """Dipole-dipole B A M N with dipole length s (1..spacings) and separation n s (1..n_max)."""
    a, b, m, n = _empty()
    for s in range(1, spacings + 1):
        for k in range(1, n_max + 1):
            for i in range(n_electrodes - (k + 2) * s):
                b.append(i), a.append(i + s), m.append(i + (k + 1) * s), n.append(i + (k + 2) * s)
    return _arrays(a, b, m, n)


def pole_dipole(n_electrodes: int, n_max: int = 6) -> tuple[np.ndarray, ...]:
    """Pole-dipole A M N (B at infinity), separation n = 1..n_max, forward direction."""
    a, b, m, n = _empty()
    for k in range(1, n_max + 1):
        for i in range(n_electrodes - k - 1):
            a.append(i), b.append(-1), m.append(i + k), n.append(i + k + 1)
    return _arrays(a, b, m, n)


def pole_pole(n_electrodes: int, n_max: int | None = None) -> tuple[np.ndarray, ...]:
    """Pole-pole A M (B and N at infinity), all pairs up to separation n_max."""
    a, b, m, n = _empty()
    for i in range(n_electrodes):
        for j in range(i + 1, n_electrodes if n_max is None else min(n_electrodes, i + n_max + 1)):
            a.append(i), b.append(-1), m.append(j), n.append(-1)
    return _arrays(a, b, m, n)


ARRAYS = {"wenner": wenner, "schlumberger": schlumberger, "dipole-dipole": dipole_dipole,
          "pole-dipole": pole_dipole, "pole-pole": pole_pole}


def _arrays(a, b, m, n):
    return tuple(np.asarray(x, dtype=np.int64) for x in (a, b, m, n))


def line_survey(electrodes: np.ndarray, array: str, **options) -> Survey:
    """A survey of one array type along electrodes ordered on a line."""
    a, b, m, n = ARRAYS[array](len(electrodes), **options)
    return Survey(electrodes, a, b, m, n)


def grid_survey(x, y, nx: int, ny: int, array: str, **options) -> Survey:
    """The array along every row and every column of a grid of electrodes (3-D survey)."""
    electrodes = grid_electrodes(x, y, nx, ny)
    index = np.arange(nx * ny).reshape(ny, nx)
    parts = [ARRAYS[array](nx, **options)] * ny + [ARRAYS[array](ny, **options)] * nx
    lines = [index[j] for j in range(ny)] + [index[:, i] for i in range(nx)]
    cols = [np.concatenate([np.where(p[k] >= 0, line[np.maximum(p[k], 0)], -1) for p, line in zip(parts, lines)])
            for k in range(4)]
    return Survey(electrodes, *cols)
