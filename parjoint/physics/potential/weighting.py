"""Depth and sensitivity weights of the cells, for regularization of potential-field
inversions (Li & Oldenburg, 1996, 1998).

A potential-field kernel decays with distance, so an unweighted smallest model puts
all structure next to the stations.  Two counter-weights, per owned cell, scaled so
that the largest over all ranks is 1 (zero in inactive cells):

``depth_weights``
    w(z) = (d + z0)^(-beta / 2), d the depth of the cell centroid below the mesh
    surface vertically above it (m, at least 0) and z0 (m) a constant of the order
    of the station height above the cells; beta = 3 matches the decay of a dipole
    field (magnetics), beta = 2 that of gravity.
``sensitivity_weights``
    w_j = sqrt(sum_i J_ij^2), the root-sum-square of cell j's column of J (the
    "distance" weighting of topographic meshes and borehole data, where depth alone
    is ambiguous), optionally raised to a power.
"""

from __future__ import annotations

import numpy as np
from mpi4py import MPI

from ...mesh.surface import Topography


def depth_weights(mesh, z0: float, beta: float, active: np.ndarray | None = None,
                  topography: Topography | None = None) -> np.ndarray:
    """Collective: (d + z0)^(-beta / 2) per owned cell, scaled to a largest value of 1."""
    if z0 <= 0 or beta < 0:
        raise ValueError("depth weighting needs z0 > 0 and beta >= 0")
    active = ~mesh.is_air if active is None else np.asarray(active, bool)
    topography = topography or Topography(mesh)
    c = mesh.centroid[active]
    depth = topography.elevation(c[:, :2]) - c[:, 2]
    # a cell outside the surface footprint (none in a mesh built by parjoint) gets depth 0
    depth = np.maximum(np.nan_to_num(depth, nan=0.0), 0.0)
    out = np.zeros(mesh.n_cells)
    out[active] = (depth + z0) ** (-0.5 * beta)
    return _scaled(out, mesh.comm)


def sensitivity_weights(simulation, power: float = 1.0) -> np.ndarray:
    """Collective: (sqrt(sum_i J_ij^2))^power per owned cell, scaled to a largest value of 1."""
    out = np.zeros(simulation.mesh.n_cells)
    out[simulation.active_index] = simulation.sensitivity.column_norms() ** power
    return _scaled(out, simulation.comm)


def _scaled(values: np.ndarray, comm: MPI.Comm) -> np.ndarray:
    top = comm.allreduce(float(values.max()) if len(values) else 0.0, op=MPI.MAX)
    return values / top if top > 0 else values
