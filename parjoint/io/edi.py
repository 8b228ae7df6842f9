"""SEG MT/EMAP EDI files (Wight 1988, *MT/EMAP Data Interchange Standard*): impedance and
tipper transfer functions of one station.

Read: ``>HEAD`` (DATAID, LAT, LONG, ELEV, EMPTY), ``>=DEFINEMEAS`` (REFTYPE and the
``>HMEAS``/``>EMEAS`` sensor offsets X north, Y east), ``>=MTSECT`` (NFREQ), ``>FREQ``,
``>ZROT``, the eight blocks ``>ZXXR ... >ZYYI`` (required), ``>ZXX.VAR ... >ZYY.VAR``
(optional), and the tipper blocks ``>TXR.EXP >TXI.EXP >TYR.EXP >TYI.EXP`` (all or none)
with ``>TXVAR.EXP >TYVAR.EXP``.  Other blocks (``>INFO``, ``>RHOXY``, spectra ...)
are skipped.  Values equal to the EMPTY marker (default 1.0E32) are missing (NaN).
Counts (``//N``) must agree with the values found, with NFREQ and with ``>FREQ``;
frequencies must be positive.  Every problem is an InputError naming the file and
line.  Rotated data (ZROT, TROT != 0) are rotated back to geographic axes.

Units: EDI impedances are in mV/km/nT; parjoint works in ohm (SI):
Z[ohm] = mu0 * 1e3 * Z[mV/km/nT].  Variances scale with the square.  VAR is the
variance of each of the real and imaginary parts.  Frame: x north, y east, z down.

Station position: geographic LAT/LONG/ELEV from ``>HEAD``; a local Cartesian position
(metres) when ``>=DEFINEMEAS`` has REFTYPE=CART, taken from the HX sensor's X (north)
and Y (east) offsets from the reference location.  :func:`write_edi` writes the
station's mesh position that way, relative to the mesh origin (REFLOC="mesh origin").
"""

from __future__ import annotations

import datetime
import os
import re
from dataclasses import dataclass

import numpy as np

from ..errors import InputError

MU0 = 4e-7 * np.pi  #: H/m
FIELD_TO_SI = MU0 * 1e3  #: ohm per (mV/km/nT)
EMPTY = 1.0e32
Z_NAMES = ("ZXX", "ZXY", "ZYX", "ZYY")
T_NAMES = ("TX", "TY")
_OPTION = re.compile(r'(\w+)\s*=\s*("[^"]*"|\S+)')


@dataclass
class EdiStation:
    """One station's transfer functions (SI units, geographic axes, frequency order as read)."""

    name: str
    frequencies: np.ndarray  #: (n,) Hz
    Z: np.ndarray  #: (n, 2, 2) complex, ohm; NaN where missing
    Z_var: np.ndarray  #: (n, 2, 2) ohm^2 (NaN if not given)
    T: np.ndarray | None = None  #: (n, 2) complex [T_zx, T_zy]
    T_var: np.ndarray | None = None  #: (n, 2)
    lat: float | None = None  #: degrees
    lon: float | None = None
    elevation: float | None = None  #: m
    north: float | None = None  #: local Cartesian position (m), REFTYPE=CART
    east: float | None = None
    source: str = ""


@dataclass
class _Block:
    name: str
    line: int
    options: dict
    count: int | None
    values: list  # tokens of the content lines
    lines: list  # (line number, text) of the content


def _parse_blocks(path: str, text: str) -> list[_Block]:
    blocks: list[_Block] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith(">"):
            head = line[1:].strip()
            count = None
            if "//" in head:
                head, _, tail = head.partition("//")
                try:
                    count = int(tail.split()[0])
                except (ValueError, IndexError):
                    raise InputError(f"{path}: line {number}: bad value count '//{tail.strip()}'") from None
            parts = head.split(None, 1)
            if not parts:
                raise InputError(f"{path}: line {number}: a '>' line without a block name")
            name = parts[0].upper()
            options = {k.upper(): v.strip('"') for k, v in _OPTION.findall(parts[1] if len(parts) > 1 else "")}
            blocks.append(_Block(name, number, options, count, [], []))
        elif blocks:
            blocks[-1].lines.append((number, line))
    return blocks


def _keyvalues(block: _Block) -> dict:
    out = {}
    for _, text in block.lines:
        for key, value in _OPTION.findall(text):
            out[key.upper()] = value.strip('"')
    return out


def _numbers(path: str, block: _Block) -> np.ndarray:
    out = []
    for number, text in block.lines:
        for token in text.split():
            try:
                out.append(float(token.replace("D", "E").replace("d", "e")))
            except ValueError:
                raise InputError(f"{path}: line {number}: block >{block.name}: not a number: {token!r}") from None
    return np.array(out)


def _angle(path: str, line: int, key: str, text: str) -> float:
    """Degrees from 'dd:mm:ss.s' or a decimal number."""
    try:
        if ":" in text:
            parts = [float(p) for p in text.split(":")]
            sign = -1.0 if text.strip().startswith("-") else 1.0
            value = abs(parts[0]) + sum(p / 60.0 ** (k + 1) for k, p in enumerate(parts[1:]))
            return sign * value
        return float(text)
    except ValueError:
        raise InputError(f"{path}: line {line}: {key}={text!r} is not an angle") from None


def read_edi(path: str) -> EdiStation:
    """Read one EDI file (see the module notes)."""
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file")
    with open(path, encoding="latin-1") as fh:
        blocks = _parse_blocks(path, fh.read())
    by_name: dict[str, _Block] = {}
    for b in blocks:
        if b.name in by_name and b.name not in ("HMEAS", "EMEAS", "INFO"):
            raise InputError(f"{path}: line {b.line}: block >{b.name} appears twice (first on line "
                             f"{by_name[b.name].line})")
        by_name.setdefault(b.name, b)
    if "HEAD" not in by_name:
        raise InputError(f"{path}: not an EDI file: no >HEAD block")
    if "=SPECTRASECT" in by_name and "ZXYR" not in by_name:
        raise InputError(f"{path}: line {by_name['=SPECTRASECT'].line}: spectra EDI files are not supported; "
                         "convert them to impedances (>ZXXR ... blocks)")
    head_block = by_name["HEAD"]
    head = _keyvalues(head_block)
    empty = float(head.get("EMPTY", EMPTY))
    if "FREQ" not in by_name:
        raise InputError(f"{path}: missing block >FREQ")
    fblock = by_name["FREQ"]
    freq = _numbers(path, fblock)
    n = len(freq)
    sect = by_name.get("=MTSECT")
    nfreq = None
    if sect is not None and "NFREQ" in _keyvalues(sect):
        try:
            nfreq = int(_keyvalues(sect)["NFREQ"])
        except ValueError:
            raise InputError(f"{path}: line {sect.line}: NFREQ is not an integer") from None

    def check_count(block: _Block, values: np.ndarray) -> None:
        if block.count is not None and block.count != len(values):
            raise InputError(f"{path}: line {block.line}: block >{block.name} announces {block.count} values "
                             f"(//{block.count}) but has {len(values)}")
        if len(values) != n:
            raise InputError(f"{path}: line {block.line}: block >{block.name} has {len(values)} values; >FREQ "
                             f"(line {fblock.line}) has {n}")

    if fblock.count is not None and fblock.count != n:
        raise InputError(f"{path}: line {fblock.line}: block >FREQ announces {fblock.count} values but has {n}")
    if nfreq is not None and nfreq != n:
        raise InputError(f"{path}: line {sect.line}: NFREQ={nfreq} but >FREQ (line {fblock.line}) has {n} values")
    if n == 0:
        raise InputError(f"{path}: line {fblock.line}: >FREQ has no values")
    if not np.all(np.isfinite(freq)) or np.any(freq <= 0):
        bad = freq[~(np.isfinite(freq) & (freq > 0))][0]
        raise InputError(f"{path}: line {fblock.line}: frequencies must be positive, got {bad:g}")

    def values(name: str, required: bool) -> np.ndarray | None:
        block = by_name.get(name)
        if block is None:
            if required:
                raise InputError(f"{path}: missing block >{name}")
            return None
        v = _numbers(path, block)
        check_count(block, v)
        return np.where(np.abs(v) >= 0.999 * abs(empty), np.nan, v)

    Z = np.empty((n, 2, 2), np.complex128)
    Z_var = np.full((n, 2, 2), np.nan)
    for k, comp in enumerate(Z_NAMES):
        i, j = divmod(k, 2)
        Z[:, i, j] = values(comp + "R", True) + 1j * values(comp + "I", True)
        var = values(comp + ".VAR", False)
        if var is not None:
            Z_var[:, i, j] = var
    Z *= FIELD_TO_SI
    Z_var *= FIELD_TO_SI ** 2
    T = T_var = None
    present = [f"{c}{p}.EXP" for c in T_NAMES for p in "RI" if f"{c}{p}.EXP" in by_name]
    if present:
        T = np.empty((n, 2), np.complex128)
        T_var = np.full((n, 2), np.nan)
        for k, comp in enumerate(T_NAMES):
            T[:, k] = values(comp + "R.EXP", True) + 1j * values(comp + "I.EXP", True)
            var = values(comp + "VAR.EXP", False)
            if var is not None:
                T_var[:, k] = var
    _unrotate(path, by_name, values, Z, Z_var, T, T_var)

    name = head.get("DATAID", os.path.splitext(os.path.basename(path))[0]).strip() or \
        os.path.splitext(os.path.basename(path))[0]
    station = EdiStation(name=name, frequencies=freq, Z=Z, Z_var=Z_var, T=T, T_var=T_var, source=path)
    for key, attr in (("LAT", "lat"), ("LONG", "lon")):
        if key in head:
            setattr(station, attr, _angle(path, head_block.line, key, head[key]))
    if "ELEV" in head:
        try:
            station.elevation = float(head["ELEV"])
        except ValueError:
            raise InputError(f"{path}: line {head_block.line}: ELEV={head['ELEV']!r} is not a number") from None
    _local_position(path, by_name, blocks, station)
    return station


def _unrotate(path, by_name, values, Z, Z_var, T, T_var) -> None:
    """Rotate data given in axes turned by ZROT/TROT (degrees clockwise from north) back."""
    zrot = values("ZROT", False)
    if zrot is not None and np.any(np.nan_to_num(zrot)):
        c, s = np.cos(np.deg2rad(zrot)), np.sin(np.deg2rad(zrot))
        R = np.stack([np.stack([c, s], -1), np.stack([-s, c], -1)], -2)  # geographic -> rotated axes
        Rt = R.transpose(0, 2, 1)
        Z[:] = Rt @ Z @ R
        Z_var[:] = (Rt ** 2) @ Z_var @ (R ** 2)
    trot = values("TROT.EXP", False) if "TROT.EXP" in by_name else values("TROT", False)
    if T is not None and trot is not None and np.any(np.nan_to_num(trot)):
        c, s = np.cos(np.deg2rad(trot)), np.sin(np.deg2rad(trot))
        R = np.stack([np.stack([c, s], -1), np.stack([-s, c], -1)], -2)
        T[:] = np.einsum("ni,nij->nj", T, R)
        T_var[:] = np.einsum("ni,nij->nj", T_var, R ** 2)


def _local_position(path: str, by_name: dict, blocks: list[_Block], station: EdiStation) -> None:
    define = by_name.get("=DEFINEMEAS")
    if define is None or _keyvalues(define).get("REFTYPE", "").upper() != "CART":
        return
    for b in blocks:
        if b.name == "HMEAS" and b.options.get("CHTYPE", "").upper() == "HX":
            try:
                station.north = float(b.options.get("X", "nan"))
                station.east = float(b.options.get("Y", "nan"))
            except ValueError:
                raise InputError(f"{path}: line {b.line}: HX sensor position X/Y is not a number") from None
            if not (np.isfinite(station.north) and np.isfinite(station.east)):
                raise InputError(f"{path}: line {b.line}: HX sensor lacks its X and Y position")
            return
    raise InputError(f"{path}: line {define.line}: REFTYPE=CART but no >HMEAS CHTYPE=HX gives the position")


# ------------------------------------------------------------------ writing
def _dms(value: float | None) -> str:
    if value is None:
        return "0:00:00.00"
    sign = "-" if value < 0 else ""
    v = abs(value)
    d = int(v)
    m = int((v - d) * 60)
    s = (v - d - m / 60) * 3600
    return f"{sign}{d}:{m:02d}:{s:05.2f}"


def _block(lines: list, name: str, data: np.ndarray, options: str = "") -> None:
    data = np.where(np.isnan(data), EMPTY, data)
    lines.append(f">{name}{(' ' + options) if options else ''} //{len(data)}")
    for k in range(0, len(data), 6):
        lines.append(" " + " ".join(f"{v:15.7E}" for v in data[k:k + 6]))


def write_edi(path: str, station: EdiStation, program: str = "parjoint") -> None:
    """Write one station (SI values converted to mV/km/nT; geographic axes, ZROT = 0)."""
    n = len(station.frequencies)
    today = datetime.date.today().strftime("%m/%d/%y")
    elev = station.elevation if station.elevation is not None else 0.0
    lines = [">HEAD", f'  DATAID="{station.name}"', f'  ACQBY="{program}"', f'  FILEBY="{program}"',
             f"  FILEDATE={today}", f"  LAT={_dms(station.lat)}", f"  LONG={_dms(station.lon)}",
             f"  ELEV={elev:.3f}", '  STDVERS="SEG 1.0"', f'  PROGVERS="{program}"', f"  EMPTY={EMPTY:.1E}", "",
             ">INFO", f"  {program}: impedance in mV/km/nT, e^(+i omega t), axes x north, y east, z down;",
             "  VAR = variance of the real and of the imaginary part.", "",
             ">=DEFINEMEAS", "  MAXCHAN=5", "  MAXRUN=999", "  MAXMEAS=9999", "  UNITS=M"]
    north = station.north if station.north is not None else 0.0
    east = station.east if station.east is not None else 0.0
    if station.north is not None:
        lines += ["  REFTYPE=CART", '  REFLOC="mesh origin"']
    lines += [f"  REFLAT={_dms(station.lat)}", f"  REFLONG={_dms(station.lon)}", f"  REFELEV={elev:.3f}", ""]
    pos = f"X={north:.3f} Y={east:.3f} Z=0.0"
    lines += [f">HMEAS ID=1001.001 CHTYPE=HX {pos} AZM=0.0", f">HMEAS ID=1002.001 CHTYPE=HY {pos} AZM=90.0",
              f">HMEAS ID=1003.001 CHTYPE=HZ {pos} AZM=0.0",
              f">EMEAS ID=1004.001 CHTYPE=EX X={north - 50:.3f} Y={east:.3f} Z=0.0 X2={north + 50:.3f} Y2={east:.3f}",
              f">EMEAS ID=1005.001 CHTYPE=EY X={north:.3f} Y={east - 50:.3f} Z=0.0 X2={north:.3f} Y2={east + 50:.3f}",
              "", ">=MTSECT", f'  SECTID="{station.name}"', f"  NFREQ={n}", "  HX=1001.001", "  HY=1002.001",
              "  HZ=1003.001", "  EX=1004.001", "  EY=1005.001", ""]
    _block(lines, "FREQ", station.frequencies, "ORDER=INC" if np.all(np.diff(station.frequencies) > 0) else "")
    _block(lines, "ZROT", np.zeros(n))
    Z = station.Z / FIELD_TO_SI
    Z_var = station.Z_var / FIELD_TO_SI ** 2
    for k, comp in enumerate(Z_NAMES):
        i, j = divmod(k, 2)
        _block(lines, comp + "R", Z[:, i, j].real, "ROT=ZROT")
        _block(lines, comp + "I", Z[:, i, j].imag, "ROT=ZROT")
        _block(lines, comp + ".VAR", Z_var[:, i, j], "ROT=ZROT")
    omega_mu = 2 * np.pi * station.frequencies * MU0
    for name, (i, j) in (("XY", (0, 1)), ("YX", (1, 0))):
        _block(lines, "RHO" + name, np.abs(station.Z[:, i, j]) ** 2 / omega_mu, "ROT=ZROT")
        _block(lines, "PHS" + name, np.angle(station.Z[:, i, j], deg=True), "ROT=ZROT")
    if station.T is not None:
        _block(lines, "TROT.EXP", np.zeros(n))
        for k, comp in enumerate(T_NAMES):
            _block(lines, comp + "R.EXP", station.T[:, k].real, "ROT=TROT")
            _block(lines, comp + "I.EXP", station.T[:, k].imag, "ROT=TROT")
            _block(lines, comp + "VAR.EXP", station.T_var[:, k] if station.T_var is not None else np.full(n, np.nan),
                   "ROT=TROT")
    lines += [">END", ""]
    with open(path, "w") as fh:
        fh.write("\n".join(lines))
