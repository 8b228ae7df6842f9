"""Shared pieces of the potential-field simulations (gravity and magnetics).

* :mod:`.topography`: the earth surface of a mesh on every rank, for draping stations,
  flagging stations below it (boreholes) and depths of cells;
* :mod:`.sensitivity`: the distributed sensitivity matrix (columns on the rank that
  owns the cell), its storage options (float64, float32, truncation, recompute), the
  memory estimate and the refusal when it will not fit;
* :mod:`.simulation`: :class:`PotentialSimulation`, the linear simulation
  d = J m (+ a fixed part) with ``dpred``, ``Jvec`` and ``Jtvec``;
* :mod:`.weighting`: depth and sensitivity weights for regularization;
* :mod:`.regional`: removal of a constant or a least-squares plane from data;
* :mod:`.forward`: the ``[survey]``, ``[sensitivity]`` and ``[output]`` tables that
  ``parjoint forward`` reads for both physics.

Conventions (both physics): positions x east, y north, z up (elevation), metres; field
components x east, y north, **z down** (the gravity-anomaly and geomagnetic
convention).  The data vector is component-major: component k at station s is entry
``k * n_stations + s``.
"""

from .simulation import PotentialSimulation
from .sensitivity import StorageOptions

__all__ = ["PotentialSimulation", "StorageOptions"]
