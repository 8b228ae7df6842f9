"""DC data as an inversion sees them: log apparent resistivity.

Apparent resistivities span decades, so the data are d = log(rho_a) = log(k R): a
relative error e in rho_a is an absolute error e in d.  Geometric factors k are
numerical (a homogeneous run on the same mesh), so topography does not bias the data.
"""

from __future__ import annotations

import numpy as np

from .simulation import DCSimulation


class LogApparentResistivity:
    """dpred/Jvec/Jtvec of log(rho_a) for a :class:`DCSimulation` (m = log sigma per cell)."""

    def __init__(self, simulation: DCSimulation, k: np.ndarray):
        self.simulation, self.k = simulation, np.asarray(k, float)
        self.n_data = simulation.n_data

    def dpred(self, m):
        return np.log(self.k * self.simulation.dpred(m))

    def Jvec(self, m, v):
        return self.simulation.Jvec(m, v) / self.simulation.dpred(m)

    def Jtvec(self, m, w):
        return self.simulation.Jtvec(m, np.asarray(w) / self.simulation.dpred(m))
