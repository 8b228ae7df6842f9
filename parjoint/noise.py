"""Uncertainties and synthetic noise for data vectors (replicated on every rank)."""

from __future__ import annotations

import numpy as np

from .config import Table


def standard_deviation(data: np.ndarray, relative: float, floor: float) -> np.ndarray:
    """sd = relative * |d| + floor (same units as the data)."""
    return relative * np.abs(data) + floor


def noise_from_config(table: Table | None) -> tuple[float, float, int | None]:
    """(relative, floor, seed) from an optional ``[noise]`` table; zeros without one."""
    if table is None:
        return 0.0, 0.0, None
    relative = table.number("relative", 0.0, min=0.0)
    floor = table.number("floor", 0.0, min=0.0)
    seed = table.integer("seed", 0, min=0)
    table.finish()
    return relative, floor, seed


def add_noise(data: np.ndarray, sd: np.ndarray, seed: int | None) -> np.ndarray:
    """Data plus Gaussian noise of standard deviation ``sd``.

    The generator is seeded identically on every rank, so the noisy data are the
    same everywhere and for any number of ranks.
    """
    if seed is None or not np.any(sd):
        return data.copy()
    return data + np.random.default_rng(seed).standard_normal(data.shape) * sd
