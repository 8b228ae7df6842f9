"""PNG figures of an inversion: convergence, data fit, model sections (rank 0 draws)."""

from __future__ import annotations

import os

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def convergence(history: list[dict], names: list[str], path: str) -> None:
    plt = _pyplot()
    it = [row["iteration"] for row in history]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for k, name in enumerate(names):
        axes[0].semilogy(it, [row["chi2_ratio"][k] for row in history], "o-", label=name)
    axes[0].axhline(1.0, color="k", lw=0.8, ls="--")
    axes[0].set(xlabel="iteration", ylabel="chi^2 / N", title="data misfit")
    axes[0].legend()
    axes[1].semilogy(it, [max(row["phi_m"], 1e-300) for row in history], "s-")
    axes[1].set(xlabel="iteration", ylabel="phi_m", title="regularization")
    blocks = sorted({b for row in history for b in (row["beta"] or {})})
    for b in blocks:
        axes[2].semilogy(it, [row["beta"].get(b, np.nan) if row["beta"] else np.nan for row in history], "^-",
                         label=b)
    if blocks:
        axes[2].legend()
    axes[2].set(xlabel="iteration", ylabel="beta", title="trade-off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def data_fit(observed: np.ndarray, predicted: np.ndarray, sd: np.ndarray, label: str, title: str,
             path: str) -> None:
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    lo, hi = min(observed.min(), predicted.min()), max(observed.max(), predicted.max())
    axes[0].plot([lo, hi], [lo, hi], "k-", lw=0.8)
    axes[0].errorbar(observed, predicted, xerr=sd, fmt=".", ms=3, alpha=0.6)
    axes[0].set(xlabel=f"observed {label}", ylabel=f"predicted {label}", title=title)
    r = (predicted - observed) / sd
    axes[1].hist(r, bins=30)
    axes[1].set(xlabel="normalised residual", ylabel="count",
                title=f"chi^2/N = {np.mean(r ** 2):.2f}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def section(grid_a: np.ndarray, grid_b: np.ndarray, values: np.ndarray, axes_names: tuple[str, str],
            label: str, title: str, path: str, markers: np.ndarray | None = None) -> None:
    """A model section: values on a (nb, na) grid of the plane's two coordinates (m)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 4.5))
    image = ax.pcolormesh(grid_a, grid_b, np.ma.masked_invalid(values), shading="auto", cmap="viridis")
    fig.colorbar(image, ax=ax, label=label)
    if markers is not None and len(markers):
        ax.plot(markers[:, 0], markers[:, 1], "wv", ms=4)
    ax.set(xlabel=f"{axes_names[0]} (m)", ylabel=f"{axes_names[1]} (m)", title=title, aspect="equal")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def section_grid(bounds: np.ndarray, axis: str, value: float, n: int = 160):
    """Sampling points of a plane axis = value over ``bounds`` (2 x 3), and its 2-D grid."""
    names = {"x": ("y", "z"), "y": ("x", "z"), "z": ("x", "y")}[axis]
    i, j = "xyz".index(names[0]), "xyz".index(names[1])
    a = np.linspace(bounds[0, i], bounds[1, i], n)
    b = np.linspace(bounds[0, j], bounds[1, j], max(n // 2, 20))
    A, B = np.meshgrid(a, b)
    pts = np.zeros((A.size, 3))
    pts[:, i], pts[:, j], pts[:, "xyz".index(axis)] = A.ravel(), B.ravel(), value
    return pts, A, B, names


def ensure_folder(path: str) -> None:
    os.makedirs(path, exist_ok=True)
