"""Finite elements on the distributed mesh: spaces, reference tables, compiled element
kernels, assembly into PETSc matrices on a fixed pattern, and linear solvers with options prefixes."""
