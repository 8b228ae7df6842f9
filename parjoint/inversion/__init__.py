"""The distributed inversion engine: model layout and maps, objective terms, beta and
dataset weighting, optimizers, checkpoints, and the ``parjoint invert`` driver."""
