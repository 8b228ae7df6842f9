"""Small gmsh meshes of simple bodies for the potential-field tests.

``body_mesh`` meshes one box or sphere (region ``body``) inside a larger box of
``earth``: the body's cells are exactly its volume for a box, and a polyhedral
approximation for a sphere (its volume is measured from the mesh).
"""

from __future__ import annotations

from meshgen import generate_and_write


def body_mesh(path: str, body: str, size: tuple, h_body: float, outer: float, h_outer: float) -> None:
    """``body`` = "box" with ``size`` = (lo, hi) corners, or "sphere" with (centre, radius);
    the earth is the cube [-outer, outer]^3."""
    import gmsh

    gmsh.initialize()
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.add(body)
        occ = gmsh.model.occ
        earth = occ.addBox(-outer, -outer, -outer, 2 * outer, 2 * outer, 2 * outer)
        if body == "box":
            lo, hi = size
            inner = occ.addBox(*lo, *(hi[i] - lo[i] for i in range(3)))
        else:
            centre, radius = size
            inner = occ.addSphere(*centre, radius)
        occ.fragment([(3, earth)], [(3, inner)])
        occ.synchronize()
        volumes = sorted(gmsh.model.getEntities(3), key=lambda e: gmsh.model.occ.getMass(*e))
        gmsh.model.addPhysicalGroup(3, [volumes[0][1]], 1, "body")
        gmsh.model.addPhysicalGroup(3, [t for _, t in volumes[1:]], 2, "earth")
        field = gmsh.model.mesh.field
        inside = field.add("Constant")
        field.setNumber(inside, "VIn", h_body)
        field.setNumber(inside, "VOut", h_outer)
        field.setNumbers(inside, "VolumesList", [volumes[0][1]])
        generate_and_write(gmsh, inside, path, binary=False)
    finally:
        gmsh.finalize()
