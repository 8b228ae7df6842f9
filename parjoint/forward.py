"""``parjoint forward config.toml``: synthetic data for one physics.

The config names its physics and the pieces every physics shares::

    physics = "dc"                  # dc | ip | gravity | magnetics
    [mesh]
    file = "build/hill.msh"         # .msh or .h5 (relative to the config)
    [model]                         # physics-specific property, see each module
    [survey]                        # physics-specific survey / data file
    [noise]                         # optional Gaussian noise: sd = relative |d| + floor
    relative = 0.02
    floor = 1e-4
    seed = 1
    [output]
    data = "predicted.dat"          # in the survey's own format

Each physics module reads its own tables (and rejects unknown keys).
"""

from __future__ import annotations

import importlib

from mpi4py import MPI

from .config import Table, read_toml
from .physics import FORWARD


def run_forward(path: str, comm: MPI.Comm) -> None:
    config = read_toml(path, comm)
    physics = config.string("physics", choices=tuple(FORWARD))
    module = importlib.import_module(FORWARD[physics])
    module.run_forward(config, comm)


def mesh_from_config(config: Table, comm: MPI.Comm):
    """Collective: the mesh named by ``[mesh] file``."""
    from .mesh import load_mesh

    table = config.table("mesh")
    path = table.path("file")
    table.finish()
    return load_mesh(path, comm)
