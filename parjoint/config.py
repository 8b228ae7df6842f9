"""TOML configuration files: reading on one rank, strict key checking, clear errors.

A configuration is read by rank 0, broadcast, and parsed identically on every rank,
so every validation error is raised on all ranks at once (a collective
:class:`~parjoint.errors.InputError`).  :class:`Table` hands out values by key with
type and range checks and refuses keys it was never asked about, so a typo such as
``cell_sise`` is reported instead of silently ignored.
"""

from __future__ import annotations

import math
import os
import tomllib
from typing import Any, Callable

from mpi4py import MPI

from .errors import InputError
from .parallel import on_root

_REQUIRED = object()


def read_toml(path: str, comm: MPI.Comm | None = None) -> "Table":
    """Collective: read and parse a TOML file; errors name the file (and line)."""
    comm = comm or MPI.COMM_WORLD

    def read_bytes():
        if not os.path.exists(path):
            raise InputError(f"{path}: no such file")
        if os.path.isdir(path):
            raise InputError(f"{path}: is a directory, expected a TOML file")
        with open(path, "rb") as fh:
            return fh.read()

    raw = on_root(comm, read_bytes)
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text (UTF-8) file", collective=True) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: invalid TOML: {exc}", collective=True) from None
    return Table(data, source=path, base_dir=os.path.dirname(os.path.abspath(path)))


class Table:
    """A TOML table with checked access.

    Call :meth:`finish` after reading all keys: it raises for keys nobody asked for.
    Errors are collective because every rank holds the same data.
    """

    def __init__(self, data: dict, source: str, prefix: str = "", base_dir: str = "."):
        self.data = data
        self.source = source
        self.prefix = prefix
        self.base_dir = base_dir
        self._used: set[str] = set()

    # -- helpers ---------------------------------------------------------------
    def key_name(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def error(self, key: str, message: str) -> InputError:
        return InputError(f"{self.source}: key '{self.key_name(key)}': {message}", collective=True)

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def keys(self):
        return self.data.keys()

    # -- typed access ----------------------------------------------------------
    def _get(self, key: str, default: Any) -> tuple[bool, Any]:
        self._used.add(key)
        if key not in self.data:
            if default is _REQUIRED:
                raise self.error(key, "missing (required)")
            return False, default
        return True, self.data[key]

    def raw(self, key: str, default: Any = _REQUIRED) -> Any:
        return self._get(key, default)[1]

    def number(self, key: str, default: Any = _REQUIRED, *, min: float | None = None,
               max: float | None = None, positive: bool = False) -> float:
        present, value = self._get(key, default)
        if not present:
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, f"expected a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise self.error(key, f"must be finite, got {value}")
        if positive and value <= 0:
            raise self.error(key, f"must be positive, got {value:g}")
        if min is not None and value < min:
            raise self.error(key, f"must be at least {min:g}, got {value:g}")
        if max is not None and value > max:
            raise self.error(key, f"must be at most {max:g}, got {value:g}")
        return value

    def integer(self, key: str, default: Any = _REQUIRED, *, min: int | None = None) -> int:
        present, value = self._get(key, default)
        if not present:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected an integer, got {value!r}")
        if min is not None and value < min:
            raise self.error(key, f"must be at least {min}, got {value}")
        return value

    def string(self, key: str, default: Any = _REQUIRED, *, choices: tuple[str, ...] | None = None) -> str:
        present, value = self._get(key, default)
        if not present:
            return value
        if not isinstance(value, str):
            raise self.error(key, f"expected a string, got {value!r}")
        if choices is not None and value not in choices:
            raise self.error(key, f"must be one of {', '.join(repr(c) for c in choices)}; got {value!r}")
        return value

    def boolean(self, key: str, default: Any = _REQUIRED) -> bool:
        present, value = self._get(key, default)
        if not present:
            return value
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {value!r}")
        return value

    def vector(self, key: str, length: int, default: Any = _REQUIRED,
               check: Callable[[list[float]], str | None] | None = None) -> list[float]:
        present, value = self._get(key, default)
        if not present:
            return value
        if (not isinstance(value, list) or len(value) != length
                or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in value)):
            raise self.error(key, f"expected a list of {length} numbers, got {value!r}")
        out = [float(v) for v in value]
        if any(not math.isfinite(v) for v in out):
            raise self.error(key, f"values must be finite, got {value!r}")
        if check is not None:
            problem = check(out)
            if problem:
                raise self.error(key, problem)
        return out

    def path(self, key: str, default: Any = _REQUIRED, *, must_exist: bool = True) -> str:
        """A file path; relative paths are relative to the configuration file."""
        if key not in self.data and default is not _REQUIRED:
            self._used.add(key)
            return default
        value = self.string(key)
        full = value if os.path.isabs(value) else os.path.join(self.base_dir, value)
        if must_exist and not os.path.exists(full):
            raise self.error(key, f"file not found: {full}")
        return full

    def table(self, key: str, default: Any = _REQUIRED) -> "Table | None":
        present, value = self._get(key, default)
        if not present:
            return value
        if not isinstance(value, dict):
            raise self.error(key, f"expected a table, got {value!r}")
        return Table(value, self.source, f"{self.prefix}{key}.", self.base_dir)

    def tables(self, key: str) -> list["Table"]:
        """An array of tables (``[[key]]``); empty if absent."""
        value = self.raw(key, [])
        if not isinstance(value, list) or any(not isinstance(v, dict) for v in value):
            raise self.error(key, "expected an array of tables ([[...]])")
        return [Table(v, self.source, f"{self.prefix}{key}[{i}].", self.base_dir) for i, v in enumerate(value)]

    def finish(self) -> None:
        """Raise for keys that were never read (typos, unsupported options)."""
        unknown = sorted(set(self.data) - self._used)
        if unknown:
            known = ", ".join(sorted(self._used))
            raise InputError(
                f"{self.source}: unknown key '{self.key_name(unknown[0])}'"
                + (f" (known keys here: {known})" if known else ""),
                collective=True,
            )
