"""Finite elements on the distributed mesh: spaces, reference tables, compiled element
kernels, COO assembly into PETSc matrices, and linear solvers with options prefixes."""
