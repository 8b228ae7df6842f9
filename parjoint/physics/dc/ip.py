"""Induced polarization: apparent chargeability from chargeability per cell.

Seigel (1959): a chargeable earth behaves, at the end of the current pulse, like the
DC earth with sigma_ip = sigma (1 - eta), eta in [0, 1) (V/V).  The apparent
chargeability of a datum with transfer resistances R(sigma) and R(sigma_ip) is

    eta_a = 1 - R(sigma) / R(sigma_ip)                     (mode "nonlinear")

and, to first order in eta,

    eta_a = -(1/R) sum_c (dR/dlog sigma_c) eta_c             (mode "linear")

the linearised sensitivity commonly used for IP inversion with sigma fixed.  Both
modes give exact derivatives of their own forward map.
"""

from __future__ import annotations

import numpy as np

from .simulation import DCSimulation

MODES = ("linear", "nonlinear")


class IPSimulation:
    """Apparent chargeability (V/V) for chargeability eta per owned cell, on a fixed
    background conductivity ``log_sigma`` (per owned cell) of a :class:`DCSimulation`."""

    def __init__(self, dc: DCSimulation, log_sigma: np.ndarray, mode: str = "linear"):
        if mode not in MODES:
            raise ValueError(f"IP mode {mode!r}: choose one of {MODES}")
        self.dc, self.mode = dc, mode
        self.log_sigma = np.asarray(log_sigma, dtype=np.float64)
        self.R0 = dc.dpred(self.log_sigma)

    @property
    def n_data(self) -> int:
        return self.dc.n_data

    def _ip_model(self, eta: np.ndarray) -> np.ndarray:
        return self.log_sigma + np.log1p(-np.asarray(eta, dtype=np.float64))

    def dpred(self, eta: np.ndarray) -> np.ndarray:
        if self.mode == "linear":
            return -self.dc.Jvec(self.log_sigma, eta) / self.R0
        return 1.0 - self.R0 / self.dc.dpred(self._ip_model(eta))

    def Jvec(self, eta: np.ndarray, v: np.ndarray) -> np.ndarray:
        if self.mode == "linear":
            return -self.dc.Jvec(self.log_sigma, v) / self.R0
        m_ip = self._ip_model(eta)
        R1 = self.dc.dpred(m_ip)
        return self.R0 / R1**2 * self.dc.Jvec(m_ip, -np.asarray(v) / (1.0 - np.asarray(eta)))

    def Jtvec(self, eta: np.ndarray, w: np.ndarray) -> np.ndarray:
        if self.mode == "linear":
            return -self.dc.Jtvec(self.log_sigma, np.asarray(w) / self.R0)
        m_ip = self._ip_model(eta)
        R1 = self.dc.dpred(m_ip)
        return -self.dc.Jtvec(m_ip, self.R0 / R1**2 * np.asarray(w)) / (1.0 - np.asarray(eta))
