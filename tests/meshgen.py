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
