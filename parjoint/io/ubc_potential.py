"""UBC-GIF gravity (GRAV3D) and magnetic (MAG3D) observation files.

Lines starting with ``!`` are comments (anywhere).  Positions are easting, northing
and elevation in metres (z up, the mesh's frame); elevation below the topography
means a borehole station.

GRAV3D survey / predicted / observed file::

    ndat
    E N ELEV [Grav [Err]]        (ndat lines)

``Grav`` is the vertical gravity anomaly in mGal, positive for an excess of mass
(downward attraction), ``Err`` its standard deviation (mGal, absolute).  A survey
file has no data column, a predicted file no uncertainty column.

MAG3D file (total-field data of induced magnetization)::

    incl decl geomag             inducing field: inclination, declination (degrees), strength (nT)
    ainc adec idir               idir = 1 with ainc = incl, adec = decl: total-field anomaly
    ndat
    E N ELEV [Mag [Err]]         (ndat lines; nT)

``Mag`` is the total-magnetic-intensity anomaly in nT.  parjoint reads and writes
total-field files with induced magnetization (idir = 1, ainc = incl, adec = decl);
other projections or magnetization directions (idir 0 or 2, or idir 1 with another
ainc, adec: MAG3D versions differ in what they mean) are refused with a message:
use the CSV format for field components.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .potential_csv import StationTable


def _lines(path: str):
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text (UTF-8) file") from None
    for number, line in enumerate(text.splitlines(), start=1):
        body = line.split("!", 1)[0].split()
        if body:
            yield number, body


def _numbers(path: str, number: int, words: list[str], what: str) -> list[float]:
    try:
        return [float(w) for w in words]
    except ValueError:
        raise InputError(f"{path}: line {number}: expected {what}, got {' '.join(words)!r}") from None


def _read_stations(path: str, lines: list, component: str, units: str) -> StationTable:
    if not lines:
        raise InputError(f"{path}: missing the number of data")
    number, words = lines[0]
    if len(words) != 1 or not words[0].isdigit():
        raise InputError(f"{path}: line {number}: expected the number of data (one integer), got {' '.join(words)!r}")
    ndat = int(words[0])
    rows = lines[1:]
    if len(rows) != ndat:
        raise InputError(f"{path}: the header announces {ndat} data but the file has {len(rows)} data lines")
    if ndat == 0:
        raise InputError(f"{path}: no stations")
    width = len(rows[0][1])
    table = []
    for number, words in rows:
        if len(words) != width or width not in (3, 4, 5):
            raise InputError(f"{path}: line {number}: expected {width if width in (3, 4, 5) else '3 to 5'} columns "
                             f"(E N ELEV [{component} [uncertainty]]), got {len(words)}")
        values = _numbers(path, number, words, f"numbers (E N ELEV [{component} [uncertainty]])")
        if not np.isfinite(values).all():
            raise InputError(f"{path}: line {number}: not finite (NaN or infinity): {' '.join(words)}")
        table.append(values)
    table = np.array(table)
    out = StationTable(xyz=table[:, :3].copy(), lines=np.array([n for n, _ in rows]))
    if width >= 4:
        out.values[component] = table[:, 3]
    if width == 5:
        out.uncertainties[component] = table[:, 4]
        if (table[:, 4] <= 0).any():
            bad = int(np.argmax(table[:, 4] <= 0))
            raise InputError(f"{path}: line {out.lines[bad]}: uncertainty must be positive ({units})")
    return out


def read_ubc_gravity(path: str) -> StationTable:
    """A GRAV3D file: positions (m) and, if present, gz (mGal) and uncertainties."""
    return _read_stations(path, list(_lines(path)), "gz", "mGal")


def read_ubc_magnetics(path: str) -> tuple[tuple[float, float, float], StationTable]:
    """A MAG3D total-field file: ((inclination, declination, strength), stations and tmi in nT)."""
    lines = list(_lines(path))
    if len(lines) < 3:
        raise InputError(f"{path}: a MAG3D file starts with 'incl decl geomag', 'ainc adec idir' and 'ndat'")
    (n1, w1), (n2, w2) = lines[0], lines[1]
    if len(w1) != 3:
        raise InputError(f"{path}: line {n1}: expected 'incl decl geomag' (3 numbers), got {' '.join(w1)!r}")
    incl, decl, strength = _numbers(path, n1, w1, "'incl decl geomag'")
    if len(w2) != 3:
        raise InputError(f"{path}: line {n2}: expected 'ainc adec idir' (3 numbers), got {' '.join(w2)!r}")
    ainc, adec, idir = _numbers(path, n2, w2, "'ainc adec idir'")
    if idir != 1 or ainc != incl or adec != decl:
        raise InputError(f"{path}: line {n2}: only total-field data of induced magnetization are read "
                         f"(idir = 1 with ainc = incl, adec = decl); got {' '.join(w2)} (use CSV for components)")
    return (incl, decl, strength), _read_stations(path, lines[2:], "tmi", "nT")


def _write_rows(fh, xyz: np.ndarray, values: np.ndarray | None, sd: np.ndarray | None) -> None:
    fh.write(f"{len(xyz)}\n")
    for i, (x, y, z) in enumerate(xyz):
        row = [x, y, z]
        if values is not None:
            row.append(values[i])
        if sd is not None:
            row.append(sd[i])
        fh.write(" ".join(repr(float(v)) for v in row) + "\n")


def _comments(fh, title: str, units: str, below: np.ndarray | None) -> None:
    fh.write(f"! {title}\n! positions E N ELEV (m, elevation up); data in {units}; uncertainty: one standard "
             "deviation\n")
    if below is not None and np.any(below):
        where = np.flatnonzero(below) + 1
        fh.write(f"! {len(where)} station(s) below the topography (borehole), by position in the list: "
                 f"{' '.join(str(i) for i in where)}\n")


def write_ubc_gravity(path: str, xyz: np.ndarray, gz: np.ndarray | None, sd: np.ndarray | None = None,
                      below: np.ndarray | None = None, title: str = "parjoint gravity data") -> None:
    """Write a GRAV3D file (gz in mGal, positive down); ``sd`` None: no uncertainty column."""
    with open(path, "w", encoding="utf-8") as fh:
        _comments(fh, title, "mGal (vertical gravity anomaly, positive down)", below)
        _write_rows(fh, xyz, gz, sd)


def write_ubc_magnetics(path: str, field: tuple[float, float, float], xyz: np.ndarray, tmi: np.ndarray | None,
                        sd: np.ndarray | None = None, below: np.ndarray | None = None,
                        title: str = "parjoint magnetic data") -> None:
    """Write a MAG3D total-field file (nT); ``field`` = (inclination, declination, strength)."""
    incl, decl, strength = field
    with open(path, "w", encoding="utf-8") as fh:
        _comments(fh, title, "nT (total-magnetic-intensity anomaly)", below)
        fh.write(f"{incl!r} {decl!r} {strength!r}\n{incl!r} {decl!r} 1\n")
        _write_rows(fh, xyz, tmi, sd)
