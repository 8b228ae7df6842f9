"""MT stations on the topographic surface: locating them and the field functionals.

Each station must be a mesh vertex on the air-earth surface (the mesh builder's
``[stations]`` makes them so).  The fields at the station are linear functionals of
the Nedelec dof vector e:

* E: what a ground dipole measures, the voltage per metre of *horizontal* distance
  along the ground.  For a surface triangle with upward normal n the ground path in
  horizontal direction d is u_d = d - (n.d / n_z) z_hat, which lies in the triangle's
  plane, so E_d = E . u_d uses only the tangential trace of the field on the triangle
  (continuous, and set by the triangle's three edge dofs; the normal component, which
  jumps at the surface, drops out).  The station value is the mean over the surface
  triangles at the station vertex, weighted by their horizontal areas, of the trace
  at the vertex (from the earth cell behind each triangle).  On flat ground a field
  that varies only with depth is reproduced exactly by its interpolant.
* H = curl E / (-i omega mu0), with curl E the volume-weighted mean of the (constant)
  curls of the *air* cells at the vertex.  H is continuous across the surface and,
  where sigma is tiny, nearly uniform in height, so the air side is the accurate one
  (an earth cell's curl lags by the skin-depth decay across the cell).

Cells and triangles of a station can sit on several ranks; each rank holds the part
from its own, weights are normalised by global sums and station values are summed
over ranks, so they do not depend on the partition (up to round-off).
"""

from __future__ import annotations

import numpy as np
from mpi4py import MPI
from scipy.spatial import cKDTree

from ...errors import InputError
from ...mesh.mesh import TET_EDGES
from ...mesh.surface import Topography

_EI, _EJ = TET_EDGES[:, 0], TET_EDGES[:, 1]


class Stations:
    """Field functionals of the survey's stations on ``space`` (an EdgeSpace).

    ``xyz`` are positions in the mesh frame (m); each must be a surface vertex within
    ``tolerance`` metres.  ``labels`` name the stations in messages ("station MT001").
    """

    def __init__(self, mesh, space, xyz: np.ndarray, labels: list[str], tolerance: float):
        self.mesh, self.space, self.comm = mesh, space, mesh.comm
        self.n = len(xyz)
        vertex = self._locate(np.asarray(xyz, dtype=np.float64), labels, tolerance)
        self._build(vertex)

    def _locate(self, xyz: np.ndarray, labels: list[str], tolerance: float) -> np.ndarray:
        """Local vertex of each station (-1 where this rank does not have it)."""
        mesh, comm = self.mesh, self.comm
        surface = Topography(mesh)
        surface_z = surface.elevation(xyz[:, :2])
        off = np.flatnonzero(np.isnan(surface_z))
        if len(off):
            k = int(off[0])
            (x0, y0), (x1, y1) = surface.extent
            raise InputError(f"{labels[k]} at ({xyz[k, 0]:.3f}, {xyz[k, 1]:.3f}) is outside the mesh (its surface "
                             f"spans x {x0:g} ... {x1:g}, y {y0:g} ... {y1:g} m)", collective=True)
        # surface vertices, flagged on every rank holding them (a rank may hold only air
        # cells at a station, and must still add their curls)
        flags = np.zeros(len(mesh.vertex_coords), bool)
        flags[mesh.face_vertices[mesh.boundary("surface").face].ravel()] = True
        candidates = np.flatnonzero(self.space.vertex_flags_or(flags))
        dist = np.full(len(xyz), np.inf)
        nearest = np.full(len(xyz), -1)
        if len(candidates):
            dist, k = cKDTree(mesh.vertex_coords[candidates]).query(xyz)
            nearest = candidates[k]
        best = np.array(dist, dtype=np.float64)
        comm.Allreduce(MPI.IN_PLACE, best, op=MPI.MIN)
        bad = np.flatnonzero(best > tolerance)
        if len(bad):
            k = int(bad[0])
            where = ", ".join(f"{v:.3f}" for v in xyz[k])
            height = xyz[k, 2] - surface_z[k]
            if height > tolerance:
                raise InputError(f"{labels[k]} at ({where}) is in the air, {height:.3g} m above the surface: "
                                 "MT stations must be on the surface", collective=True)
            if height < -tolerance:
                raise InputError(f"{labels[k]} at ({where}) is {-height:.3g} m below the surface: MT stations "
                                 "must be on the surface", collective=True)
            raise InputError(f"{labels[k]} at ({where}) is not a mesh node (nearest surface node {best[k]:.3g} "
                             "m away; build the mesh with the stations, [stations] in the mesh spec)", collective=True)
        return np.where(dist <= tolerance, nearest, -1)

    def _build(self, vertex: np.ndarray) -> None:
        """Sparse functionals: rows (station, dof) with the coefficients of the ground E
        along mesh x and y, and of the three components of curl E."""
        mesh, space = self.mesh, self.space
        cell_dofs, cell_signs = space.cell_dofs, space.cell_signs  # mesh cell order
        station_of_vertex = np.full(len(mesh.vertex_coords), -1)
        here = np.flatnonzero(vertex >= 0)
        station_of_vertex[vertex[here]] = here

        # E: surface triangles at the station, trace of the earth cell behind each
        surf = mesh.boundary("surface")
        hit = station_of_vertex[mesh.face_vertices[surf.face]]  # (nf, 3)
        face, corner = np.nonzero(hit >= 0)
        e_station = hit[face, corner]
        e_cell = surf.cell[face]
        v = mesh.face_vertices[surf.face[face], corner]
        n = surf.normal[face]  # out of the earth cell: upward
        weight = surf.area[face] * np.abs(n[:, 2])
        weight = weight / self._totals(e_station, weight)[e_station]
        values = self._basis_values(e_cell, v, cell_signs)  # (p, 6, 3)
        u = np.zeros((len(face), 2, 3))
        u[:, 0, 0] = 1.0
        u[:, 1, 1] = 1.0
        u[:, :, 2] = -n[:, :2] / n[:, 2:3]
        coef_E = np.einsum("pkc,pdc->pkd", values, u) * weight[:, None, None]  # (p, 6, 2)

        # curl E: air cells at the station
        hit = station_of_vertex[mesh.cell_vertices]
        cell, corner = np.nonzero((hit >= 0) & mesh.is_air[:, None])
        c_station = hit[cell, corner]
        weight = mesh.volume[cell] / self._totals(c_station, mesh.volume[cell])[c_station]
        g = mesh.grad_p1[cell]
        curls = 2.0 * cell_signs[cell][:, :, None] * np.cross(g[:, _EI], g[:, _EJ]) * weight[:, None, None]

        self.e_station, self.e_dofs = np.repeat(e_station, 6), cell_dofs[e_cell].ravel()
        self.coef_E = coef_E.reshape(-1, 2)
        self.c_station, self.c_dofs = np.repeat(c_station, 6), cell_dofs[cell].ravel()
        self.coef_C = curls.reshape(-1, 3)

    def _totals(self, station: np.ndarray, weight: np.ndarray) -> np.ndarray:
        # float64 even when this rank has no entries (np.bincount of an empty array is int64
        # whatever the weights, and a mixed-type Allreduce adds bit patterns)
        total = np.bincount(station, weights=weight, minlength=self.n).astype(np.float64)
        self.comm.Allreduce(MPI.IN_PLACE, total, op=MPI.SUM)
        if self.n and total.min() <= 0:
            raise RuntimeError("a station vertex lacks surface triangles or air cells")
        return total

    def _basis_values(self, cells: np.ndarray, vertices: np.ndarray, cell_signs: np.ndarray) -> np.ndarray:
        """Values (p, 6, 3) of the six basis functions of each cell at one of its vertices."""
        mesh = self.mesh
        lam = (mesh.cell_vertices[cells] == vertices[:, None]).astype(np.float64)  # barycentric of the vertex
        g = mesh.grad_p1[cells]
        signs = cell_signs[cells]
        return signs[:, :, None] * (lam[:, _EI, None] * g[:, _EJ] - lam[:, _EJ, None] * g[:, _EI])

    def evaluate(self, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Collective: ground E along mesh x and y, (n, 2), and curl E, (n, 3), complex,
        at every station from the local dof values ``e`` (owned + ghost)."""
        out_E = _sum_rows(self.e_station, self.coef_E * e[self.e_dofs][:, None], self.n)
        out_C = _sum_rows(self.c_station, self.coef_C * e[self.c_dofs][:, None], self.n)
        if self.comm.size > 1:
            self.comm.Allreduce(MPI.IN_PLACE, out_E, op=MPI.SUM)
            self.comm.Allreduce(MPI.IN_PLACE, out_C, op=MPI.SUM)
        return out_E, out_C

    def adjoint(self, wE: np.ndarray, wC: np.ndarray) -> np.ndarray:
        """Local dof vector (owned + ghost parts, to be summed over ranks) of the linear
        form sum_s wE_s . E_s + wC_s . curlE_s in e: complex (n_local,)."""
        n = self.space.n_local
        out = np.zeros(n, np.complex128)
        for station, dofs, coef, w in ((self.e_station, self.e_dofs, self.coef_E, wE),
                                       (self.c_station, self.c_dofs, self.coef_C, wC)):
            value = (coef * w[station]).sum(axis=1)
            out += np.bincount(dofs, weights=value.real, minlength=n) + 1j * np.bincount(dofs, weights=value.imag,
                                                                                           minlength=n)
        return out


def _sum_rows(rows: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Complex (n, k): sum of ``values`` (m, k) by row index."""
    out = np.zeros((n, values.shape[1]), np.complex128)
    for k in range(values.shape[1]):
        out[:, k] = (np.bincount(rows, weights=values[:, k].real, minlength=n)
                     + 1j * np.bincount(rows, weights=values[:, k].imag, minlength=n))
    return out
