"""Optimizers and their parameter groups.

- ``groups``: the role of each parameter (embed, head, matrix, scalar) and its peak rate
- ``muon``: Muon (momentum + Newton–Schulz orthogonalisation) for 2-D weights
- ``optimizers``: ``Optimizers``, what the torch engine steps: AdamW, or AdamW + Muon
"""

from glassgpt.training.optim.groups import ROLES, decays, param_role, peak_rates, scaled_rate
from glassgpt.training.optim.muon import Muon, newton_schulz, update_scale
from glassgpt.training.optim.optimizers import Optimizers

__all__ = [
    "ROLES",
    "Muon",
    "Optimizers",
    "decays",
    "newton_schulz",
    "param_role",
    "peak_rates",
    "scaled_rate",
    "update_scale",
]
