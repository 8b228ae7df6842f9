"""Couplings between model properties: petrophysical relations (maps and penalties),
cross-gradient, Gramian, local Pearson correlation and fuzzy c-means clustering.

Every coupling is an objective term (see :mod:`parjoint.inversion.terms`) on the
flat inversion vector, distributed like the mesh, with exact gradients and a
positive semi-definite Gauss-Newton Hessian approximation.
"""
