"""Joint-inversion strategies: simultaneous, cooperative and sequential.

* ``simultaneous``: one objective with every data set, every regularization term and
  every coupling; all blocks move together (the default).
* ``cooperative``: per outer cycle, each block in turn is inverted with its own data
  and regularization for a few Gauss-Newton iterations while the other blocks stay
  fixed; the couplings (structure, petrophysics, clusters) carry what each inversion
  learned to the next one.  Each block keeps its own beta and cooling across cycles.
* ``sequential``: the blocks are inverted one after the other, in the order their data
  sets appear; a finished block is fixed, and when a petrophysics coupling maps it to
  the next block, the next block starts from (and is regularized towards) its image
  under the relation.

All three use the same config; ``[joint] strategy`` switches between them.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .objective import JointObjective
from .optimizers import Inversion, Settings

STRATEGIES = ("simultaneous", "cooperative", "sequential")


def _blocks_of(term) -> list[str]:
    return list(getattr(term, "blocks", [term.block.name] if hasattr(term, "block") else []))


def _stage(layout, data, regularization, coupling, block: str, settings: Settings, beta, known=None):
    """The objective of one block with the others fixed; couplings only to ``known`` blocks."""
    def relevant(term):
        blocks = _blocks_of(term)
        return block in blocks and (known is None or all(b == block or b in known for b in blocks))

    objective = JointObjective(layout, [t for t in data if t.block.name == block],
                               [(w, t) for w, t in regularization if block in _blocks_of(t)],
                               coupling=[(w, t) for w, t in coupling if relevant(t)])
    free = np.zeros(layout.n_local, bool)
    free[layout[block].slice] = True
    return objective, replace(settings, free=free, beta=beta)


def _summary(layout, data, regularization, x, stage: str, step: int, beta, seconds: float, inversion=None,
             objective=None) -> dict:
    """A history row with every data set's misfit (staged strategies record one per stage)."""
    phi = [t.value(x) for t in data]
    rows = inversion.history[1:] if inversion else []
    return {"iteration": step, "stage": stage, "phi_d": phi, "chi2_ratio": [t.chi2(x) / t.n_data for t in data],
            "phi_m": float(sum(w * t.value(x) for w, t in regularization)),
            "phi_c": objective.coupling_value(x) if objective else 0.0, "beta": beta, "step": 1.0,
            "gn_iterations": len(rows), "cg_iterations": sum(r["cg_iterations"] for r in rows), "seconds": seconds,
            "coupling_seconds": objective.coupling_seconds if objective else 0.0}


def block_order(data) -> list[str]:
    order = []
    for term in data:
        if term.block.name not in order:
            order.append(term.block.name)
    return order


def run_cooperative(layout, data, regularization, coupling, settings: Settings, x: np.ndarray, cycles: int,
                    iterations: int, log) -> tuple[np.ndarray, list[dict]]:
    import time

    history, betas = [_summary(layout, data, regularization, x, "start", 0, {}, 0.0)], {}
    for cycle in range(1, cycles + 1):
        for block in block_order(data):
            log(f"cooperative cycle {cycle}: block {block}")
            t0 = time.perf_counter()
            objective, stage = _stage(layout, data, regularization, coupling, block,
                                      replace(settings, max_iterations=iterations), betas.get(block, settings.beta))
            inversion = Inversion(objective, stage, log=log)
            x = inversion.run(x)
            betas[block] = objective.beta[block]
            history.append(_summary(layout, data, regularization, x, f"{cycle}:{block}", len(history),
                                    dict(objective.beta), time.perf_counter() - t0, inversion, objective))
    return x, history


def run_sequential(layout, data, regularization, coupling, settings: Settings, x: np.ndarray,
                   log) -> tuple[np.ndarray, list[dict]]:
    from ..coupling.petrophysics import PetroPenalty

    import time

    history = [_summary(layout, data, regularization, x, "start", 0, {}, 0.0)]
    done: list[str] = []
    for block in block_order(data):
        for _, term in coupling:
            if isinstance(term, PetroPenalty) and term.blocks[1] == block and term.blocks[0] in done:
                # the finished block's image under the relation: start and reference of this one
                source = layout[term.blocks[0]]
                values = np.zeros(layout.mesh.n_cells)
                values[source.active] = x[source.slice]
                image = term.relation(values)[layout[block].active]
                x = x.copy()
                x[layout[block].slice] = image
                for _, reg in regularization:
                    if hasattr(reg, "reference") and getattr(reg, "block", None) is layout[block] \
                            and reg.reference is not None:
                        reg.reference = image.copy()
                log(f"sequential: block {block} starts from {term.relation.name}({term.blocks[0]})")
        log(f"sequential: block {block}")
        t0 = time.perf_counter()
        objective, stage = _stage(layout, data, regularization, coupling, block, settings, settings.beta, known=done)
        inversion = Inversion(objective, stage, log=log)
        x = inversion.run(x)
        history.append(_summary(layout, data, regularization, x, block, len(history), dict(objective.beta),
                                time.perf_counter() - t0, inversion, objective))
        done.append(block)
    return x, history
