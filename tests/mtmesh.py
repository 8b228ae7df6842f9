"""Small MT test meshes made with the gmsh API: a flat layered box with an air layer.

Domain [-half, half]^2 x [-depth, air] (m), earth below z = 0 with horizontal
interfaces at the given depths (regions ``earth``, ``layer2``, ``layer3``, ...), air
above (region ``air``), stations embedded as nodes of the surface z = 0.  Sizes grow
linearly away from the surface, h = h0 + growth * |z| (faster in the air), and are
capped at ``h_layer`` inside the layers below the first (to resolve a thin
conductor).  Exact 1-D boundary values make the horizontal extent irrelevant for a
1-D model, so the box can be narrow.
"""

from __future__ import annotations

import numpy as np

from meshgen import generate_and_write


def layered_box(path: str, stations: np.ndarray, interfaces=(), half: float = 400.0, depth: float = 3000.0,
                air: float = 3000.0, h0: float = 12.0, growth: float = 0.25, air_growth: float = 0.5,
                h_layer: float | None = None, block=None, h_block: float | None = None) -> None:
    """Write the mesh to ``path`` (MSH 4.1 binary).  ``block`` = ((x0, y0, z0), (x1, y1, z1))
    adds a box region "block" meshed at ``h_block``."""
    import gmsh

    gmsh.initialize()
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.add("mt")
        occ = gmsh.model.occ
        earth = occ.addBox(-half, -half, -depth, 2 * half, 2 * half, depth)
        sky = occ.addBox(-half, -half, 0.0, 2 * half, 2 * half, air)
        tools = [(3, sky)]
        for d in interfaces:
            tools.append((3, occ.addBox(-half, -half, -depth, 2 * half, 2 * half, depth - d)))
        if block is not None:
            lo, hi = np.asarray(block[0], float), np.asarray(block[1], float)
            tools.append((3, occ.addBox(*lo, *(hi - lo))))
        occ.fragment([(3, earth)], tools)
        points = [occ.addPoint(x, y, 0.0) for x, y in np.asarray(stations)[:, :2]]
        occ.synchronize()
        surface = [t for d, t in gmsh.model.getEntities(2)
                   if abs(gmsh.model.getBoundingBox(d, t)[2]) < 1e-6 and abs(gmsh.model.getBoundingBox(d, t)[5]) < 1e-6]
        gmsh.model.mesh.embed(0, points, 2, surface[0])
        groups: dict[str, list[int]] = {}
        tops = [0.0] + [-d for d in interfaces]
        for _, tag in gmsh.model.getEntities(3):
            x0, y0, z0, x1, y1, z1 = gmsh.model.getBoundingBox(3, tag)
            if z0 >= -1e-6:
                name = "air"
            elif block is not None and x1 - x0 < 2 * half - 1e-3:
                name = "block"
            else:
                k = int(np.sum(np.array(tops) > z1 + 1e-6))
                name = "earth" if k == 0 else f"layer{k + 1}"
            groups.setdefault(name, []).append(tag)
        for i, name in enumerate(sorted(groups, key=lambda n: (n != "earth", n != "air", n)), start=1):
            gmsh.model.addPhysicalGroup(3, groups[name], i, name)
        field = gmsh.model.mesh.field
        size = field.add("MathEval")
        field.setString(size, "F", f"{h0} + {0.5 * growth} * (abs(z) - z) + {0.5 * air_growth} * (abs(z) + z)")
        fields = [size]
        if h_layer is not None and interfaces:
            box = field.add("Box")
            for key, value in (("XMin", -half), ("XMax", half), ("YMin", -half), ("YMax", half),
                               ("ZMin", -depth), ("ZMax", -interfaces[0]), ("VIn", h_layer), ("VOut", 1e9)):
                field.setNumber(box, key, value)
            fields.append(box)
        if block is not None and h_block is not None:
            box = field.add("Box")
            lo, hi = np.asarray(block[0], float), np.asarray(block[1], float)
            for key, value in (("XMin", lo[0]), ("XMax", hi[0]), ("YMin", lo[1]), ("YMax", hi[1]),
                               ("ZMin", lo[2]), ("ZMax", hi[2]), ("VIn", h_block), ("VOut", 1e9)):
                field.setNumber(box, key, value)
            fields.append(box)
        low = field.add("Min")
        field.setNumbers(low, "FieldsList", fields)
        generate_and_write(gmsh, low, path)
    finally:
        gmsh.finalize()
