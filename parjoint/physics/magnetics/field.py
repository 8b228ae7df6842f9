"""The inducing (geomagnetic) field and the directions of magnetic data components.

Angles in degrees: inclination I positive below the horizontal, in [-90, 90];
declination D clockwise from north (east positive).  The unit vector of the field in
the east-north-up frame of positions is (cos I sin D, cos I cos D, -sin I).

Components (nT), in the frame x east, y north, z down of the other field data:

``tmi``  total-magnetic-intensity anomaly, the projection of the anomalous field on
         the direction of the inducing field.  |B0 + b| - |B0| = b . B0/|B0| +
         O(|b|^2 / |B0|): exact to first order in |b| / |B0| (below 0.1% of |b| for
         anomalies under 100 nT in a 50000 nT field).
``bx``   east component of the anomalous field
``by``   north component
``bz``   vertical component, positive down
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

COMPONENTS = ("tmi", "bx", "by", "bz")


def unit_vector(inclination: float, declination: float) -> np.ndarray:
    """East-north-up unit vector of a direction given by inclination and declination (degrees)."""
    i, d = math.radians(inclination), math.radians(declination)
    return np.array([math.cos(i) * math.sin(d), math.cos(i) * math.cos(d), -math.sin(i)])


@dataclass(frozen=True)
class InducingField:
    """The geomagnetic field: inclination and declination (degrees), strength (nT)."""

    inclination: float
    declination: float
    strength: float

    def problem(self) -> str | None:
        """Why the field is unusable, or None."""
        if not all(math.isfinite(v) for v in (self.inclination, self.declination, self.strength)):
            return "inclination, declination and strength must be finite"
        if not -90.0 <= self.inclination <= 90.0:
            return f"inclination {self.inclination:g} degrees outside [-90, 90]"
        if self.strength <= 0:
            return f"field strength must be positive (nT), got {self.strength:g}"
        return None

    @property
    def direction(self) -> np.ndarray:
        return unit_vector(self.inclination, self.declination)

    @property
    def vector(self) -> np.ndarray:
        """B0 in nT, east-north-up."""
        return self.strength * self.direction


def component_direction(name: str, field: InducingField) -> np.ndarray:
    """East-north-up unit vector onto which component ``name`` projects the anomalous field."""
    if name == "tmi":
        return field.direction
    axes = {"bx": [1.0, 0.0, 0.0], "by": [0.0, 1.0, 0.0], "bz": [0.0, 0.0, -1.0]}
    if name not in axes:
        raise ValueError(f"unknown magnetic component {name!r}; choose from {', '.join(COMPONENTS)}")
    return np.array(axes[name])
