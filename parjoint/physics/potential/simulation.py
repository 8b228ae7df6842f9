"""A linear potential-field simulation on a distributed mesh: d = J m + d0.

The model m is one value per owned cell (density contrast in kg/m^3, susceptibility
in SI).  Only *active* cells (by default every cell outside the ``air`` region) have
columns in J; the model's values in other cells are ignored and their sensitivities
are zero.  d0 is a fixed part independent of m (the field of remanent magnetization),
zero unless given.  Data are replicated on every rank; see
:mod:`parjoint.physics.potential` for the frame and the order of the data vector.
"""

from __future__ import annotations

import numpy as np
from mpi4py import MPI

from ...parallel import print0
from ..gravity.kernels import Functionals
from .sensitivity import Sensitivity, StorageOptions


class PotentialSimulation:
    """Collective: J for ``stations`` (n, 3) and the components of ``functionals``.

    ``components`` names the components (one per functional), ``units`` their units;
    ``offset`` is d0 (replicated, length n_data).  ``verbose`` prints the memory report
    on rank 0.
    """

    def __init__(self, mesh, stations: np.ndarray, functionals: Functionals, components: tuple[str, ...],
                 units: tuple[str, ...], *, active: np.ndarray | None = None,
                 options: StorageOptions = StorageOptions(), offset: np.ndarray | None = None,
                 label: str = "", verbose: bool = True):
        self.mesh = mesh
        self.comm: MPI.Comm = mesh.comm
        self.stations = np.ascontiguousarray(stations, dtype=np.float64).reshape(-1, 3)
        self.components = tuple(components)
        self.units = tuple(units)
        self.active = ~mesh.is_air if active is None else np.asarray(active, bool)
        self.active_index = np.flatnonzero(self.active)
        log = (lambda line: print0(line, comm=self.comm)) if verbose else None
        self.sensitivity = Sensitivity(mesh.vertex_coords, mesh.cell_vertices[self.active_index],
                                       mesh.vertex_original, self.stations, functionals, options, self.comm,
                                       log=log, label=label, volume=mesh.volume[self.active_index])
        self.n_data = self.sensitivity.n_data
        self.offset = np.zeros(self.n_data) if offset is None else np.asarray(offset, dtype=np.float64)

    @property
    def n_stations(self) -> int:
        return len(self.stations)

    def dpred(self, m: np.ndarray) -> np.ndarray:
        """Collective: predicted data (replicated), J m + d0."""
        return self._apply(m) + self.offset

    def Jvec(self, m: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Collective: J v (the data are linear in m, so J does not depend on m)."""
        return self._apply(v)

    def Jtvec(self, m: np.ndarray, w: np.ndarray) -> np.ndarray:
        """J^T w on the owned cells (zero in inactive cells); no communication."""
        out = np.zeros(self.mesh.n_cells)
        out[self.active_index] = self.sensitivity.rmatvec(w)
        return out

    def _apply(self, v: np.ndarray) -> np.ndarray:
        v = np.asarray(v, dtype=np.float64)
        if v.shape != (self.mesh.n_cells,):
            raise ValueError(f"expected one value per owned cell ({self.mesh.n_cells}), got shape {v.shape}")
        out = self.sensitivity.matvec(v[self.active_index])
        self.comm.Allreduce(MPI.IN_PLACE, out, op=MPI.SUM)
        return out

    def by_component(self, d: np.ndarray) -> np.ndarray:
        """A data vector as (n_components, n_stations)."""
        return np.asarray(d).reshape(len(self.components), self.n_stations)
