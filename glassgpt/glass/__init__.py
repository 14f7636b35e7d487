"""The glass box: a NumPy GPT whose every gradient is written by hand and checked.

- ``layers``, ``attention``, ``loss``, ``batchnorm``: forward/backward pairs, side by side
- ``model``: the GPT built from them, with the torch GPT's parameter names and shapes
- ``optim``: AdamW and SGD, step for step like ``torch.optim``
- ``engine``: ``GlassEngine``, the trainer's engine (``glassgpt train --engine glass``)
- ``gradcheck``: compare the glass gradients with PyTorch autograd, tensor by tensor

NumPy only, except where weights cross over to torch (``GPT.from_torch``/``to_torch``,
the engine's checkpoint tensors, the gradient check).
"""

from glassgpt.glass.model import GPT, parameter_shapes
from glassgpt.glass.optim import SGD, AdamW

__all__ = ["GPT", "parameter_shapes", "AdamW", "SGD"]
