"""Plane-wave fields of a 1-D layered medium (the MT boundary values and references).

Convention: time dependence e^{+i omega t}, SI units, depth d positive downward.  In a
layer of conductivity sigma the horizontal electric field satisfies
E'' = k^2 E with k = sqrt(i omega mu0 sigma) (Re k > 0), and with the intrinsic
impedance zeta = i omega mu0 / k the field in a layer of thickness h is written as a
down-going wave and its reflection from the layer's bottom,

    E(d) = D (e^{-k d} + r e^{-k (2h - d)}),   H(d) = (D / zeta) (e^{-k d} - r e^{-k (2h - d)}),
    r = (Z_below - zeta) / (Z_below + zeta),

where Z_below is the impedance E/H at the top of the next layer (the recursion of Wait
1954, *Geophysics* 19, 281; Ward & Hohmann 1988, eq. 4.146).  Every exponential decays
(Re k > 0 and 0 <= d <= h), so the evaluation is stable at any frequency and depth,
unlike the cosh/sinh form.  The half-space below the last interface has r = 0.  A
plane-wave impedance of a half-space is Z = sqrt(i omega mu0 / sigma), phase +45
degrees with e^{+i omega t}.
"""

from __future__ import annotations

import numba
import numpy as np

MU0 = 4e-7 * np.pi  #: magnetic permeability of free space (H/m), used throughout MT

_jit = numba.njit(cache=True, nogil=True)


def layered_impedance(frequency: np.ndarray, sigma: np.ndarray, thickness: np.ndarray) -> np.ndarray:
    """Surface impedance E/H (ohm) of a layered earth for each frequency (Hz).

    ``sigma`` (S/m) lists the layers from the top, the last one a half-space;
    ``thickness`` (m) has one entry fewer.
    """
    omega = 2 * np.pi * np.asarray(frequency, dtype=np.float64)
    sigma = np.asarray(sigma, dtype=np.float64)
    k = np.sqrt(1j * omega[:, None] * MU0 * sigma[None, :])
    zeta = 1j * omega[:, None] * MU0 / k
    Z = zeta[:, -1]
    for j in range(len(sigma) - 2, -1, -1):
        r = (Z - zeta[:, j]) / (Z + zeta[:, j])
        t = r * np.exp(-2 * k[:, j] * thickness[j])
        Z = zeta[:, j] * (1 + t) / (1 - t)
    return Z


@_jit
def layered_field(omega, tops, sigma, n, z):
    """E at elevation z (m, up) of a column of n layers with top elevations ``tops``
    (decreasing; the last layer extends to -infinity), for unit H at tops[0]."""
    mu_omega = omega * 4e-7 * np.pi
    # bottom-up impedance and reflection coefficient of each layer
    Z = np.empty(n, np.complex128)
    r = np.empty(n, np.complex128)
    k = np.empty(n, np.complex128)
    zeta = np.empty(n, np.complex128)
    for j in range(n):
        k[j] = np.sqrt(1j * mu_omega * sigma[j])
        zeta[j] = 1j * mu_omega / k[j]
    r[n - 1] = 0.0
    Z[n - 1] = zeta[n - 1]
    for j in range(n - 2, -1, -1):
        h = tops[j] - tops[j + 1]
        r[j] = (Z[j + 1] - zeta[j]) / (Z[j + 1] + zeta[j])
        t = r[j] * np.exp(-2.0 * k[j] * h)
        Z[j] = zeta[j] * (1.0 + t) / (1.0 - t)
    # top-down: unit H at the top, E continuous across interfaces
    E_top = Z[0]
    j = 0
    while j < n - 1 and z < tops[j + 1]:
        h = tops[j] - tops[j + 1]
        D = E_top / (1.0 + r[j] * np.exp(-2.0 * k[j] * h))
        E_top = D * np.exp(-k[j] * h) * (1.0 + r[j])
        j += 1
    d = max(tops[j] - z, 0.0)
    if j == n - 1:
        return E_top * np.exp(-k[j] * d)
    h = tops[j] - tops[j + 1]
    D = E_top / (1.0 + r[j] * np.exp(-2.0 * k[j] * h))
    return D * (np.exp(-k[j] * d) + r[j] * np.exp(-k[j] * (2.0 * h - d)))
