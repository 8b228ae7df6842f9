"""Couplings and petrophysical relations from inversion config tables.

::

    [[coupling]]
    kind = "cross_gradient"            # cross_gradient | gramian | structural_gramian |
                                       # local_pearson | fcm | petrophysics
    blocks = ["log_conductivity", "density"]
    weight = 1.0                       # not scaled by beta
    # cross_gradient:                    scale = [...] (one per block: divides the property),
    #                                    normalized = false, epsilon = [1e-3, 1e-3] (per metre)
    # gramian, structural_gramian, fcm:  shift = [...], scale = [...] (one per block)
    # local_pearson:                     rings = 2, epsilon = [0.0, 0.0] (variance floors)
    # fcm:  centres = [[...], ...] (physical units, one row per cluster), q = 2.0,
    #       mode = "fixed" | "guided" | "adaptive", bounds = [...], cutoff = 0.5
    # petrophysics (blocks[0] -> blocks[1]):  relation = { kind = "archie", ... }, band = 0.0

    relation = { kind = "archie", a = 1.0, m = 2.0, n = 2.0, sigma_w = 0.5, saturation = 1.0 }
    relation = { kind = "density", rho_matrix = 2650.0, rho_water = 1000.0, reference = 2670.0 }
    relation = { kind = "gassmann" | "heincke" | "heincke_density" | "faust" | "polynomial", ... }
"""

from __future__ import annotations

import numpy as np
from mpi4py import MPI

from ..config import Table
from . import petrophysics as petro
from .clustering import MODES, FuzzyCMeans
from .pearson import LocalPearson
from .structure import CrossGradient, Gramian

KINDS = ("cross_gradient", "gramian", "structural_gramian", "local_pearson", "fcm", "petrophysics")
RELATIONS = ("archie", "density", "gassmann", "faust", "heincke", "heincke_density", "polynomial")
_NUMBERS = {
    "archie": ("a", "m", "n", "sigma_w", "saturation"),
    "density": ("rho_matrix", "rho_water", "saturation", "rho_oil", "oil", "rho_gas", "gas", "reference"),
    "gassmann": ("k_mineral", "mu_mineral", "k_fluid", "rho_matrix", "rho_fluid", "critical_porosity"),
    "faust": ("k", "c", "d"),
    "heincke": (),
    "heincke_density": ("reference",),
}


def relation_from_table(table: Table, layout, block: str) -> petro.Relation:
    """A relation from ``relation = { kind = ..., <parameters> }``; errors name the key."""
    kind = table.string("kind", choices=RELATIONS)
    if kind == "polynomial":
        coefficients = table.raw("coefficients")
        if not isinstance(coefficients, list) or not coefficients or \
                any(isinstance(c, bool) or not isinstance(c, (int, float)) for c in coefficients):
            raise table.error("coefficients", "expected a list of numbers c0, c1, ... (y = sum c_k x^k)")
        table.finish()
        return petro.polynomial(coefficients)
    params = {name: table.number(name) for name in _NUMBERS[kind] if name in table}
    table.finish()
    try:
        if kind == "faust":
            mesh = layout.mesh
            top = mesh.comm.allreduce(float(mesh.vertex_coords[:, 2].max(initial=-np.inf)), op=MPI.MAX)
            depth = top - mesh.centroid[layout[block].active, 2]
            return petro.faust(depth, **params)
        return getattr(petro, kind)(**params)
    except ValueError as exc:
        raise table.error("kind", str(exc)) from None


def coupling_from_table(table: Table, layout):
    """(weight, term) of a ``[[coupling]]`` table."""
    kind = table.string("kind", choices=KINDS)
    blocks = table.raw("blocks")
    if not isinstance(blocks, list) or len(blocks) < 2 or any(not isinstance(b, str) for b in blocks):
        raise table.error("blocks", "expected a list of at least two block names")
    unknown = [b for b in blocks if b not in layout.blocks]
    if unknown:
        raise table.error("blocks", f"no model block {unknown[0]!r} (blocks: {', '.join(layout.blocks)})")
    if kind not in ("gramian", "structural_gramian", "fcm") and len(blocks) != 2:
        raise table.error("blocks", f"{kind} couples exactly two blocks")
    weight = table.number("weight", 1.0, min=0.0)
    n = len(blocks)
    if kind == "cross_gradient":
        normalized = table.boolean("normalized", False)
        epsilon = table.vector("epsilon", 2, [1e-3, 1e-3])
        if min(epsilon) <= 0:
            raise table.error("epsilon", "must be positive (scaled units per metre)")
        term = CrossGradient(layout, *blocks, scale=_scale(table, 2) or (1.0, 1.0), normalized=normalized,
                             epsilon=epsilon)
    elif kind in ("gramian", "structural_gramian"):
        term = Gramian(layout, blocks, structural=kind == "structural_gramian",
                       shift=table.vector("shift", n, None), scale=_scale(table, n))
    elif kind == "local_pearson":
        rings = table.integer("rings", 2, min=1)
        epsilon = table.vector("epsilon", 2, [0.0, 0.0])
        if min(epsilon) < 0:
            raise table.error("epsilon", "variance floors must not be negative (property units squared)")
        term = LocalPearson(layout, *blocks, rings=rings, epsilon=epsilon)
    elif kind == "fcm":
        centres = table.raw("centres")
        if (not isinstance(centres, list) or not centres or any(not isinstance(c, list) or len(c) != n
                                                                for c in centres)):
            raise table.error("centres", f"expected a list of clusters, each a list of {n} property values")
        mode = table.string("mode", "fixed", choices=MODES)
        bounds = table.vector("bounds", n, None)
        try:
            term = FuzzyCMeans(layout, blocks, np.array(centres, float), q=table.number("q", 2.0, min=1.01),
                               shift=table.vector("shift", n, None), scale=_scale(table, n), mode=mode,
                               bounds=bounds, cutoff=table.number("cutoff", 0.5, positive=True))
        except ValueError as exc:
            raise table.error("centres", str(exc)) from None
    else:
        relation = relation_from_table(table.table("relation"), layout, blocks[0])
        band = table.number("band", 0.0, min=0.0)
        term = petro.PetroPenalty(layout, blocks[0], blocks[1], relation, band)
    table.finish()
    return weight, term


def _scale(table: Table, n: int):
    scale = table.vector("scale", n, None)
    if scale is not None and min(scale) <= 0:
        raise table.error("scale", "scales must be positive")
    return scale
