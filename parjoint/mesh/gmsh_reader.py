"""Reader for gmsh ``.msh`` format 4.1 (ASCII and binary) tetrahedral meshes.

Only what parjoint needs is kept: nodes used by 4-node tetrahedra, the tetrahedra,
the physical group (region) of each tetrahedron and the names of 3-D physical
groups.  Lower-dimensional elements (triangles, lines, points) are skipped: boundary
sides are found from the geometry (see :class:`parjoint.mesh.Mesh`).  Coordinates are
in metres.

Reference: gmsh reference manual, section "MSH file format", version 4.1.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..errors import InputError

# nodes per element for the gmsh element types that may appear beside tetrahedra
_NODES_PER_TYPE = {1: 2, 2: 3, 3: 4, 4: 4, 5: 8, 6: 6, 7: 5, 8: 3, 9: 6, 10: 9, 11: 10, 15: 1}
_TET = 4


@dataclass
class MeshData:
    """A serial tetrahedral mesh as numpy arrays (what a mesh file holds)."""

    cells: np.ndarray  #: (n_cells, 4) int64 node indices into ``coords``
    coords: np.ndarray  #: (n_nodes, 3) float64, metres
    cell_region: np.ndarray  #: (n_cells,) int64 physical-group tag of each cell
    region_names: dict[int, str]  #: tag -> name for every tag in ``cell_region``


class _Cursor:
    """Reads a binary or ASCII section with the same calls.

    ASCII headers are read word by word (``pending`` holds the rest of the current
    line); long blocks of numbers are parsed in one go by :meth:`block`.
    """

    def __init__(self, data: bytes, pos: int, binary: bool, path: str):
        self.data, self.pos, self.binary, self.path = data, pos, binary, path
        self.pending: list[bytes] = []

    def fail(self, what: str) -> InputError:
        line = self.data.count(b"\n", 0, min(self.pos, len(self.data))) + 1
        return InputError(f"{self.path}: line {line}: malformed .msh ({what})")

    def ints(self, n: int, dtype) -> np.ndarray:
        if not self.binary:
            return self.words(n, np.int64)
        dt = np.dtype(dtype)
        end = self.pos + n * dt.itemsize
        if end > len(self.data):
            raise self.fail("file ends inside a data block")
        out = np.frombuffer(self.data, dt, n, self.pos)
        self.pos = end
        return out

    def floats(self, n: int) -> np.ndarray:
        return self.ints(n, np.float64) if self.binary else self.words(n, np.float64)

    def words(self, n: int, dtype) -> np.ndarray:
        while len(self.pending) < n:
            if self.pos >= len(self.data):
                raise self.fail("file ends inside a data block")
            end = self.data.find(b"\n", self.pos)
            end = len(self.data) if end < 0 else end
            self.pending.extend(self.data[self.pos:end].split())
            self.pos = end + 1
        take, self.pending = self.pending[:n], self.pending[n:]
        try:
            return np.array(take, dtype=dtype)
        except ValueError:
            raise self.fail("expected numbers") from None

    def block(self, rows: int, cols: int, dtype) -> np.ndarray:
        """A rows x cols block of numbers (whole lines in ASCII)."""
        if self.binary:
            return self.ints(rows * cols, np.uint64 if np.dtype(dtype).kind in "iu" else np.float64).reshape(rows, cols)
        if self.pending:
            raise self.fail("unexpected values before a data block")
        if rows == 0:
            return np.zeros((0, cols), dtype)
        end = self.pos
        for _ in range(rows):
            end = self.data.find(b"\n", end) + 1
            if end == 0:
                raise self.fail("file ends inside a data block")
        try:
            arr = np.array(self.data[self.pos:end].split(), dtype=dtype)
        except ValueError:
            raise self.fail("expected numbers") from None
        if arr.size != rows * cols:
            raise self.fail(f"expected {rows} lines of {cols} numbers")
        self.pos = end
        return arr.reshape(rows, cols)


def _section(data: bytes, name: bytes, path: str, required: bool = True) -> int | None:
    start = data.find(b"$" + name + b"\n")
    if start < 0:
        start = data.find(b"$" + name + b"\r\n")
    if start < 0:
        if required:
            raise InputError(f"{path}: malformed .msh (no ${name.decode()} section)")
        return None
    return data.index(b"\n", start) + 1


def read_msh(path: str) -> MeshData:
    """Read a gmsh 4.1 file; raise :class:`InputError` naming the file and line."""
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file")
    with open(path, "rb") as fh:
        data = fh.read()
    if not data.startswith(b"$MeshFormat"):
        raise InputError(f"{path}: not a gmsh .msh file (it must start with $MeshFormat)")
    pos = data.index(b"\n") + 1
    header = data[pos:data.find(b"\n", pos)].split()
    if len(header) != 3:
        raise InputError(f"{path}: line 2: malformed $MeshFormat header")
    version, filetype, dsize = header[0].decode(), int(header[1]), int(header[2])
    if not version.startswith("4."):
        raise InputError(f"{path}: .msh version {version} is not supported; write version 4.1 "
                         "(gmsh -format msh41, or Mesh.MshFileVersion = 4.1)")
    binary = filetype == 1
    if binary:
        if dsize != 8:
            raise InputError(f"{path}: binary .msh with data size {dsize}; only 8-byte size_t is supported")
        one = np.frombuffer(data, np.int32, 1, data.find(b"\n", pos) + 1)[0]
        if one != 1:
            raise InputError(f"{path}: binary .msh written with another byte order")
    if _section(data, b"PartitionedEntities", path, required=False) is not None:
        raise InputError(f"{path}: partitioned .msh files are not supported; save the mesh unpartitioned "
                         "(parjoint partitions it itself)")
    names = _physical_names(data, path)
    volume_tag = _volume_physical_tags(data, path, binary)
    node_tags, coords = _nodes(data, path, binary)
    tets, tet_entity = _tetrahedra(data, path, binary)
    if len(tets) == 0:
        raise InputError(f"{path}: the mesh has no tetrahedra (is it a 3-D mesh?)")

    # Node tags -> dense 0-based indices, keeping only nodes used by tetrahedra.
    if node_tags.size == 0:
        raise InputError(f"{path}: malformed .msh (no nodes)")
    max_tag = int(node_tags.max())
    if int(tets.max()) > max_tag or int(tets.min()) < 1:
        raise InputError(f"{path}: malformed .msh (an element refers to a node that does not exist)")
    lookup = np.full(max_tag + 1, -1, np.int64)
    lookup[node_tags] = np.arange(len(node_tags))
    cells = lookup[tets]
    if (cells < 0).any():
        raise InputError(f"{path}: malformed .msh (an element refers to a node that does not exist)")
    used, cells = np.unique(cells, return_inverse=True)
    cells = cells.reshape(-1, 4).astype(np.int64)
    coords = np.ascontiguousarray(coords[used], dtype=np.float64)
    if not np.isfinite(coords).all():
        raise InputError(f"{path}: node coordinates contain NaN or infinity")

    entities = np.unique(tet_entity)
    lookup = np.full(int(entities.max()) + 1, -1, np.int64)
    lookup[entities] = [volume_tag.get(int(e), -1) for e in entities]
    cell_region = lookup[tet_entity]
    if (cell_region < 0).any():
        raise InputError(f"{path}: some tetrahedra belong to no 3-D physical group; give every volume a "
                         "physical group (its region name)")
    region_names = {int(t): names.get(int(t), f"region{int(t)}") for t in np.unique(cell_region)}
    return MeshData(cells=cells, coords=coords, cell_region=cell_region, region_names=region_names)


def _physical_names(data: bytes, path: str) -> dict[int, str]:
    start = _section(data, b"PhysicalNames", path, required=False)
    if start is None:
        return {}
    end = data.index(b"$EndPhysicalNames", start)
    lines = data[start:end].decode("utf-8", "replace").splitlines()
    names = {}
    try:
        count = int(lines[0])
        for line in lines[1:count + 1]:
            dim, tag, name = line.split(maxsplit=2)
            if int(dim) == 3:
                names[int(tag)] = name.strip().strip('"')
    except (ValueError, IndexError):
        raise InputError(f"{path}: malformed $PhysicalNames section") from None
    return names


def _volume_physical_tags(data: bytes, path: str, binary: bool) -> dict[int, int]:
    """Volume entity tag -> its first physical tag (entities without one are left out)."""
    start = _section(data, b"Entities", path)
    cur = _Cursor(data, start, binary, path)
    counts = [int(v) for v in cur.ints(4, np.uint64)]
    out = {}
    for dim in range(4):
        for _ in range(counts[dim]):
            tag = int(cur.ints(1, np.int32)[0])
            cur.floats(3 if dim == 0 else 6)
            nphys = int(cur.ints(1, np.uint64)[0])
            phys = cur.ints(nphys, np.int32)
            if dim > 0:
                nbound = int(cur.ints(1, np.uint64)[0])
                cur.ints(nbound, np.int32)
            if dim == 3 and nphys > 0:
                out[tag] = int(phys[0])
    return out


def _nodes(data: bytes, path: str, binary: bool) -> tuple[np.ndarray, np.ndarray]:
    start = _section(data, b"Nodes", path)
    cur = _Cursor(data, start, binary, path)
    nblocks, nnodes, _, _ = (int(v) for v in cur.ints(4, np.uint64))
    tags, xyz = [], []
    for _ in range(nblocks):
        _, _, parametric = (int(v) for v in cur.ints(3, np.int32))
        n = int(cur.ints(1, np.uint64)[0])
        if parametric:
            raise cur.fail("parametric node coordinates; save without Mesh.SaveParametric")
        tags.append(cur.block(n, 1, np.int64).ravel().astype(np.int64))
        xyz.append(cur.block(n, 3, np.float64))
    tags = np.concatenate(tags) if tags else np.zeros(0, np.int64)
    xyz = np.concatenate(xyz) if xyz else np.zeros((0, 3))
    if len(tags) != nnodes:
        raise InputError(f"{path}: malformed .msh ($Nodes declares {nnodes} nodes, found {len(tags)})")
    return tags, xyz


def _tetrahedra(data: bytes, path: str, binary: bool) -> tuple[np.ndarray, np.ndarray]:
    start = _section(data, b"Elements", path)
    cur = _Cursor(data, start, binary, path)
    nblocks = int(cur.ints(4, np.uint64)[0])
    tets, entity = [], []
    for _ in range(nblocks):
        _, etag, etype = (int(v) for v in cur.ints(3, np.int32))
        n = int(cur.ints(1, np.uint64)[0])
        if etype not in _NODES_PER_TYPE:
            raise cur.fail(f"element type {etype} is not supported; use linear tetrahedra")
        block = cur.block(n, _NODES_PER_TYPE[etype] + 1, np.int64)
        if etype == _TET:
            tets.append(block[:, 1:].astype(np.int64))
            entity.append(np.full(n, etag, np.int64))
        elif etype == 11:
            raise cur.fail("second-order tetrahedra (type 11); write a linear mesh (parjoint builds P2 itself)")
    if not tets:
        return np.zeros((0, 4), np.int64), np.zeros(0, np.int64)
    return np.concatenate(tets), np.concatenate(entity)
