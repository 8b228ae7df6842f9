"""Forward simulations, one module per physics.

Every simulation works on a distributed :class:`~parjoint.mesh.Mesh` and exposes

* ``dpred(m)``: predicted data for the model ``m`` (the physical property of each
  owned cell, SI units); data vectors are replicated on every rank;
* ``Jvec(m, v)`` and ``Jtvec(m, w)``: the sensitivity (Jacobian) times a model
  perturbation, and its transpose times a data vector, without forming J unless
  the simulation says otherwise.

``parjoint forward config.toml`` dispatches on the config's ``physics`` key to the
module registered in :data:`FORWARD`.
"""

from __future__ import annotations

#: physics key in a forward config -> module with ``run_forward(config, comm)``
FORWARD = {
    "dc": "parjoint.physics.dc.forward",
    "ip": "parjoint.physics.dc.forward",
    "gravity": "parjoint.physics.gravity.forward",
    "magnetics": "parjoint.physics.magnetics.forward",
    "mt": "parjoint.physics.mt.forward",
}
