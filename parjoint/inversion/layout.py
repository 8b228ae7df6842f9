"""The inversion vector: named blocks of cell properties, distributed like the mesh.

Each block is one property (``log_conductivity``, ``density``, ...) on the *active*
cells of the mesh that this rank owns.  The local part of the inversion vector is
the concatenation of the blocks' local parts; global reductions go through the mesh
communicator.  Blocks are written to files by name, in mesh-file cell order, so an
output can be read back on any number of ranks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from mpi4py import MPI


@dataclass
class Block:
    name: str
    active: np.ndarray  #: (n_cells,) bool mask of the owned cells in this block
    units: str  #: units of the block's values (e.g. "log(S/m)", "kg/m^3")
    background: float | np.ndarray = 0.0  #: value of the property in the cells outside the block
    start: int = 0  #: offset of the block in the local vector
    size: int = 0  #: number of local (owned, active) cells
    size_global: int = 0

    @property
    def slice(self) -> slice:
        return slice(self.start, self.start + self.size)


class ModelLayout:
    """Named blocks over one mesh; ``split``/``join`` convert to and from the flat vector."""

    def __init__(self, mesh, blocks: list[Block]):
        self.mesh, self.comm = mesh, mesh.comm
        self.blocks: dict[str, Block] = {}
        offset = 0
        for block in blocks:
            block.start, block.size = offset, int(np.count_nonzero(block.active))
            block.size_global = self.comm.allreduce(block.size)
            offset += block.size
            self.blocks[block.name] = block
        self.n_local = offset
        self.n_global = self.comm.allreduce(offset)

    def __getitem__(self, name: str) -> Block:
        return self.blocks[name]

    def split(self, x: np.ndarray) -> dict[str, np.ndarray]:
        return {name: x[b.slice] for name, b in self.blocks.items()}

    def join(self, parts: dict[str, np.ndarray]) -> np.ndarray:
        x = np.empty(self.n_local)
        for name, b in self.blocks.items():
            x[b.slice] = parts[name]
        return x

    def zeros(self) -> np.ndarray:
        return np.zeros(self.n_local)

    # -- collective reductions on flat vectors ------------------------------------------
    def dot(self, a: np.ndarray, b: np.ndarray) -> float:
        return float(self.comm.allreduce(float(np.dot(a, b)), op=MPI.SUM))

    def norm(self, a: np.ndarray) -> float:
        return float(np.sqrt(self.dot(a, a)))

    def to_cells(self, name: str, values: np.ndarray, fill: float = np.nan) -> np.ndarray:
        """A block's values on all owned cells (``fill`` outside its active cells)."""
        out = np.full(self.mesh.n_cells, fill)
        out[self.blocks[name].active] = values
        return out
