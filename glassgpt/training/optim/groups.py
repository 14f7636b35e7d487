"""Which parameters learn at which rate: every GPT parameter has a role, every role a peak rate.

Roles, by parameter name (the same rule for both engines):

| role     | parameters                                               | peak rate key     |
|----------|----------------------------------------------------------|-------------------|
| embed    | ``transformer.wte``, ``transformer.wpe`` (a tied head is the wte) | ``train.lr_embed``  |
| head     | ``lm_head.*`` when untied                                | ``train.lr_head``   |
| matrix   | the 2-D weights inside the blocks (q/k/v, projections, MLP) | ``train.lr_matrix`` |
| scalar   | everything else: norm gains, biases                      | ``train.lr_scalar`` |

A rate of 0 means ``train.lr``.  The schedule (warmup, decay) scales every role alike: at a
step where the schedule gives ``lr_t`` for ``train.lr``, a role whose peak is ``r`` learns at
``r · lr_t / train.lr``.  With ``train.optimizer = "muon"`` the matrix role goes to Muon and
the others stay on AdamW.  Weight decay applies to tensors with ≥ 2 dimensions only (matrices
and embeddings), whatever their role.
"""

from __future__ import annotations

from glassgpt.models.ensemble import member_name

ROLES = ("embed", "head", "matrix", "scalar")


def param_role(name: str, ndim: int) -> str:
    """The role of the parameter ``name`` with ``ndim`` dimensions (see the table above); an
    ensemble member's parameter has the role of the GPT's own."""
    name = member_name(name)
    if name.startswith(("transformer.wte.", "transformer.wpe.")):
        return "embed"
    if name.startswith("lm_head."):
        return "head"
    if name.startswith("transformer.h.") and ndim == 2:
        return "matrix"
    return "scalar"


def peak_rates(train) -> dict[str, float]:
    """{role: peak learning rate} from a ``TrainConfig`` (0 in a key means ``train.lr``)."""
    given = {"embed": train.lr_embed, "head": train.lr_head, "matrix": train.lr_matrix, "scalar": train.lr_scalar}
    return {role: rate or train.lr for role, rate in given.items()}


def scaled_rate(peak: float, lr: float, base: float) -> float:
    """The rate of a role with peak ``peak`` when the schedule gives ``lr`` for the base rate
    ``base`` (exactly ``lr`` when the role has the base rate)."""
    return lr if peak == base else peak * (lr / base)


def decays(ndim: int) -> bool:
    """Weight decay for matrices and embeddings (≥ 2-D) only, never for gains and biases."""
    return ndim >= 2
