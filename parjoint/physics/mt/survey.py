"""MT surveys: stations, frequencies, which responses are data, and the data vector.

Frames.  The mesh is x east, y north, z up (metres).  Responses are reported in the
usual geographic station frame, **x north, y east, z down** (as EDI files expect):
E_x = E_north, H_y = H_east, H_z = -H_up.  The impedance tensor Z (ohm, SI) maps
(H_x, H_y) to (E_x, E_y); the tipper T maps (H_x, H_y) to H_z.  Time dependence is
e^{+i omega t}, so on a half-space Z_xy = sqrt(omega mu0 rho) e^{i pi/4} (phase +45
degrees) and Z_yx = -Z_xy (phase -135 degrees).

Responses of one station at one frequency, in this order (``COMPONENTS``):
Z_xx, Z_xy, Z_yx, Z_yy, T_zx, T_zy.  ``mask[f, s, c]`` says which are data.

The real data vector lists, for each frequency (ascending), each station (survey
order) and each masked component (above order), two numbers: Re and Im of the
response (``kind = "impedance"``; the diagonal impedances and the tipper always), or
for Z_xy and Z_yx with ``kind = "rho_phase"`` log10 of the apparent resistivity
rho_a = |Z|^2 / (omega mu0) (ohm m) and the phase atan2(Im Z, Re Z) in degrees.  (The
diagonal components stay Re/Im: they can be near zero, where log rho_a and the phase
are ill-defined.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .layered import MU0

COMPONENTS = ("zxx", "zxy", "zyx", "zyy", "tzx", "tzy")
KINDS = ("impedance", "rho_phase")
_DEG = 180.0 / np.pi


@dataclass
class MTSurvey:
    """Stations (mesh frame, m), frequencies (Hz, ascending) and the data mask."""

    xyz: np.ndarray  #: (n_stations, 3) x east, y north, z up (m)
    frequencies: np.ndarray  #: (n_frequencies,) Hz, strictly increasing
    mask: np.ndarray  #: (n_frequencies, n_stations, 6) bool, which responses are data
    names: list[str] = field(default_factory=list)
    kind: str = "impedance"
    sources: list[str] = field(default_factory=list)  #: optional file each station came from (messages)

    def __post_init__(self):
        self.xyz = np.asarray(self.xyz, dtype=np.float64).reshape(-1, 3)
        self.frequencies = np.asarray(self.frequencies, dtype=np.float64).ravel()
        self.mask = np.asarray(self.mask, dtype=bool)
        if not self.names:
            self.names = [f"MT{k + 1:03d}" for k in range(len(self.xyz))]

    @property
    def n_stations(self) -> int:
        return len(self.xyz)

    @property
    def n_frequencies(self) -> int:
        return len(self.frequencies)

    @property
    def n_data(self) -> int:
        return 2 * int(self.mask.sum())

    def validate(self) -> str | None:
        """A message for the first problem found, else None."""
        f = self.frequencies
        if len(f) == 0:
            return "no frequencies"
        if not np.all(np.isfinite(f)) or np.any(f <= 0):
            bad = f[~(np.isfinite(f) & (f > 0))][0]
            return f"frequencies must be positive and finite, got {bad:g} Hz"
        if np.any(np.diff(f) <= 0):
            return "frequencies must be strictly increasing (unique)"
        if self.n_stations == 0:
            return "no stations"
        if not np.all(np.isfinite(self.xyz)):
            return "station coordinates must be finite"
        if self.mask.shape != (self.n_frequencies, self.n_stations, len(COMPONENTS)):
            return f"mask has shape {self.mask.shape}, expected ({self.n_frequencies}, {self.n_stations}, 6)"
        if len(self.names) != self.n_stations or len(set(self.names)) != self.n_stations:
            return "station names must be unique, one per station"
        if self.sources and len(self.sources) != self.n_stations:
            return "station sources must be one per station"
        if self.kind not in KINDS:
            return f"data kind {self.kind!r}: choose one of {', '.join(KINDS)}"
        return None

    def label(self, k: int) -> str:
        """'station NAME' of station k, with the file it came from if known."""
        return f"station {self.names[k]}" + (f" ({self.sources[k]})" if self.sources else "")

    def datum_index(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(frequency, station, component) of each complex datum, in data order."""
        f, s, c = np.nonzero(self.mask)  # C order: frequency, station, component
        return f, s, c

    # ---------------------------------------------------------------- data vector
    def to_data(self, responses: np.ndarray) -> np.ndarray:
        """Real data vector from complex responses (n_frequencies, n_stations, 6)."""
        f, s, c = self.datum_index()
        R = responses[f, s, c]
        out = np.empty((len(R), 2))
        out[:, 0], out[:, 1] = R.real, R.imag
        if self.kind == "rho_phase":
            z = (c == 1) | (c == 2)
            omega = 2 * np.pi * self.frequencies[f[z]]
            out[z, 0] = np.log10(np.abs(R[z]) ** 2 / (omega * MU0))
            out[z, 1] = np.angle(R[z], deg=True)
        return out.ravel()

    def from_data(self, data: np.ndarray) -> np.ndarray:
        """Complex responses (NaN where not data) from a real data vector."""
        f, s, c = self.datum_index()
        d = np.asarray(data, dtype=np.float64).reshape(-1, 2)
        R = d[:, 0] + 1j * d[:, 1]
        if self.kind == "rho_phase":
            z = (c == 1) | (c == 2)
            omega = 2 * np.pi * self.frequencies[f[z]]
            R[z] = np.sqrt(10.0 ** d[z, 0] * omega * MU0) * np.exp(1j * np.deg2rad(d[z, 1]))
        out = np.full(self.mask.shape, np.nan + 1j * np.nan)
        out[f, s, c] = R
        return out

    def linearization(self, responses: np.ndarray) -> np.ndarray:
        """beta (n_complex_data, 2) complex: each datum's change is Re(beta dR) for a
        change dR of its complex response (derivatives of the data vector)."""
        f, s, c = self.datum_index()
        beta = np.empty((len(f), 2), np.complex128)
        beta[:, 0], beta[:, 1] = 1.0, -1j
        if self.kind == "rho_phase":
            z = (c == 1) | (c == 2)
            R = responses[f[z], s[z], c[z]]
            beta[z, 0] = 2.0 / (np.log(10.0) * R)
            beta[z, 1] = -1j * _DEG / R
        return beta


def apparent_resistivity(Z: np.ndarray, frequency: np.ndarray) -> np.ndarray:
    """rho_a = |Z|^2 / (omega mu0) (ohm m); ``frequency`` broadcasts against Z."""
    return np.abs(Z) ** 2 / (2 * np.pi * np.asarray(frequency) * MU0)


def phase(Z: np.ndarray) -> np.ndarray:
    """Phase of Z in degrees, atan2(Im, Re)."""
    return np.angle(Z, deg=True)


def impedance_floor(Z: np.ndarray, fraction: float) -> np.ndarray:
    """Error floor of every impedance component: fraction * |Z_xy Z_yx|^(1/2) (ohm).

    ``Z`` has the components along its last axis (Z_xx, Z_xy, Z_yx, Z_yy, ...); the
    result has the same shape minus that axis.  The floor applies to the real and
    the imaginary part alike (standard deviation of each).
    """
    return fraction * np.sqrt(np.abs(Z[..., 1] * Z[..., 2]))


def standard_deviations(survey: MTSurvey, responses: np.ndarray, impedance_fraction: float,
                        tipper_floor: float) -> np.ndarray:
    """Standard deviation of every datum: impedances ``impedance_fraction`` of
    |Z_xy Z_yx|^(1/2) (for rho_phase data, linearised: 2/ln10 sd/|Z| in log10 rho_a and
    sd/|Z| rad in phase), tipper components ``tipper_floor`` (absolute)."""
    f, s, c = survey.datum_index()
    floor = impedance_floor(responses, impedance_fraction)[f, s]
    sd = np.where(c < 4, floor, tipper_floor)
    out = np.stack([sd, sd], axis=1)
    if survey.kind == "rho_phase":
        z = (c == 1) | (c == 2)
        rel = floor[z] / np.abs(responses[f[z], s[z], c[z]])
        out[z, 0] = 2.0 / np.log(10.0) * rel
        out[z, 1] = _DEG * rel
    return out.ravel()
