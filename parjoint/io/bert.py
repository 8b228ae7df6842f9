"""The unified data format of BERT / pyGIMLi (``.dat``, ``.ohm``, ``.data``).

Layout (``#`` starts a comment; blank lines are ignored)::

    6                      number of electrodes
    # x y z                electrode columns (``x z`` for a 2-D line: y = 0)
    0.0 0.0 0.0
    ...
    20                     number of data
    # a b m n rhoa err ip  data columns, any order; electrode numbers are 1-based,
    1 2 3 4 102.3 0.03 4.1   0 means "not used" (pole arrays)

Known data columns (case-insensitive; a unit may follow a slash, e.g. ``u/mV``):
``a b m n`` (required), ``r`` resistance (ohm), ``rhoa`` apparent resistivity
(ohm m), ``err`` relative error (fraction), ``ip`` apparent chargeability (mV/V),
``k`` geometric factor (m), ``u`` voltage (V, or mV), ``i`` current (A, or mA),
``valid``.  Unknown columns are kept.  parjoint writes ``r``/``rhoa``/``err``/``ip``
and the geometric factor it used.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..physics.dc.survey import Survey

_SCALE = {"u/mv": ("u", 1e-3), "i/ma": ("i", 1e-3), "u/v": ("u", 1.0), "i/a": ("i", 1.0)}


def read_bert(path: str) -> Survey:
    """Read a unified-format file; errors name the file and line."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            raw = fh.read().splitlines()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    # (line number, text) of content lines; the last comment before a block names its columns
    lines, headers = [], {}
    for number, text in enumerate(raw, start=1):
        body = text.split("#", 1)
        if body[0].strip():
            lines.append((number, body[0].split()))
        elif len(body) > 1:
            headers[len(lines)] = body[1].split()
    pos = 0

    def fail(number, message):
        return InputError(f"{path}: line {number}: {message}")

    def count():
        nonlocal pos
        if pos >= len(lines):
            raise InputError(f"{path}: file ends early (expected a count)")
        number, words = lines[pos]
        if len(words) != 1 or not words[0].isdigit():
            raise fail(number, f"expected a count, found {' '.join(words)!r}")
        pos += 1
        return int(words[0]), number

    n_elec, _ = count()
    ecols = [c.lower() for c in headers.get(pos, ["x", "y", "z"])]
    if ecols[:3] == ["x", "y", "z"] or ecols == ["x", "y", "z"]:
        pick = (0, 1, 2)
    elif ecols[:2] == ["x", "z"]:
        pick = (0, None, 1)
    else:
        pick = (0, 1, 2)
    electrodes = np.zeros((n_elec, 3))
    for k in range(n_elec):
        if pos >= len(lines):
            raise InputError(f"{path}: file ends inside the electrode list ({k} of {n_elec})")
        number, words = lines[pos]
        try:
            vals = [float(w) for w in words]
            electrodes[k] = [vals[i] if i is not None else 0.0 for i in pick]
        except (ValueError, IndexError):
            raise fail(number, f"electrode {k + 1}: expected coordinates {' '.join(ecols)}") from None
        pos += 1
    n_data, count_line = count()
    header = headers.get(pos)
    if header is None:
        raise fail(count_line, "no data header such as '# a b m n rhoa' after the number of data")
    columns = []
    for token in header:
        name = token.lower()
        columns.append(_SCALE.get(name, (name.split("/")[0], 1.0)))
    names = [c[0] for c in columns]
    for required in "abmn":
        if required not in names:
            raise fail(count_line + 1, f"data header lacks column '{required}' (has: {' '.join(header)})")
    table = np.zeros((n_data, len(columns)))
    data_lines = np.zeros(n_data, np.int64)
    for k in range(n_data):
        if pos >= len(lines):
            raise InputError(f"{path}: file ends inside the data ({k} of {n_data} rows)")
        number, words = lines[pos]
        if len(words) < len(columns):
            raise fail(number, f"expected {len(columns)} columns ({' '.join(header)}), found {len(words)}")
        try:
            table[k] = [float(w) for w in words[:len(columns)]]
        except ValueError:
            raise fail(number, "expected numbers") from None
        data_lines[k] = number
        pos += 1
    idx = {name: table[:, names.index(name)].astype(np.int64) - 1 for name in "abmn"}
    values = {name: table[:, i] * scale for i, (name, scale) in enumerate(columns) if name not in "abmn"}
    if "ip" in values:
        values["ip"] = values["ip"] * 1e-3  # mV/V -> V/V
    survey = Survey(electrodes, idx["a"], idx["b"], idx["m"], idx["n"], values)
    problem = survey.validate()
    if problem:
        if problem.startswith("datum "):
            k = int(problem.split()[1].rstrip(":")) - 1
            raise fail(int(data_lines[k]), problem.split(":", 1)[1].strip())
        raise InputError(f"{path}: {problem}")
    return survey


def write_bert(path: str, survey: Survey, columns: dict[str, np.ndarray]) -> None:
    """Write electrodes and data; ``columns`` in SI (``ip`` in V/V, written as mV/V)."""
    lines = [f"{len(survey.electrodes)}", "# x y z"]
    lines += [f"{x:.6f} {y:.6f} {z:.6f}" for x, y, z in survey.electrodes]
    names = list(columns)
    lines += [f"{survey.n_data}", "# a b m n " + " ".join(names)]
    scaled = [columns[c] * (1e3 if c == "ip" else 1.0) for c in names]
    for k in range(survey.n_data):
        idx = " ".join(str(int(getattr(survey, e)[k]) + 1) for e in "abmn")
        lines.append(idx + "".join(f" {v[k]:.10g}" for v in scaled))
    lines.append("0")  # no topography points
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
