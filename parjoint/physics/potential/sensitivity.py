"""The distributed sensitivity matrix of a linear potential-field problem.

J has one row per datum and one column per active cell.  The rank that owns a cell
computes and keeps that cell's column for every datum (the local block is
n_data x n_local_cells, stored transposed: one contiguous column per cell), so

    J v    = sum over ranks of (local block) v_local      (one allreduce, by the caller)
    J^T w  = (local block)^T w                             (w replicated; no communication)

and memory per rank falls as ranks are added.  Storage options
(:class:`StorageOptions`):

``storage = "float64"``  dense, exact.
``storage = "float32"``  dense, half the memory; every entry rounded to float32, so
    |J~_ij - J_ij| <= 2^-24 |J_ij| and |(J~ v)_i - (J v)_i| <= 2^-24 sum_j |J_ij v_j|
    (products accumulate in float64).
``compression = tau > 0``  distance-based truncation.  With V_j the volume of cell j,
    k_ij = J_ij / V_j is the kernel per unit volume (for gravity about G / r_ij^2),
    and datum i keeps only the cells with |k_ij| >= tau max_j |k_ij| (the maximum over
    all ranks): the cells within about r_min / sqrt(tau) of the station for gravity,
    r_min the distance of the nearest cell.  For any model m
        |(J~ m)_i - (J m)_i| <= tau max_j |k_ij| sum_dropped V_j |m_j|
                             <= tau max_j |k_ij| ||m||_1,     ||m||_1 = sum_j V_j |m_j|,
    i.e. at most tau times the datum of the whole model's absolute "mass" put in the
    station's most sensitive cell.  Per unit volume, not per entry: entries scale with
    the cell volume, and a per-entry rule would drop small cells near the station and
    keep large padding cells far away.  (A budget on a row's norm would bound the error
    by a norm of m alone, but compresses gravity kernels little: a row's absolute sum
    is dominated by distant cells, and its energy beyond a distance R falls only as
    1/R.)  Kept entries are stored as compressed rows (32-bit column indices).  For
    float32 add the bound above.
``storage = "none"``  nothing is stored: every product recomputes the kernel (for a
    forward model that only needs one product, or when nothing else fits).

Before computing, :meth:`Sensitivity.memory_report` gives the bytes per rank of every
option (the truncated size from a sample of stations), and the constructor refuses
with an :class:`~parjoint.errors.InputError` when the chosen one, plus the kernel
geometry, exceeds the limit: ``max_memory_gb`` per rank if given, else the memory
available on the node (psutil, or MemAvailable from /proc/meminfo) divided by the
ranks sharing the node.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numba
import numpy as np
from mpi4py import MPI

from ...errors import InputError
from ...mesh.geometry import signed_volume6
from ..gravity.kernels import DEFAULT_BLOCK, DEFAULT_CHUNK, Functionals, build_blocks, cell_fields, face_coefficients

STORAGES = ("float64", "float32", "none")
_SAMPLE_STATIONS = 16  # stations used to estimate the truncated size
_WORK_BYTES = 64 * 2 ** 20  # a chunk of recomputed rows (storage "none", truncation)
_CONVERT_ROWS = 2048  # cells per float32 -> float64 conversion in dense float32 products

_jit = numba.njit(cache=True, nogil=True)


@dataclass(frozen=True)
class StorageOptions:
    """How the sensitivities are kept; see the module doc."""

    storage: str = "float64"  #: float64 | float32 | none
    compression: float = 0.0  #: truncation tolerance tau (0: keep every entry)
    max_memory_gb: float | None = None  #: per rank; None: available memory / ranks on the node
    block_size: int = DEFAULT_BLOCK  #: cells per kernel block
    chunk: int = DEFAULT_CHUNK  #: stations per kernel pass

    def __post_init__(self):
        if self.storage not in STORAGES:
            raise ValueError(f"storage must be one of {', '.join(STORAGES)}")
        if not 0.0 <= self.compression < 1.0:
            raise ValueError("compression must lie in [0, 1)")

    @property
    def describe(self) -> str:
        text = f"storage {self.storage}"
        if self.compression and self.storage != "none":
            text += f", truncated to tolerance {self.compression:g}"
        return text


def available_memory_per_rank(comm: MPI.Comm) -> tuple[float | None, str]:
    """(bytes, how it was found): memory available on this node / ranks on this node."""
    node = comm.Split_type(MPI.COMM_TYPE_SHARED)
    ranks = node.size
    node.Free()
    available = None
    try:
        import psutil

        available = float(psutil.virtual_memory().available)
    except ImportError:
        if os.path.exists("/proc/meminfo"):
            with open("/proc/meminfo") as fh:
                for line in fh:
                    if line.startswith("MemAvailable:"):
                        available = float(line.split()[1]) * 1024.0
    if available is None:
        return None, "available memory unknown"
    return available / ranks, f"available memory / {ranks} rank(s) on this node"


class Sensitivity:
    """Collective: the columns of J for this rank's ``cells`` (active cells, local vertex
    indices into ``coords``), for all ``stations`` and the components of ``functionals``.

    Rows are data (component-major: k * n_stations + s); columns follow ``cells``.
    ``log`` receives the memory report lines (rank 0 prints them in the simulations).
    """

    def __init__(self, coords: np.ndarray, cells: np.ndarray, vertex_key: np.ndarray, stations: np.ndarray,
                 functionals: Functionals, options: StorageOptions, comm: MPI.Comm, log=None, label: str = "",
                 volume: np.ndarray | None = None):
        self.comm = comm
        self.options = options
        self.stations = np.ascontiguousarray(stations, dtype=np.float64).reshape(-1, 3)
        self.functionals = functionals
        self.n_stations = len(self.stations)
        self.n_data = functionals.n * self.n_stations
        self.blocks = build_blocks(coords, cells, vertex_key, options.block_size)
        self.n_cells = self.blocks.n_cells
        self._coef = face_coefficients(self.blocks, functionals)
        self._order = self.blocks.order  # kernel column j is cell order[j]
        if volume is None:
            volume = signed_volume6(coords, cells) / 6.0
        self._volume = np.asarray(volume, dtype=np.float64)[self._order]
        self._dtype = np.float32 if options.storage == "float32" else np.float64
        self._rows_per_pass = self._agree_rows_per_pass()
        self.report = self.memory_report()
        for line in self._report_lines(label):
            if log is not None:
                log(line)
        self._check_memory()
        self._dense = None
        self._pieces: list[tuple] = []
        if options.storage != "none":
            if options.compression > 0:
                self._build_truncated()
            else:
                self._dense = np.empty((self.n_cells, self.n_data), self._dtype)
                cell_fields(self.blocks, self.stations, functionals, out=self._dense, coefficients=self._coef,
                            chunk=options.chunk)

    # ------------------------------------------------------------ memory
    def _agree_rows_per_pass(self) -> int:
        """Stations per recomputed pass (the same on every rank: truncation is collective)."""
        per_station = max(self.n_cells, 1) * self.functionals.n * 8
        own = max(self.options.chunk, _WORK_BYTES // per_station)
        return int(min(self.comm.allreduce(own, op=MPI.MIN), max(self.n_stations, 1)))

    def memory_report(self) -> dict:
        """Collective: bytes per rank (largest over the ranks) of each storage option.

        Keys: ``geometry`` (kernel blocks and face coefficients, always needed),
        ``float64``, ``float32``, ``none`` (one pass of recomputed rows) and, when a
        compression tolerance is set, ``truncated_float64`` and ``truncated_float32``
        (estimated from a sample of stations), ``kept_fraction`` and ``chosen``.
        """
        nd, nc = self.n_data, self.n_cells
        geometry = self.blocks.nbytes() + sum(a.nbytes for a in self._coef)
        work = self._rows_per_pass * self.functionals.n * nc * 8
        own = {"geometry": geometry, "float64": nd * nc * 8.0, "float32": nd * nc * 4.0, "none": float(work)}
        if self.options.compression > 0:
            kept = self._sample_kept_fraction()
            index = (nd + 1) * 8.0
            own["truncated_float64"] = kept * nd * nc * 12.0 + index + work
            own["truncated_float32"] = kept * nd * nc * 8.0 + index + work
            own["kept_fraction"] = kept
        report = {key: self.comm.allreduce(value, op=MPI.MAX) for key, value in own.items()}
        report["kept_fraction_mean"] = (self.comm.allreduce(own.get("kept_fraction", 1.0) * nc)
                                        / max(self.comm.allreduce(nc), 1))
        report["chosen"] = self._chosen_key()
        return report

    def _chosen_key(self) -> str:
        storage = self.options.storage
        if self.options.compression > 0 and storage != "none":
            return f"truncated_{storage}"
        return storage

    def _sample_kept_fraction(self) -> float:
        """Fraction of this rank's entries kept by truncation, on a sample of stations."""
        pick = np.unique(np.linspace(0, self.n_stations - 1, min(_SAMPLE_STATIONS, self.n_stations)).astype(int))
        block = cell_fields(self.blocks, self.stations[pick], self.functionals, coefficients=self._coef,
                            chunk=self.options.chunk)
        thresholds = _row_thresholds(block, self._volume, self.options.compression, self.comm)
        kept = np.count_nonzero(np.abs(block) >= thresholds[None, :] * self._volume[:, None])
        return kept / max(block.size, 1)

    def _report_lines(self, label: str) -> list[str]:
        r = self.report
        gb = 1e9
        head = (f"{label + ' ' if label else ''}sensitivities: {self.n_data} data x "
                f"{self.comm.allreduce(self.n_cells)} cells on {self.comm.size} rank(s); memory per rank "
                f"(largest): geometry {r['geometry'] / gb:.3g} GB")
        options = [f"float64 {r['float64'] / gb:.3g} GB", f"float32 {r['float32'] / gb:.3g} GB"]
        if "truncated_float64" in r:
            options.append(f"truncated ({100 * r['kept_fraction_mean']:.1f}% kept) float64 "
                           f"{r['truncated_float64'] / gb:.3g} GB, float32 {r['truncated_float32'] / gb:.3g} GB")
        options.append(f"none (recomputed) {r['none'] / gb:.3g} GB")
        return [head, "  options: " + "; ".join(options), f"  using {self.options.describe}"]

    def _check_memory(self) -> None:
        limit, how = ((self.options.max_memory_gb * 1e9, "max_memory_gb") if self.options.max_memory_gb is not None
                      else available_memory_per_rank(self.comm))
        # the kernel geometry (already built) counts too: a conservative comparison
        need = self.report["geometry"] + self.report[self.report["chosen"]]
        limit = self.comm.allreduce(math.inf if limit is None else limit, op=MPI.MIN)
        if need > limit:
            raise InputError(
                f"the sensitivities need {need / 1e9:.3g} GB per rank ({self.options.describe}) but "
                f"{limit / 1e9:.3g} GB is available per rank ({how}): use storage = \"float32\", a compression "
                f"tolerance, storage = \"none\" (recompute), or more ranks", collective=True)

    # ------------------------------------------------------------ building
    def _passes(self):
        """(first station, rows of the data vector) of each pass over the stations."""
        n, step = self.n_stations, self._rows_per_pass
        for s0 in range(0, n, step):
            m = min(step, n - s0)
            rows = (np.arange(self.functionals.n)[:, None] * n + s0 + np.arange(m)[None, :]).ravel()
            yield s0, m, rows

    def _compute(self, s0: int, m: int) -> np.ndarray:
        return cell_fields(self.blocks, self.stations[s0:s0 + m], self.functionals, coefficients=self._coef,
                           chunk=self.options.chunk)

    def _build_truncated(self) -> None:
        nk = self.functionals.n
        for s0, m, _ in self._passes():
            block = self._compute(s0, m)  # (n_cells, nk * m)
            thresholds = _row_thresholds(block, self._volume, self.options.compression, self.comm)
            for k in range(nk):
                part = block[:, k * m:(k + 1) * m].T  # rows of J for component k
                keep = np.abs(part) >= thresholds[k * m:(k + 1) * m, None] * self._volume[None, :]
                rows, cols = np.nonzero(keep)
                indptr = np.zeros(m + 1, np.int64)
                np.cumsum(np.bincount(rows, minlength=m), out=indptr[1:])
                self._pieces.append((k * self.n_stations + s0, indptr, cols.astype(np.int32),
                                     part[rows, cols].astype(self._dtype)))

    @property
    def stored_bytes(self) -> int:
        """Bytes of the stored sensitivities on this rank."""
        if self._dense is not None:
            return self._dense.nbytes
        return sum(p[1].nbytes + p[2].nbytes + p[3].nbytes for p in self._pieces)

    # ------------------------------------------------------------ products
    def matvec(self, v: np.ndarray) -> np.ndarray:
        """This rank's part of J v (``v`` on this rank's columns); sum over ranks for J v."""
        v = np.ascontiguousarray(v, dtype=np.float64)[self._order]
        out = np.zeros(self.n_data)
        if self.options.storage == "none":
            for s0, m, rows in self._passes():
                out[rows] = self._compute(s0, m).T @ v
        elif self._dense is not None:
            if self._dense.dtype == np.float64:
                out[:] = self._dense.T @ v
            else:
                for c0 in range(0, self.n_cells, _CONVERT_ROWS):
                    rows = self._dense[c0:c0 + _CONVERT_ROWS].astype(np.float64)
                    out += rows.T @ v[c0:c0 + _CONVERT_ROWS]
        else:
            for row0, indptr, indices, data in self._pieces:
                _csr_matvec(indptr, indices, data, v, out[row0:row0 + len(indptr) - 1])
        return out

    def matvec_per_component(self, V: np.ndarray) -> np.ndarray:
        """This rank's part of the data when component k sees its own model ``V[:, k]``
        (e.g. one component of a magnetization vector per component)."""
        V = np.ascontiguousarray(np.asarray(V, dtype=np.float64)[self._order])
        nk, n = self.functionals.n, self.n_stations
        out = np.zeros(self.n_data)
        if self.options.storage == "none":
            for s0, m, rows in self._passes():
                block = self._compute(s0, m)
                for k in range(nk):
                    out[rows[k * m:(k + 1) * m]] = block[:, k * m:(k + 1) * m].T @ V[:, k]
        elif self._dense is not None:
            for k in range(nk):
                out[k * n:(k + 1) * n] = self._dense[:, k * n:(k + 1) * n].T.astype(np.float64) @ V[:, k]
        else:
            for row0, indptr, indices, data in self._pieces:
                _csr_matvec(indptr, indices, data, V[:, row0 // n].copy(), out[row0:row0 + len(indptr) - 1])
        return out

    def rmatvec(self, w: np.ndarray) -> np.ndarray:
        """J^T w on this rank's columns (``w`` replicated, all data)."""
        w = np.ascontiguousarray(w, dtype=np.float64)
        y = np.zeros(self.n_cells)
        if self.options.storage == "none":
            for s0, m, rows in self._passes():
                y += self._compute(s0, m) @ w[rows]
        elif self._dense is not None:
            if self._dense.dtype == np.float64:
                y[:] = self._dense @ w
            else:
                for c0 in range(0, self.n_cells, _CONVERT_ROWS):
                    y[c0:c0 + _CONVERT_ROWS] = self._dense[c0:c0 + _CONVERT_ROWS].astype(np.float64) @ w
        else:
            for row0, indptr, indices, data in self._pieces:
                _csr_rmatvec(indptr, indices, data, w[row0:row0 + len(indptr) - 1], y)
        out = np.empty(self.n_cells)
        out[self._order] = y
        return out

    def column_norms(self) -> np.ndarray:
        """sqrt(sum_i J_ij^2) of each of this rank's columns."""
        sq = np.zeros(self.n_cells)
        if self.options.storage == "none":
            for s0, m, _ in self._passes():
                block = self._compute(s0, m)
                sq += np.einsum("ij,ij->i", block, block)
        elif self._dense is not None:
            for c0 in range(0, self.n_cells, _CONVERT_ROWS):
                rows = self._dense[c0:c0 + _CONVERT_ROWS].astype(np.float64)
                sq[c0:c0 + _CONVERT_ROWS] = np.einsum("ij,ij->i", rows, rows)
        else:
            for _, _, indices, data in self._pieces:
                sq += np.bincount(indices, weights=data.astype(np.float64) ** 2, minlength=self.n_cells)
        out = np.empty(self.n_cells)
        out[self._order] = np.sqrt(sq)
        return out


def _row_thresholds(block: np.ndarray, volume: np.ndarray, tolerance: float, comm: MPI.Comm) -> np.ndarray:
    """Collective: per column of ``block`` (a datum; this rank's cells, of ``volume``, as
    rows), tolerance times the largest |J_ij| / V_j over all ranks."""
    k = np.abs(block) / volume[:, None]
    top = k.max(axis=0) if k.shape[0] else np.zeros(k.shape[1])
    comm.Allreduce(MPI.IN_PLACE, top, op=MPI.MAX)
    return tolerance * top


@_jit
def _csr_matvec(indptr, indices, data, x, out):
    for i in range(len(indptr) - 1):
        acc = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            acc += data[p] * x[indices[p]]
        out[i] = acc


@_jit
def _csr_rmatvec(indptr, indices, data, w, out):
    for i in range(len(indptr) - 1):
        wi = w[i]
        for p in range(indptr[i], indptr[i + 1]):
            out[indices[p]] += data[p] * wi
