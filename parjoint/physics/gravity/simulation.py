"""Gravity of a piecewise-constant density contrast on a tetrahedral mesh.

Model: density contrast per owned cell, kg/m^3 (air cells are not part of the model).
Data (component-major, see :mod:`parjoint.physics.potential`), with field components
in the frame x east, y north, z **down**:

=========  ========  ==========================================================
``gx``     mGal      east component of the attraction
``gy``     mGal      north component
``gz``     mGal      vertical component, positive down: positive over an excess
                     of mass (the gravity anomaly of GRAV3D and field data)
``gxx`` .. Eotvos    gradient tensor d g_i / d x_j in the same east-north-down
``gzz``              frame (gxx, gxy, gxz, gyy, gyz, gzz); 1 Eotvos = 1e-9 s^-2
=========  ========  ==========================================================

1 mGal = 1e-5 m/s^2.  Each cell's contribution is exact (closed-form polyhedron
formulas, :mod:`parjoint.physics.gravity.kernels`), also for stations on the
topographic surface or inside the earth (boreholes).
"""

from __future__ import annotations

import numpy as np

from ..potential.sensitivity import StorageOptions
from ..potential.simulation import PotentialSimulation
from .kernels import G, Functionals

MGAL = 1e5  #: mGal per m/s^2
EOTVOS = 1e9  #: Eotvos per s^-2
# east-north-down components from the east-north-up fields of the kernels
_SIGN = np.array([1.0, 1.0, -1.0])
_AXIS = {"x": 0, "y": 1, "z": 2}
VECTOR = ("gx", "gy", "gz")
TENSOR = ("gxx", "gxy", "gxz", "gyy", "gyz", "gzz")
COMPONENTS = VECTOR + TENSOR
UNITS = {**{c: "mGal" for c in VECTOR}, **{c: "Eotvos" for c in TENSOR}}


def gravity_functionals(components: tuple[str, ...]) -> Functionals:
    """The kernel functionals giving each component for a density of 1 kg/m^3."""
    n = len(components)
    alpha, beta = np.zeros((n, 3)), np.zeros((n, 3, 3))
    for k, name in enumerate(components):
        if name in VECTOR:
            i = _AXIS[name[1]]
            alpha[k, i] = G * MGAL * _SIGN[i]
        elif name in TENSOR:
            i, j = _AXIS[name[1]], _AXIS[name[2]]
            value = G * EOTVOS * _SIGN[i] * _SIGN[j]
            beta[k, i, j] += 0.5 * value  # symmetric: T1 is symmetric, its face sums are not
            beta[k, j, i] += 0.5 * value
        else:
            raise ValueError(f"unknown gravity component {name!r}; choose from {', '.join(COMPONENTS)}")
    return Functionals(alpha, beta, np.zeros(n))


class GravitySimulation(PotentialSimulation):
    """Collective: gravity data at ``stations`` (n, 3; m) for a density-contrast model."""

    def __init__(self, mesh, stations: np.ndarray, components: tuple[str, ...] = ("gz",), *,
                 active: np.ndarray | None = None, options: StorageOptions = StorageOptions(), verbose: bool = True):
        components = tuple(components)
        super().__init__(mesh, stations, gravity_functionals(components), components,
                         tuple(UNITS[c] for c in components), active=active, options=options, label="gravity",
                         verbose=verbose)
