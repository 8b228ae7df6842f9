"""Small test meshes made directly with the gmsh API (independent of parjoint's builder).

The geometry is known exactly, so volumes and areas have analytic values:
domain [-500, 500] x [-500, 500] x [-500, 300] m, earth below z = 0, air above,
a block [-100, 100] x [-100, 100] x [-300, -100] m inside the earth.
"""

from __future__ import annotations

import numpy as np

DOMAIN = np.array([[-500.0, -500.0, -500.0], [500.0, 500.0, 300.0]])
BLOCK = np.array([[-100.0, -100.0, -300.0], [100.0, 100.0, -100.0]])
EARTH_TOP = 0.0


def box_with_block(path: str, h: float = 90.0, air: bool = True, binary: bool = True) -> None:
    import gmsh

    gmsh.initialize()
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.add("box_with_block")
        occ = gmsh.model.occ
        lo, hi = DOMAIN
        earth = occ.addBox(lo[0], lo[1], lo[2], hi[0] - lo[0], hi[1] - lo[1], EARTH_TOP - lo[2])
        pieces = [(3, earth)]
        if air:
            pieces.append((3, occ.addBox(lo[0], lo[1], EARTH_TOP, hi[0] - lo[0], hi[1] - lo[1], hi[2] - EARTH_TOP)))
        b0, b1 = BLOCK
        block = occ.addBox(*b0, *(b1 - b0))
        occ.fragment(pieces, [(3, block)])
        occ.synchronize()
        groups = {"earth": [], "air": [], "block": []}
        for dim, tag in gmsh.model.getEntities(3):
            x0, y0, z0, x1, y1, z1 = gmsh.model.getBoundingBox(dim, tag)
            if z0 >= EARTH_TOP - 1e-6:
                groups["air"].append(tag)
            elif x1 - x0 < 500:
                groups["block"].append(tag)
            else:
                groups["earth"].append(tag)
        for i, (name, tags) in enumerate(groups.items(), start=1):
            if tags:
                gmsh.model.addPhysicalGroup(3, tags, i, name)
        gmsh.option.setNumber("Mesh.MeshSizeMax", h)
        gmsh.option.setNumber("Mesh.MeshSizeMin", h)
        gmsh.option.setNumber("Mesh.Algorithm3D", 10)
        gmsh.model.mesh.generate(3)
        gmsh.option.setNumber("Mesh.MshFileVersion", 4.1)
        gmsh.option.setNumber("Mesh.Binary", 1 if binary else 0)
        gmsh.write(path)
    finally:
        gmsh.finalize()


def expected_volumes(air: bool = True) -> dict[str, float]:
    lo, hi = DOMAIN
    area = (hi[0] - lo[0]) * (hi[1] - lo[1])
    block = float(np.prod(BLOCK[1] - BLOCK[0]))
    out = {"earth": area * (EARTH_TOP - lo[2]) - block, "block": block}
    if air:
        out["air"] = area * (hi[2] - EARTH_TOP)
    return out


def dc_halfspace(path: str, electrodes: np.ndarray, h_electrode: float, h_far: float, extent: float,
                 layer_depth: float | None = None, sphere: tuple[float, float, float, float] | None = None,
                 h_sphere: float | None = None) -> None:
    """A flat half-space [-extent, extent]^2 x [-extent, 0] for DC tests.

    Electrodes (x, y at z = 0) are mesh nodes with size ``h_electrode`` around them.
    Optional: a layer boundary at z = -layer_depth (regions "earth" above, "layer2"
    below) and a sphere (x, y, z, radius) as region "sphere"; both are conforming.
    """
    import gmsh

    gmsh.initialize()
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.add("dc")
        occ = gmsh.model.occ
        top = occ.addBox(-extent, -extent, -extent, 2 * extent, 2 * extent, extent)
        tools = []
        if layer_depth is not None:
            tools.append((3, occ.addBox(-extent, -extent, -extent, 2 * extent, 2 * extent, extent - layer_depth)))
        if sphere is not None:
            tools.append((3, occ.addSphere(*sphere)))
        if tools:
            occ.fragment([(3, top)], tools)
        points = [occ.addPoint(x, y, 0.0) for x, y in electrodes[:, :2]]
        occ.synchronize()
        surface = [t for d, t in gmsh.model.getEntities(2)
                   if np.abs(gmsh.model.getBoundingBox(d, t)[2::3]).max() < 1e-3]
        gmsh.model.mesh.embed(0, points, 2, surface[0])
        groups = {}
        for _, tag in gmsh.model.getEntities(3):
            x0, y0, z0, x1, y1, z1 = gmsh.model.getBoundingBox(3, tag)
            if sphere is not None and x1 - x0 < 2.5 * sphere[3]:
                name = "sphere"
            elif layer_depth is not None and z1 < -0.5 * layer_depth:
                name = "layer2"
            else:
                name = "earth"
            groups.setdefault(name, []).append(tag)
        for i, name in enumerate(("earth", "layer2", "sphere"), start=1):
            if name in groups:
                gmsh.model.addPhysicalGroup(3, groups[name], i, name)
        field = gmsh.model.mesh.field
        dist = field.add("Distance")
        field.setNumbers(dist, "PointsList", points)
        thr = field.add("Threshold")
        field.setNumber(thr, "InField", dist)
        field.setNumber(thr, "SizeMin", h_electrode)
        field.setNumber(thr, "SizeMax", h_far)
        field.setNumber(thr, "DistMin", 0.0)
        field.setNumber(thr, "DistMax", (h_far - h_electrode) / 0.3)
        fields = [thr]
        if sphere is not None:
            ball = field.add("Ball")
            for key, value in zip(("XCenter", "YCenter", "ZCenter", "Radius"), sphere):
                field.setNumber(ball, key, value)
            field.setNumber(ball, "Radius", 1.2 * sphere[3])
            field.setNumber(ball, "VIn", h_sphere or sphere[3] / 4)
            field.setNumber(ball, "VOut", h_far)
            field.setNumber(ball, "Thickness", sphere[3])
            fields.append(ball)
        low = field.add("Min")
        field.setNumbers(low, "FieldsList", fields)
        generate_and_write(gmsh, low, path)
    finally:
        gmsh.finalize()


def generate_and_write(gmsh, background: int, path: str, binary: bool = True) -> None:
    """Mesh the gmsh model in 3-D with ``background`` as the only size field (the
    settings every test mesh uses: HXT, one thread) and write MSH 4.1 to ``path``."""
    gmsh.model.mesh.field.setAsBackgroundMesh(background)
    for option in ("MeshSizeExtendFromBoundary", "MeshSizeFromPoints", "MeshSizeFromCurvature"):
        gmsh.option.setNumber(f"Mesh.{option}", 0)
    gmsh.option.setNumber("Mesh.Algorithm3D", 10)
    gmsh.option.setNumber("General.NumThreads", 1)
    gmsh.model.mesh.generate(3)
    gmsh.option.setNumber("Mesh.MshFileVersion", 4.1)
    gmsh.option.setNumber("Mesh.Binary", 1 if binary else 0)
    gmsh.write(path)
