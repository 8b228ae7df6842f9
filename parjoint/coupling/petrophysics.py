"""Petrophysical relations, as maps (one property drives several physics) or as penalties.

Each relation is an element-wise function y = f(x) written with numpy operations that
accept complex numbers, so its derivative is exact by the complex step,
f'(x) = Im f(x + i h) / h with h = 1e-30 (no cancellation, no step-size error).

Relations (SI units; conductivity in S/m, velocity in m/s, density in kg/m^3):

* ``archie``: porosity phi -> log conductivity, sigma = (1/a) sigma_w phi^m S_w^n
  (Archie 1942; seed eq. 1); a in (0.3, 3), m in [1, 4], n in [1, 4];
* ``density``: porosity -> density, rho = (1 - phi) rho_ma + phi (S_w rho_w + S_o rho_o + S_g rho_g)
  (seed eq. 3), minus an optional reference density (gravity models density contrasts);
* ``gassmann``: porosity -> P velocity, V_P = sqrt((K_sat + 4/3 mu) / rho) with Gassmann's
  K_sat = K_dry + (1 - K_dry/K_min)^2 / (phi/K_fl + (1 - phi)/K_min - K_dry/K_min^2) and a
  critical-porosity dry frame K_dry = K_min (1 - phi/phi_c), mu = mu_min (1 - phi/phi_c)
  (Gassmann 1951, Nur et al. 1998; seed eqs. 2-3);
* ``faust``: log conductivity -> velocity, v = K H^C R^d with R = 1/sigma and depth H
  below the surface (Faust 1953; seed eq. 4);
* ``heincke``: velocity -> log conductivity, sigma = exp(-a v^2 - b v - c) with
  a = 2.31e-7, b = -5.79e-4, c = 0.124 (Heincke et al. 2006; seed eq. 5);
* ``heincke_density``: velocity -> density, rho = (v + 8500) / 5000 g/cm^3, as
  Moorkamp et al. (2011) use it (the seed's eq. 6 prints 1/v, a typo: it would give
  1.7 g/cm^3 for every rock);
* ``polynomial``: y = sum_k c_k x^k (a user relation, linear with two coefficients).

A :class:`PetroMap` applies a relation cell by cell as a model map.
:class:`PetroPenalty` keeps both properties free but pulls them toward the relation:
phi = sum_c v_c r_c^2 with r_c = b_c - f(a_c), or, for a wide-range relation (band
half-width w > 0), r_c = sign(d) max(|d| - w, 0) with d = b_c - f(a_c): no cost inside
the band around the curve (the wide-range constraint of seed section 1.1).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..inversion.layout import ModelLayout
from ..inversion.maps import Map
from ..inversion.terms import Term
from .structure import _Pair

_H = 1e-30


class Relation:
    def __init__(self, name: str, f: Callable[[np.ndarray], np.ndarray]):
        self.name, self.f = name, f

    def __call__(self, x):
        return self.f(np.asarray(x, dtype=np.float64))

    def derivative(self, x):
        return np.imag(self.f(np.asarray(x, dtype=np.float64) + 1j * _H)) / _H


def archie(a: float = 1.0, m: float = 2.0, n: float = 2.0, sigma_w: float = 1.0, saturation: float = 1.0) -> Relation:
    if not (0.3 <= a <= 3.0 and 1.0 <= m <= 4.0 and 1.0 <= n <= 4.0):
        raise ValueError(f"Archie parameters out of physical range: a = {a} (0.3..3), m = {m} (1..4), n = {n} (1..4)")
    if sigma_w <= 0 or not 0 < saturation <= 1:
        raise ValueError("Archie needs sigma_w > 0 and 0 < saturation <= 1")
    const = np.log(sigma_w / a) + n * np.log(saturation)
    return Relation("archie", lambda phi: const + m * np.log(phi))


def density(rho_matrix: float = 2650.0, rho_water: float = 1000.0, saturation: float = 1.0, rho_oil: float = 850.0,
            oil: float = 0.0, rho_gas: float = 1.0, gas: float = 0.0, reference: float = 0.0) -> Relation:
    fluid = saturation * rho_water + oil * rho_oil + gas * rho_gas
    return Relation("density", lambda phi: (1.0 - phi) * rho_matrix + phi * fluid - reference)


def gassmann(k_mineral: float = 37e9, mu_mineral: float = 44e9, k_fluid: float = 2.25e9,
             rho_matrix: float = 2650.0, rho_fluid: float = 1000.0, critical_porosity: float = 0.4) -> Relation:
    def vp(phi):
        frame = 1.0 - phi / critical_porosity
        k_dry, mu = k_mineral * frame, mu_mineral * frame
        k_sat = k_dry + (1.0 - k_dry / k_mineral) ** 2 / (phi / k_fluid + (1.0 - phi) / k_mineral
                                                          - k_dry / k_mineral**2)
        rho = (1.0 - phi) * rho_matrix + phi * rho_fluid
        return np.sqrt((k_sat + 4.0 / 3.0 * mu) / rho)

    return Relation("gassmann", vp)


def faust(depth: np.ndarray, k: float = 1948.0, c: float = 1.0 / 6.0, d: float = 1.0 / 6.0) -> Relation:
    """v = k H^c R^d, R = exp(-log sigma); ``depth`` per cell of the block (m), v in m/s."""
    h = np.maximum(np.asarray(depth, float), 1e-3)
    return Relation("faust", lambda log_sigma: k * h**c * np.exp(-d * log_sigma))


def heincke() -> Relation:
    a, b, c = 2.31e-7, -5.79e-4, 0.124
    return Relation("heincke", lambda v: -(a * v * v + b * v + c))


def heincke_density(reference: float = 0.0) -> Relation:
    return Relation("heincke_density", lambda v: (v + 8500.0) / 5000.0 * 1000.0 - reference)


def polynomial(coefficients: list[float]) -> Relation:
    coeffs = np.asarray(coefficients, float)
    return Relation("polynomial", lambda x: sum(ck * x**k for k, ck in enumerate(coeffs)))


class PetroMap(Map):
    """A relation applied cell by cell as a model map."""

    def __init__(self, relation: Relation):
        self.relation = relation

    def __call__(self, x):
        return self.relation(x)

    def deriv(self, x, v):
        return self.relation.derivative(x) * v

    def deriv_t(self, x, w):
        return self.relation.derivative(x) * w


class PetroPenalty(Term):
    """sum_c v_c r_c^2, r_c the misfit of (a_c, b_c) to b = f(a), outside a band of half-width ``band``."""

    def __init__(self, layout: ModelLayout, block_a: str, block_b: str, relation: Relation, band: float = 0.0):
        self.name = f"petrophysics({relation.name}:{block_a}->{block_b})"
        self.blocks = [block_a, block_b]
        self.layout, self.relation, self.band = layout, relation, band
        self.pair = _Pair(layout, [block_a, block_b])
        self.v = self.pair.v

    def _residual(self, x):
        mask = self.pair.common
        a, b = self.pair.cells(x, 0)[mask], self.pair.cells(x, 1)[mask]
        d = b - self.relation(a)
        if self.band > 0:
            r = np.sign(d) * np.maximum(np.abs(d) - self.band, 0.0)
            outside = np.abs(d) > self.band
        else:
            r, outside = d, np.ones(len(d), bool)
        return a, r, outside

    def value(self, x):
        _, r, _ = self._residual(x)
        return float(self.layout.comm.allreduce(float(np.sum(self.v * r * r))))

    def _jt(self, a, outside, y):
        """J^T y for r: dr/da = -f'(a), dr/db = 1 (zero inside the band)."""
        mask = self.pair.common
        ga, gb = np.zeros(self.layout.mesh.n_cells), np.zeros(self.layout.mesh.n_cells)
        ga[mask] = -self.relation.derivative(a) * y * outside
        gb[mask] = y * outside
        return self.pair.place([ga, gb])

    def gradient(self, x):
        a, r, outside = self._residual(x)
        return self._jt(a, outside, 2.0 * self.v * r)

    def hessvec(self, x, v):
        a, _, outside = self._residual(x)
        mask = self.pair.common
        va, vb = self.pair.cells(v, 0)[mask], self.pair.cells(v, 1)[mask]
        jv = (vb - self.relation.derivative(a) * va) * outside
        return self._jt(a, outside, 2.0 * self.v * jv)
