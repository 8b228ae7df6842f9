"""Magnetotellurics: Nedelec edge-element forward modelling, impedance and tipper
responses, adjoint sensitivities, and the ``parjoint forward`` command (``physics = "mt"``)."""
