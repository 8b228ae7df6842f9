"""Potential-field stations and data as CSV (comma-separated text).

Format written by :func:`write_potential_csv` (and read by :func:`read_potential_csv`)::

    # parjoint gravity data
    # positions: x east, y north, z up (elevation), m; field components: x east, y north, z down
    # gz: mGal
    x,y,z,gz,gz_uncertainty,below_surface
    -400.0,-400.0,1.0,0.0123,0.001,0
    ...

Lines starting with ``#`` are comments.  The header names the columns: ``x``, ``y``,
``z`` (m) first, then for each component its value and ``<component>_uncertainty``
(one standard deviation, same units), and ``below_surface`` (1 for a station below
the topography, e.g. in a borehole).  A file for a single component may use the
generic names ``value`` and ``uncertainty``.  Without a header the columns are
``x, y, z[, value[, uncertainty]]``.  Units are those of the physics (gravity mGal,
gradients Eotvos, magnetics nT) and are stated in the comments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError


@dataclass
class StationTable:
    """Positions (n, 3) in m, and the values and uncertainties found per component."""

    xyz: np.ndarray
    values: dict[str, np.ndarray] = field(default_factory=dict)
    uncertainties: dict[str, np.ndarray] = field(default_factory=dict)
    lines: np.ndarray | None = None  #: line number of each station in its file


def read_potential_csv(path: str) -> StationTable:
    """Read stations (and any values, uncertainties) from a CSV file; errors name the line."""
    rows = []
    header = None
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text (UTF-8) file") from None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.split("#", 1)[0].strip()
        if not stripped:
            continue
        words = [w.strip() for w in stripped.split(",")]
        if header is None and not rows and not _numeric(words):
            header = [w.lower() for w in words]
            continue
        rows.append((number, words))
    if not rows:
        raise InputError(f"{path}: no stations")
    names = header or ["x", "y", "z", "value", "uncertainty"][:len(rows[0][1])]
    for need in ("x", "y", "z"):
        if need not in names:
            raise InputError(f"{path}: header lacks column '{need}' (columns: {', '.join(names)})")
    if len(set(names)) != len(names):
        raise InputError(f"{path}: duplicate column names in the header ({', '.join(names)})")
    if header is None and len(names) < 3:
        raise InputError(f"{path}: line {rows[0][0]}: expected at least x, y, z")
    for number, words in rows:
        if len(words) != len(names) or not _numeric(words):
            raise InputError(f"{path}: line {number}: expected {len(names)} numbers ({', '.join(names)}), "
                             f"got {','.join(words)!r}")
    table = np.array([words for _, words in rows], dtype=float)
    lines = np.array([number for number, _ in rows])
    columns = {name: table[:, i] for i, name in enumerate(names)}
    xyz = np.column_stack([columns["x"], columns["y"], columns["z"]])
    bad = ~np.isfinite(xyz).all(axis=1)
    if bad.any():
        raise InputError(f"{path}: line {lines[bad.argmax()]}: station position is not finite (NaN or infinity)")
    out = StationTable(xyz=xyz, lines=lines)
    for name, values in columns.items():
        if name in ("x", "y", "z", "below_surface"):
            continue
        if name.endswith("_uncertainty") or name == "uncertainty":
            base = "value" if name == "uncertainty" else name[:-len("_uncertainty")]
            out.uncertainties[base] = values
        else:
            out.values[name] = values
    return out


def write_potential_csv(path: str, xyz: np.ndarray, values: dict[str, np.ndarray],
                        uncertainties: dict[str, np.ndarray], units: dict[str, str], below: np.ndarray,
                        title: str) -> None:
    """Write stations and component values (and uncertainties) as described in the module doc."""
    names = list(values)
    columns = [xyz[:, 0], xyz[:, 1], xyz[:, 2]]
    head = ["x", "y", "z"]
    for name in names:
        columns += [values[name], uncertainties[name]]
        head += [name, f"{name}_uncertainty"]
    columns.append(np.asarray(below, dtype=float))
    head.append("below_surface")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(f"# {title}\n")
        fh.write("# positions: x east, y north, z up (elevation), m; field components: x east, y north, z down\n")
        for name in names:
            fh.write(f"# {name}: {units[name]} (uncertainty: one standard deviation)\n")
        fh.write("# below_surface: 1 = station below the topography (borehole)\n")
        fh.write(",".join(head) + "\n")
        table = np.column_stack(columns)
        for row in table:
            fh.write(",".join(_format(v) for v in row[:-1]) + f",{int(row[-1])}\n")


def _format(value: float) -> str:
    return repr(float(value)) if math.isfinite(value) else "nan"


def _numeric(words: list[str]) -> bool:
    try:
        for word in words:
            float(word)
    except ValueError:
        return False
    return True
