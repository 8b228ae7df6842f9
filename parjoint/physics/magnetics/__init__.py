"""Magnetics: induced (and optional remanent) magnetization of tetrahedra by Poisson's
relation with the gravity-gradient kernels, and ``parjoint forward`` for
``physics = "magnetics"``."""
