"""parjoint: parallel 3-D joint inversion of geophysical data.

Layers, top to bottom (nothing calls upward): ``cli``/``config``, ``inversion``,
``coupling``, ``physics``, ``fem``, ``mesh``, ``io``.  All lengths are metres,
all quantities SI unless a docstring or file format says otherwise.
"""

__version__ = "0.1.0"

#: PETSc options used when PETSc initialises (on first import of ``parjoint.petsc``);
#: the command line fills it from its trailing ``-option value`` words.
PETSC_ARGS: list[str] = []
