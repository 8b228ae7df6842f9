"""UBC-GIF DCIP3D observation files, general format (``.obs``, ``.dc``, ``.ip``).

Layout (``!`` starts a comment)::

    IPTYPE=1                                  only in IP files
    XA YA ZA  XB YB ZB  NRX                   a source (current electrodes A and B, m)
    XM YM ZM  XN YN ZN  VALUE  SD             NRX receivers (potential electrodes M, N)
    ...

VALUE is the potential difference normalised by the current (V/A), or the apparent
chargeability (V/V) in IP files; SD its standard deviation in the same units.
A pole is written with the same position as its partner: B = A for a pole source,
N = M for a pole receiver.  Electrodes at the same position share one index.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..physics.dc.survey import Survey


def read_ubc_dc(path: str) -> tuple[Survey, bool]:
    """(survey with ``values['value']`` and ``values['sd']``, is_ip)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            raw = fh.read().splitlines()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    lines, is_ip = [], False
    for number, text in enumerate(raw, start=1):
        body = text.split("!", 1)[0].strip()
        if not body:
            continue
        if body.upper().replace(" ", "").startswith("IPTYPE="):
            is_ip = True
            continue
        lines.append((number, body.split()))
    positions, rows = [], []
    pos = 0
    while pos < len(lines):
        number, words = lines[pos]
        if len(words) != 7:
            raise InputError(f"{path}: line {number}: expected a source line 'XA YA ZA XB YB ZB NRX' "
                             f"(7 values), found {len(words)}")
        try:
            src = [float(w) for w in words[:6]]
            nrx = int(words[6])
        except ValueError:
            raise InputError(f"{path}: line {number}: expected numbers in the source line") from None
        pos += 1
        for _ in range(nrx):
            if pos >= len(lines):
                raise InputError(f"{path}: file ends inside the receivers of the source on line {number}")
            rnumber, rwords = lines[pos]
            if len(rwords) < 8:
                raise InputError(f"{path}: line {rnumber}: expected 'XM YM ZM XN YN ZN VALUE SD', "
                                 f"found {len(rwords)} values")
            try:
                rec = [float(w) for w in rwords[:8]]
            except ValueError:
                raise InputError(f"{path}: line {rnumber}: expected numbers") from None
            positions.extend([src[:3], src[3:6], rec[:3], rec[3:6]])
            rows.append((rnumber, rec[6], rec[7]))
            pos += 1
    if not rows:
        raise InputError(f"{path}: no data")
    xyz = np.array(positions).reshape(-1, 4, 3)
    electrodes, inverse = np.unique(xyz.reshape(-1, 3), axis=0, return_inverse=True)
    idx = inverse.reshape(-1, 4)
    a, b, m, n = idx.T.copy()
    b[b == a] = -1
    n[n == m] = -1
    survey = Survey(electrodes, a, b, m, n, {"value": np.array([r[1] for r in rows]),
                                             "sd": np.array([r[2] for r in rows])})
    problem = survey.validate()
    if problem:
        if problem.startswith("datum "):
            k = int(problem.split()[1].rstrip(":")) - 1
            raise InputError(f"{path}: line {rows[k][0]}: {problem.split(':', 1)[1].strip()}")
        raise InputError(f"{path}: {problem}")
    if (survey.values["sd"] < 0).any():
        k = int(np.flatnonzero(survey.values["sd"] < 0)[0])
        raise InputError(f"{path}: line {rows[k][0]}: negative standard deviation")
    return survey, is_ip


def write_ubc_dc(path: str, survey: Survey, value: np.ndarray, sd: np.ndarray, ip: bool = False) -> None:
    """Write one source block per distinct (A, B) pair, in order of first appearance."""
    e = survey.electrodes
    lines = ["! parjoint: DCIP3D general format; values normalised by current (V/A)" if not ip
             else "! parjoint: DCIP3D general format; apparent chargeability (V/V)"]
    if ip:
        lines.append("IPTYPE=1")
    keys = survey.a * (len(e) + 1) + (survey.b + 1)
    _, first = np.unique(keys, return_index=True)
    for start in np.sort(first):
        rows = np.flatnonzero(keys == keys[start])
        a, b = survey.a[start], survey.b[start]
        pb = e[b] if b >= 0 else e[a]
        lines.append(" ".join(f"{v:.6f}" for v in (*e[a], *pb)) + f" {len(rows)}")
        for k in rows:
            pm = e[survey.m[k]]
            pn = e[survey.n[k]] if survey.n[k] >= 0 else pm
            lines.append(" ".join(f"{v:.6f}" for v in (*pm, *pn)) + f" {value[k]:.10g} {sd[k]:.6g}")
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
