"""Gravity: closed-form polyhedron kernels on tetrahedra, the gravity simulation and
``parjoint forward`` for ``physics = "gravity"``."""
