"""Checkpoints of an inversion: one HDF5 file, replaced atomically after every iteration.

Contents (group ``/checkpoint``): the model blocks by name in mesh-file cell order
(``model/<block>``, plus ADMM's ``z``/``u``), the scalars of the optimizer state
(iteration, beta, method), the dataset weights and IRLS weights, the history table
as JSON, a fingerprint of the inversion set-up, and a SHA-256 digest of every array.
A truncated file (HDF5 cannot open it), a digest mismatch or a set-up mismatch is
refused with an InputError: a checkpoint is never used silently when damaged.
"""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np

from ..errors import InputError
from ..parallel import atomic_output, on_root

GROUP = "checkpoint"


def _digest(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def _gather_file_order(layout, x: np.ndarray) -> dict[str, np.ndarray]:
    """Each block of x in mesh-file order of its active cells (on rank 0; None elsewhere)."""
    mesh, comm = layout.mesh, layout.comm
    out = {}
    for name, block in layout.blocks.items():
        ids = comm.gather(mesh.cell_original[block.active])
        vals = comm.gather(x[block.slice])
        if comm.rank == 0:
            ids, vals = np.concatenate(ids), np.concatenate(vals)
            out[name] = vals[np.argsort(ids, kind="stable")]
    return out


def _scatter_file_order(layout, blocks: dict[str, np.ndarray]) -> np.ndarray:
    """The inverse of :func:`_gather_file_order` (values replicated on every rank)."""
    mesh = layout.mesh
    parts = {}
    for name, block in layout.blocks.items():
        ids = np.concatenate(layout.comm.allgather(mesh.cell_original[block.active]))
        order = np.sort(ids)
        mine = mesh.cell_original[block.active]
        parts[name] = blocks[name][np.searchsorted(order, mine)]
    return layout.join(parts)


def write_checkpoint(path: str, layout, state: dict) -> None:
    """Collective.  ``state``: x (flat), optional z/u (flat), scalars, arrays, history, fingerprint."""
    vectors = {key: _gather_file_order(layout, state[key]) for key in ("x", "z", "u") if state.get(key) is not None}
    with atomic_output(path, layout.comm) as tmp:
        if layout.comm.rank == 0:
            import h5py

            with h5py.File(tmp, "w") as fh:
                g = fh.create_group(GROUP)
                digests = {}
                for key, blocks in vectors.items():
                    for name, values in blocks.items():
                        g[f"{key}/{name}"] = values
                        digests[f"{key}/{name}"] = _digest(values)
                for key, values in state.get("arrays", {}).items():
                    g[f"arrays/{key}"] = np.asarray(values)
                    digests[f"arrays/{key}"] = _digest(np.asarray(values))
                g.attrs["scalars"] = json.dumps(state.get("scalars", {}))
                g.attrs["history"] = json.dumps(state.get("history", []))
                g.attrs["fingerprint"] = state.get("fingerprint", "")
                g.attrs["digests"] = json.dumps(digests)


def read_checkpoint(path: str, layout, fingerprint: str) -> dict:
    """Collective: the state saved by :func:`write_checkpoint`, checked."""

    def load():
        import h5py

        if not os.path.exists(path):
            raise InputError(f"{path}: no checkpoint to restart from")
        try:
            with h5py.File(path, "r") as fh:
                g = fh[GROUP]
                digests = json.loads(g.attrs["digests"])
                data = {}
                for key, expected in digests.items():
                    values = g[key][...]
                    if _digest(values) != expected:
                        raise InputError(f"{path}: checkpoint dataset '{key}' is corrupted (digest mismatch)")
                    data[key] = values
                if g.attrs["fingerprint"] != fingerprint:
                    raise InputError(f"{path}: checkpoint was written by a different inversion set-up "
                                     "(mesh, data, model blocks or terms changed)")
                return {"data": data, "scalars": json.loads(g.attrs["scalars"]),
                        "history": json.loads(g.attrs["history"])}
        except (OSError, KeyError, ValueError) as exc:
            raise InputError(f"{path}: damaged or incomplete checkpoint ({exc})") from None

    raw = on_root(layout.comm, load)
    state = {"scalars": raw["scalars"], "history": raw["history"], "arrays": {}}
    for key in ("x", "z", "u"):
        blocks = {name: raw["data"].get(f"{key}/{name}") for name in layout.blocks}
        if all(v is not None for v in blocks.values()):
            state[key] = _scatter_file_order(layout, blocks)
    for key, values in raw["data"].items():
        if key.startswith("arrays/"):
            state["arrays"][key[len("arrays/"):]] = values
    return state
