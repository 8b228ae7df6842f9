"""Maps with derivatives from an inversion block to the property a simulation needs.

A map is a differentiable function of a block's local values (owned active cells)
with ``__call__``, ``deriv`` (the Jacobian times a vector) and ``deriv_t`` (its
transpose times a vector).  All maps here act cell by cell, so their Jacobians are
diagonal or injections and need no communication.  Maps compose with ``*``:
``(f * g)(x) = f(g(x))``.  Petrophysical relations (next issue) are maps too.
"""

from __future__ import annotations

import numpy as np


class Map:
    """Base class: identity."""

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x

    def deriv(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        return v

    def deriv_t(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        return w

    def __mul__(self, inner: "Map") -> "Map":
        return Composed(self, inner)

    def output_size(self, n_in: int) -> int:
        return n_in


class Composed(Map):
    def __init__(self, outer: Map, inner: Map):
        self.outer, self.inner = outer, inner

    def __call__(self, x):
        return self.outer(self.inner(x))

    def deriv(self, x, v):
        return self.outer.deriv(self.inner(x), self.inner.deriv(x, v))

    def deriv_t(self, x, w):
        return self.inner.deriv_t(x, self.outer.deriv_t(self.inner(x), w))

    def output_size(self, n_in):
        return self.outer.output_size(self.inner.output_size(n_in))


class Exp(Map):
    """p = exp(x): from a logarithm (e.g. log conductivity) to the property."""

    def __call__(self, x):
        return np.exp(x)

    def deriv(self, x, v):
        return np.exp(x) * v

    def deriv_t(self, x, w):
        return np.exp(x) * w


class Affine(Map):
    """p = scale x + offset (e.g. -x turns log conductivity into log resistivity)."""

    def __init__(self, scale: float, offset: float = 0.0):
        self.scale, self.offset = scale, offset

    def __call__(self, x):
        return self.scale * x + self.offset

    def deriv(self, x, v):
        return self.scale * v

    def deriv_t(self, x, w):
        return self.scale * w


class Injection(Map):
    """From the active cells of a block to all owned cells; inactive cells keep ``background``."""

    def __init__(self, active: np.ndarray, background: np.ndarray | float):
        self.active = np.asarray(active, bool)
        self.background = np.broadcast_to(np.asarray(background, float), self.active.shape).copy()

    def __call__(self, x):
        out = self.background.copy()
        out[self.active] = x
        return out

    def deriv(self, x, v):
        out = np.zeros(self.active.shape)
        out[self.active] = v
        return out

    def deriv_t(self, x, w):
        return np.asarray(w)[self.active]

    def output_size(self, n_in):
        return len(self.active)


class Bounded(Map):
    """p = lower + (upper - lower) / (1 + exp(-x)): any x maps smoothly into (lower, upper).

    Lets an unconstrained optimizer respect bounds; the inverse is
    x = log((p - lower) / (upper - p)).
    """

    def __init__(self, lower: float, upper: float):
        if not upper > lower:
            raise ValueError(f"upper bound {upper} must exceed lower bound {lower}")
        self.lower, self.upper = lower, upper

    def _s(self, x):
        return 0.5 * (1.0 + np.tanh(0.5 * x))  # the logistic function, overflow-free

    def __call__(self, x):
        return self.lower + (self.upper - self.lower) * self._s(x)

    def deriv(self, x, v):
        s = self._s(x)
        return (self.upper - self.lower) * s * (1 - s) * v

    def deriv_t(self, x, w):
        return self.deriv(x, w)

    def inverse(self, p):
        p = np.asarray(p, float)
        return np.log((p - self.lower) / (self.upper - p))
