"""Magnetic anomaly of induced (and remanent) magnetization on a tetrahedral mesh.

Model: magnetic susceptibility chi per owned cell (SI, dimensionless).  Each cell is
uniformly magnetized with

    M = chi B0 / mu0 + M_r        (A/m)

where B0 is the inducing field and M_r an optional fixed remanent magnetization.
**Low-susceptibility assumption**: the induced part uses the inducing field alone;
self-demagnetization and the interaction between cells are neglected (relative error
of order chi, e.g. about chi/3 for a sphere: below 3% for chi < 0.1 SI).

Field of a uniformly magnetized cell V by Poisson's relation: with T1 the gradient
tensor of the Newtonian potential of V at unit density (the gravity kernel without
G, :mod:`parjoint.physics.gravity.kernels`), H = T1 M / (4 pi) and

    b = mu0 (H + M [station inside V]) = (mu0 / 4 pi) T1 M + mu0 M [inside]

so a station outside every magnetized cell sees (mu0/4pi) T1 M, and a borehole station
inside magnetized rock sees B, not mu0 H.  For the induced part mu0 cancels:
b = chi (T1 B0 / 4 pi + B0 [inside]), in nT when B0 is.  Components and units are in
:mod:`parjoint.physics.magnetics.field`.  The data are linear in chi:
d = J chi + d_r, with d_r the (fixed) field of the remanence.
"""

from __future__ import annotations

import math

import numpy as np
from mpi4py import MPI

from ..gravity.kernels import Functionals
from ..potential.sensitivity import Sensitivity, StorageOptions
from ..potential.simulation import PotentialSimulation
from .field import InducingField, component_direction

MU0_4PI_NT = 100.0  #: mu0 / (4 pi) in nT m / A: b (nT) = 100 T1 M (A/m)
_DOWN = np.array([1.0, 1.0, -1.0])  # east-north-down <-> east-north-up


def induced_functionals(components: tuple[str, ...], field: InducingField) -> Functionals:
    """Kernel functionals giving each component (nT) for a susceptibility of 1 SI."""
    b0 = field.vector
    u = np.array([component_direction(c, field) for c in components])
    return Functionals(np.zeros((len(u), 3)), np.einsum("ki,j->kij", u, b0) / (4.0 * math.pi), u @ b0)


def remanent_functionals(components: tuple[str, ...], field: InducingField) -> Functionals:
    """Functionals (3 per component: magnetization along east, north, up) in nT per A/m."""
    u = np.array([component_direction(c, field) for c in components])
    beta = MU0_4PI_NT * np.einsum("ki,qj->qkij", u, np.eye(3)).reshape(-1, 3, 3)
    gamma = 4.0 * math.pi * MU0_4PI_NT * np.einsum("ki,qi->qk", u, np.eye(3)).ravel()
    return Functionals(np.zeros((len(beta), 3)), beta, gamma)


class MagneticSimulation(PotentialSimulation):
    """Collective: magnetic data at ``stations`` (n, 3; m) for a susceptibility model.

    ``remanence``: optional remanent magnetization per owned cell, (n_cells, 3) in A/m
    along east, north and down; it adds a fixed field to the data.
    """

    def __init__(self, mesh, stations: np.ndarray, field: InducingField, components: tuple[str, ...] = ("tmi",), *,
                 remanence: np.ndarray | None = None, active: np.ndarray | None = None,
                 options: StorageOptions = StorageOptions(), verbose: bool = True):
        problem = field.problem()
        if problem:
            raise ValueError(problem)
        self.field = field
        components = tuple(components)
        active = ~mesh.is_air if active is None else np.asarray(active, bool)
        offset = None
        if remanence is not None:
            offset = remanent_field(mesh, stations, field, components, remanence, active, options)
        super().__init__(mesh, stations, induced_functionals(components, field), components,
                         ("nT",) * len(components), active=active, options=options, offset=offset,
                         label="magnetic", verbose=verbose)


def remanent_field(mesh, stations: np.ndarray, field: InducingField, components: tuple[str, ...],
                   remanence: np.ndarray, active: np.ndarray, options: StorageOptions) -> np.ndarray:
    """Collective: the data (nT, replicated) of a remanent magnetization (n_cells, 3),
    A/m east-north-down, computed in passes without storing its kernels."""
    remanence = np.asarray(remanence, dtype=np.float64).reshape(mesh.n_cells, 3) * _DOWN  # to east-north-up
    index = np.flatnonzero(active)
    nk, ns = len(components), len(stations)
    kernels = Sensitivity(mesh.vertex_coords, mesh.cell_vertices[index], mesh.vertex_original, stations,
                          remanent_functionals(components, field),
                          StorageOptions(storage="none", block_size=options.block_size, chunk=options.chunk),
                          mesh.comm)
    # functional q * nk + k: component k of a magnetization along axis q
    per_functional = np.repeat(remanence[index], nk, axis=1)
    parts = kernels.matvec_per_component(per_functional).reshape(3, nk * ns)
    out = parts.sum(axis=0)
    mesh.comm.Allreduce(MPI.IN_PLACE, out, op=MPI.SUM)
    return out
