"""Reference tables of the P1 and P2 Lagrange elements, computed exactly.

Basis functions are polynomials in barycentric coordinates; integrals of monomials
over a simplex are exact:

    tetrahedron:  int L1^a L2^b L3^c L4^d dV = 6 V a! b! c! d! / (a+b+c+d+3)!
    triangle:     int M1^a M2^b M3^c dA     = 2 A a! b! c! / (a+b+c+2)!

On a tetrahedron with barycentric gradients g_a (``Mesh.grad_p1``), the gradient of a
basis function is grad phi_i = sum_a c_ia(L) g_a, so the stiffness matrix with a
constant coefficient is

    K_ij = sum_ab (g_a . g_b) V T[i, j, a, b],   T[i, j, a, b] = (1/V) int c_ia c_jb dV,

and T does not depend on the cell.  P1: phi_i = L_i.  P2: vertex phi_i = L_i (2 L_i - 1),
edge (p, q) phi = 4 L_p L_q, edges in ``TET_EDGES`` order.
"""

from __future__ import annotations

from math import factorial

import numpy as np

from ..mesh.mesh import TET_EDGES

TRI_EDGES = np.array([[0, 1], [1, 2], [0, 2]])  # P2 face dofs: 3 vertices then these edges

# A polynomial in n barycentric variables: {exponent tuple: coefficient}
Poly = dict


def _mul(p: Poly, q: Poly) -> Poly:
    out: Poly = {}
    for ea, ca in p.items():
        for eb, cb in q.items():
            e = tuple(x + y for x, y in zip(ea, eb))
            out[e] = out.get(e, 0.0) + ca * cb
    return out


def _unit(n: int, k: int) -> tuple:
    return tuple(1 if i == k else 0 for i in range(n))


def _integrate(p: Poly, n: int) -> float:
    """Integral over a simplex with n barycentric variables, divided by its measure."""
    dim = n - 1
    total = 0.0
    for e, c in p.items():
        num = np.prod([factorial(x) for x in e])
        total += c * num * factorial(dim) / factorial(sum(e) + dim)
    return total


def _basis(order: int, n: int, edges: np.ndarray) -> list[Poly]:
    if order == 1:
        return [{_unit(n, i): 1.0} for i in range(n)]
    out = [{tuple(2 if j == i else 0 for j in range(n)): 2.0, _unit(n, i): -1.0} for i in range(n)]
    for p, q in edges:
        out.append({tuple(1 if j in (p, q) else 0 for j in range(n)): 4.0})
    return out


def _gradient_coefficients(order: int) -> list[list[Poly]]:
    """c[i][a]: coefficient polynomial of g_a in grad phi_i on a tetrahedron."""
    n = 4
    basis = _basis(order, n, TET_EDGES)
    out = []
    for phi in basis:
        row = []
        for a in range(n):  # d phi / d L_a (the L are treated as independent; sum L = 1 is
            d: Poly = {}    # accounted for by the gradients g_a summing to zero)
            for e, c in phi.items():
                if e[a]:
                    de = tuple(x - (1 if j == a else 0) for j, x in enumerate(e))
                    d[de] = d.get(de, 0.0) + c * e[a]
            row.append(d)
        out.append(row)
    return out


def stiffness_table(order: int) -> np.ndarray:
    """T[i, j, a, b] such that K_ij = V sum_ab (g_a . g_b) T[i, j, a, b]."""
    c = _gradient_coefficients(order)
    m = len(c)
    table = np.zeros((m, m, 4, 4))
    for i in range(m):
        for j in range(m):
            for a in range(4):
                for b in range(4):
                    if c[i][a] and c[j][b]:
                        table[i, j, a, b] = _integrate(_mul(c[i][a], c[j][b]), 4)
    return table


def face_mass_table(order: int) -> np.ndarray:
    """M[i, j] = (1/A) int psi_i psi_j dA on a triangle (P1: 3 dofs, P2: 6)."""
    basis = _basis(order, 3, TRI_EDGES)
    return np.array([[_integrate(_mul(p, q), 3) for q in basis] for p in basis])


PAIRS = np.array([(a, b) for a in range(4) for b in range(a, 4)])  # the 10 (a <= b) of g_a . g_b


def pair_table(table: np.ndarray) -> np.ndarray:
    """A stiffness table folded onto the 10 distinct products g_a . g_b (a <= b), rows
    flattened: P[p, i m + j] with K_ij = V sum_p (g_a . g_b)_p P[p, i m + j]; dense, so
    the kernels run one contiguous multiply-add per pair."""
    m = table.shape[0]
    out = np.empty((len(PAIRS), m * m))
    for p, (a, b) in enumerate(PAIRS):
        out[p] = (table[:, :, a, b] + (table[:, :, b, a] if a != b else 0.0)).ravel()
    return out


def basis_values(order: int, bary: np.ndarray) -> np.ndarray:
    """Values of the basis functions at points given by barycentric coordinates (n, 4)."""
    basis = _basis(order, 4, TET_EDGES)
    out = np.zeros((len(bary), len(basis)))
    for k, phi in enumerate(basis):
        for e, c in phi.items():
            out[:, k] += c * np.prod(bary ** np.array(e), axis=1)
    return out
