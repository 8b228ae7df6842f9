"""Removal of a regional field from potential-field data: a constant or a plane.

Gravity and magnetic data are inverted as anomalies: the field of sources outside
the model (the regional) is removed first.  Two simple regionals, fitted by least
squares to each component over all stations:

``constant``   d - mean(d)
``plane``      d - (a + b (x - x0) + c (y - y0)), x0, y0 the mean station position
               (centred for a well-conditioned fit)
"""

from __future__ import annotations

import numpy as np

KINDS = ("none", "constant", "plane")


def remove_regional(xyz: np.ndarray, values: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """(residual, coefficients) for ``values`` of shape (n_components, n_stations).

    Coefficients are per component: [] for ``none``, [a] for ``constant`` and
    [a, b, c] (value units, per metre) for ``plane``, with the plane centred on the
    mean station position.
    """
    values = np.asarray(values, dtype=np.float64)
    if kind not in KINDS:
        raise ValueError(f"unknown regional {kind!r}; choose from {', '.join(KINDS)}")
    if kind == "none":
        return values.copy(), np.zeros((len(values), 0))
    xy = np.asarray(xyz, dtype=np.float64)[:, :2]
    if kind == "constant":
        design = np.ones((len(xy), 1))
    else:
        centred = xy - xy.mean(axis=0)
        design = np.column_stack([np.ones(len(xy)), centred])
    coef, *_ = np.linalg.lstsq(design, values.T, rcond=None)
    return values - (design @ coef).T, coef.T
