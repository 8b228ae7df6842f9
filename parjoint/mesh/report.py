"""A short human-readable report of a distributed mesh, and its XDMF export."""

from __future__ import annotations

import numpy as np
from mpi4py import MPI


def mesh_report(mesh) -> str:
    """Collective: cells per rank, region volumes, surface area, quality (text for rank 0)."""
    comm = mesh.comm
    cells = comm.gather(mesh.n_cells)
    ghosts = comm.gather(mesh.n_ghosts)
    volumes = mesh.region_volumes()
    counts = mesh.region_cell_counts()
    q = mesh.quality
    qmin = comm.allreduce(float(q.min()) if len(q) else np.inf, op=MPI.MIN)
    qmean = mesh.sum(q) / mesh.n_cells_global
    bad = comm.allreduce(int((q < 0.1).sum()))
    area = {side: mesh.sum(mesh.boundary(side).area) for side in ("surface", "top", "bottom", "sides")}
    lengths = mesh.edge_lengths[mesh.edge_owned]
    lmin = comm.allreduce(float(lengths.min()) if len(lengths) else np.inf, op=MPI.MIN)
    lmax = comm.allreduce(float(lengths.max()) if len(lengths) else 0.0, op=MPI.MAX)
    if comm.rank != 0:
        return ""
    lo, hi = mesh.bounds
    lines = [
        f"mesh {mesh.source}",
        f"  {mesh.n_cells_global} cells, {mesh.n_vertices_global} vertices, {mesh.n_edges_global} edges, "
        f"{mesh.n_faces_global} faces on {comm.size} rank(s)",
        f"  extent x [{lo[0]:.1f}, {hi[0]:.1f}]  y [{lo[1]:.1f}, {hi[1]:.1f}]  z [{lo[2]:.1f}, {hi[2]:.1f}] m",
        "  cells per rank (owned / ghost): " + ", ".join(f"{c}/{g}" for c, g in zip(cells, ghosts)),
        "  regions:",
    ]
    for name in volumes:
        lines.append(f"    {name:<12s} {counts[name]:>10d} cells  {volumes[name]:.6e} m^3")
    lines += [
        f"  total volume {sum(volumes.values()):.6e} m^3",
        f"  earth surface area {area['surface']:.6e} m^2 (top {area['top']:.6e}, bottom {area['bottom']:.6e}, "
        f"sides {area['sides']:.6e})",
        f"  quality (mean ratio, 1 = regular): min {qmin:.3f}, mean {qmean:.3f}, cells below 0.1: {bad}",
        f"  edge length min {lmin:.3g} m, max {lmax:.3g} m",
    ]
    return "\n".join(lines)


def export_mesh_fields(mesh, path: str) -> None:
    """Collective: regions, volumes, quality and owning rank of each cell to XDMF."""
    from ..io.xdmf import write_cell_fields

    write_cell_fields(mesh, path, {
        "region": mesh.cell_region.astype(float),
        "volume": mesh.volume,
        "quality": mesh.quality,
        "rank": np.full(mesh.n_cells, mesh.comm.rank, float),
        "original_index": mesh.cell_original.astype(float),
    })
