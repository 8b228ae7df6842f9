"""Cell fields on a distributed mesh to XDMF + HDF5, for ParaView and VisIt.

Every rank writes its slice of each dataset in parallel through PETSc's HDF5 viewer;
rank 0 writes the small XDMF (XML) file that describes them.  Both files appear
atomically (written under temporary names, then renamed).

Layout of the ``<name>.xdmf.h5`` file::

    /mesh/geometry   (n_vertices, 3) float64   vertex coordinates, m
    /mesh/topology   (n_cells, 4)    int       global vertex numbers of each tetrahedron
    /fields/<name>   (n_cells,) or (n_cells, 3) float64, one value (vector) per cell,
                     or (n_vertices,) for a field on the vertices
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import InputError
from ..parallel import atomic_output
from ..petsc import IntType, PETSc

_XDMF = """<?xml version="1.0"?>
<Xdmf Version="3.0">
  <Domain>
    <Grid Name="{name}" GridType="Uniform">
      <Topology TopologyType="Tetrahedron" NumberOfElements="{nc}">
        <DataItem Format="HDF" DataType="Int" Precision="{ip}" Dimensions="{nc} 4">{h5}:/mesh/topology</DataItem>
      </Topology>
      <Geometry GeometryType="XYZ">
        <DataItem Format="HDF" DataType="Float" Precision="8" Dimensions="{nv} 3">{h5}:/mesh/geometry</DataItem>
      </Geometry>
{attributes}    </Grid>
  </Domain>
</Xdmf>
"""
_ATTRIBUTE = """      <Attribute Name="{name}" AttributeType="{kind}" Center="{center}">
        <DataItem Format="HDF" DataType="Float" Precision="8" Dimensions="{dims}">{h5}:/fields/{name}</DataItem>
      </Attribute>
"""


def write_cell_fields(mesh, path: str, fields: dict[str, np.ndarray],
                      point_fields: dict[str, np.ndarray] | None = None) -> None:
    """Collective: write ``fields`` (name -> per-cell array, scalar or 3-vector) to ``path``.

    ``point_fields`` are values at the local vertices (``len(mesh.vertex_coords)``);
    NaN marks vertices where a field is not defined (e.g. the potential in the air).

    ``path`` ends in ``.xdmf``; the data go to ``path + ".h5"`` beside it (a name that
    cannot collide with a saved mesh ``.h5``).
    """
    if not path.endswith(".xdmf"):
        raise InputError(f"{path}: XDMF output file name must end in .xdmf", collective=True)
    comm = mesh.comm
    point_fields = point_fields or {}
    for name, values in fields.items():
        if np.shape(values)[0] != mesh.n_cells or np.ndim(values) not in (1, 2):
            raise ValueError(f"field {name!r}: expected shape ({mesh.n_cells},) or ({mesh.n_cells}, 3)")
    for name, values in point_fields.items():
        if np.shape(values) != (len(mesh.vertex_coords),):
            raise ValueError(f"point field {name!r}: expected one value per local vertex")
    h5_path = path + ".h5"
    h5_name = os.path.basename(h5_path)
    with atomic_output(h5_path, comm) as tmp_h5:
        viewer = PETSc.ViewerHDF5().create(tmp_h5, "w", comm=comm)
        viewer.pushGroup("/mesh")
        _view_vec(viewer, comm, "geometry", mesh.vertex_coords[mesh.vertex_owned], 3)
        topo = PETSc.IS().createGeneral(
            np.ascontiguousarray(mesh.vertex_global[mesh.cell_vertices].ravel(), dtype=IntType), comm=comm)
        topo.setBlockSize(4)
        topo.setName("topology")
        topo.view(viewer)
        topo.destroy()
        viewer.popGroup()
        viewer.pushGroup("/fields")
        for name, values in fields.items():
            values = np.asarray(values, dtype=np.float64)
            _view_vec(viewer, comm, name, values, 1 if values.ndim == 1 else values.shape[1])
        for name, values in point_fields.items():
            _view_vec(viewer, comm, name, np.asarray(values, dtype=np.float64)[mesh.vertex_owned], 1)
        viewer.popGroup()
        viewer.destroy()
    if comm.rank == 0:
        attributes = "".join(
            _ATTRIBUTE.format(name=name, h5=h5_name, kind="Scalar" if np.ndim(v) == 1 else "Vector", center="Cell",
                              dims=f"{mesh.n_cells_global}" if np.ndim(v) == 1 else f"{mesh.n_cells_global} 3")
            for name, v in fields.items())
        attributes += "".join(_ATTRIBUTE.format(name=name, h5=h5_name, kind="Scalar", center="Node",
                                                dims=f"{mesh.n_vertices_global}") for name in point_fields)
        text = _XDMF.format(name=os.path.basename(path)[:-5], nc=mesh.n_cells_global, nv=mesh.n_vertices_global,
                            ip=IntType.itemsize, h5=h5_name, attributes=attributes)
    with atomic_output(path, comm) as tmp_xdmf:
        if comm.rank == 0:
            with open(tmp_xdmf, "w") as fh:
                fh.write(text)


def _view_vec(viewer, comm, name: str, values: np.ndarray, block: int) -> None:
    flat = np.ascontiguousarray(values, dtype=np.float64).ravel()
    vec = PETSc.Vec().createMPI((len(flat), PETSc.DECIDE), bsize=block, comm=comm)
    vec.setName(name)
    vec.getArray()[:] = flat
    vec.view(viewer)
    vec.destroy()
