"""Training diagnostics: what the gradients, updates, activations and attention look like.

Public functions (docs/curriculum.md, A8)::

    analyze_gradients(model, x, y) -> {group: {"mean", "max", "std"}}   # of |grad|
    training_step(model, x, y, optimizer) -> {"loss_before", "loss_after"}

and ``Probe``, which the torch engine attaches to one training step when the trainer
asks for diagnostics (``train.diagnostics_every`` / ``--diagnostics-every N``; 0 = off,
100 is a good default: the overhead stays well under 5%).  The trainer appends one
record per captured step to the run's ``diagnostics.jsonl``.

Parameter groups (the same everywhere in this module):

- ``embeddings``: ``transformer.wte`` and ``transformer.wpe``.  With tied weights the LM
  head *is* ``wte``, so the head's gradient is part of the embedding gradient.
- ``attention``: ``*.attn.*``   ``mlp``: ``*.mlp.*``   ``norms``: ``ln_1``, ``ln_2``, ``ln_f``
- ``head``: ``lm_head`` when untied (the group is absent when tied).

Record format of ``diagnostics.jsonl`` (one JSON object per line, ``"step"`` first)::

    {"step": 100,                       # optimizer steps done, this one included
     "grad_norm": 0.83,                 # global L2 norm of the gradient, before clipping
     "components": {"embeddings": {"mean": 1e-4, "max": 0.02, "std": 3e-4}, "attention": {...},
                    "mlp": {...}, "norms": {...}, "head": {...}},   # of |grad|, raw (unclipped)
     "layer_grad_norm": [0.21, 0.18, ...],   # L2 norm of each transformer block's gradient
     "embedding_grad_norm": 0.44, "head_grad_norm": null,         # null when the head is tied
     "update_ratio": {"embeddings": -2.9, ...},  # log10(std(ΔW) / std(W)), null if undefined
     "activations": [{"mlp": {"mean": 0.05, "std": 0.21, "saturated": 0.01},
                      "residual": {"mean": 0.0, "std": 1.3}}, ...],   # one per block
     "attention_entropy": [[1.9, 2.4, ...], ...],   # nats; [layer][head]
     "histograms": [{"activation": {"counts": [30 ints], "edges": [31 floats]},
                     "gradient": {"counts": [...], "edges": [...]}}, ...]}   # one per block

Definitions:

- ``mean``/``max``/``std`` are over all elements of the group's parameters, concatenated;
  ``std`` is the population standard deviation (no Bessel correction).
- ``update_ratio`` uses the *actual* parameter change of the step, ΔW = W_after − W_before
  (for plain SGD this is lr·grad, so the ratio is log10(lr·std(grad)/std(W)); for AdamW
  the update is shaped by the moments and weight decay, and the real change is what
  matters).  std(W) is taken before the step.  Healthy training sits near −3; much
  higher means the learning rate is too large for that group, much lower too small.
  The value is null when either std is zero (e.g. LayerNorm gains that are all ones).
- ``activations[i].mlp``: the output of block i's MLP nonlinearity.  ``saturated`` is
  the share of units in the flat region where the gradient all but vanishes: for GELU
  the pre-activation x < −3 (there |gelu(x)| < 0.004 and |gelu'(x)| < 0.012); for ReLU
  x ≤ 0 (a zero output, zero gradient).  It plays the role of tanh's |t| > 0.97.
  ``residual``: the residual stream after block i.
- ``attention_entropy``: for every attention row (a query position over the keys it may
  see), −Σ p ln p of the weights before dropout; averaged over batch and positions.
  Row t can see t+1 keys, so every value lies in [0, ln T].  Low = focused heads.
- ``histograms``: 30 equal bins between the min and the max of block i's MLP activation
  output (``activation``) and of the loss gradient with respect to that output
  (``gradient``), Karpathy's activation/gradient histograms.

Activations, attention and histograms come from the step's first micro-batch (the
diagnostic batch) in training mode; gradients and updates are those of the whole step.
Capturing only reads tensors: it draws no random numbers and does not change the step's
numbers, so a run with diagnostics trains exactly like one without.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from glassgpt.device import device_of
from glassgpt.models.ensemble import member_name

#: order in which groups appear in records
GROUPS = ("embeddings", "attention", "mlp", "norms", "head")
HIST_BINS = 30
#: GELU's flat negative region: pre-activations below this count as saturated
GELU_SATURATION_X = -3.0


def param_group(name: str) -> str:
    """The group of a GPT parameter name (see the module docstring); any other model's
    parameter (a makemore ladder model's ``C.weight``, ``hidden.weight`` …) is its own group.
    An ensemble member's parameter is in the group of the GPT's own."""
    name = member_name(name)
    if not name.startswith(("transformer.", "lm_head.")):
        return name
    if name.startswith("lm_head."):
        return "head"
    if name.startswith(("transformer.wte.", "transformer.wpe.")):
        return "embeddings"
    if ".attn." in name:
        return "attention"
    if ".mlp." in name:
        return "mlp"
    if ".ln_" in name or name.startswith("transformer.ln_f."):
        return "norms"
    raise ValueError(f"parameter {name} belongs to no diagnostics group")


def grouped_parameters(model) -> dict[str, list[tuple[str, torch.nn.Parameter]]]:
    """{group: [(name, parameter), ...]} in GROUPS order (then any other groups in the model's
    order); a tied head appears once, under embeddings (``named_parameters`` lists a shared
    tensor only under its first name)."""
    out: dict[str, list] = {}
    for name, p in model.named_parameters():
        out.setdefault(param_group(name), []).append((name, p))
    return {**{g: out[g] for g in GROUPS if g in out}, **{g: v for g, v in out.items() if g not in GROUPS}}


def _flat(tensors) -> torch.Tensor:
    return torch.cat([t.detach().float().reshape(-1) for t in tensors])


def _abs_stats(tensors) -> torch.Tensor:
    """(mean, max, std) of |t| over all elements, as one tensor (no host sync)."""
    a = _flat(tensors).abs()
    return torch.stack([a.mean(), a.max(), a.std(correction=0)])


def _grads(params) -> list[torch.Tensor]:
    return [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]


def gradient_components(model) -> dict[str, dict[str, float]]:
    """{group: {"mean", "max", "std"}} of |grad| from the gradients now in ``.grad``."""
    stats = {g: _abs_stats(_grads([p for _, p in items])) for g, items in grouped_parameters(model).items()}
    return {g: dict(zip(("mean", "max", "std"), s.tolist())) for g, s in stats.items()}


def _batch(model, x, y) -> tuple[torch.Tensor, torch.Tensor]:
    device = device_of(model)
    x, y = (torch.as_tensor(a).to(device=device, dtype=torch.long) for a in (x, y))
    return x, y


def _loss(model, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    logits, _ = model(x)
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), y.reshape(-1), ignore_index=-1)


def analyze_gradients(model, x, y) -> dict[str, dict[str, float]]:
    """Mean, max and std of |dL/dθ| per parameter group for the batch (x, y) of shape (B, T).

    Runs one forward and backward pass itself, in the model's current mode (train or
    eval; dropout in train mode draws random numbers).  Any gradient already in
    ``.grad`` is discarded first, and the gradients are cleared (set to None)
    afterwards, so the model is left as if no backward had run.  With tied weights the
    head's gradient counts under ``embeddings``."""
    x, y = _batch(model, x, y)
    model.zero_grad(set_to_none=True)
    try:
        _loss(model, x, y).backward()
        return gradient_components(model)
    finally:
        model.zero_grad(set_to_none=True)


def training_step(model, x, y, optimizer) -> dict[str, float]:
    """One plain training step on (x, y): forward, flatten the logits to (B·T, V),
    cross-entropy, zero_grad, backward, optimizer step.  Returns the batch's loss before
    the update and, from a second forward pass without gradients, after it."""
    x, y = _batch(model, x, y)
    loss = _loss(model, x, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        after = _loss(model, x, y)
    return {"loss_before": float(loss.detach()), "loss_after": float(after)}


def attention_entropy(weights: torch.Tensor) -> torch.Tensor:
    """Mean entropy (nats) of the rows of causal attention weights (B, H, T, T) -> (H,).
    Masked entries are exact zeros and contribute nothing (0 · ln 0 = 0)."""
    w = weights.float()
    plogp = torch.where(w > 0, w * torch.log(w.clamp_min(1e-30)), torch.zeros_like(w))
    return -plogp.sum(-1).mean(dim=(0, 2))


class Probe:
    """Watches one training step of a GPT and turns it into a diagnostics record.

    The engine calls, in order: ``watch()`` (a context manager around the forward pass
    of the diagnostic micro-batch: forward hooks, plus tensor hooks that fire during its
    backward), ``grads_ready()`` after the last backward and before clipping,
    ``stepped()`` after the optimizer step.  ``record(step, grad_norm)`` then builds the
    JSON-ready dict.  Statistics stay on the device as tensors until ``record``."""

    def __init__(self, model):
        self.model = model
        self.groups = grouped_parameters(model)
        blocks = model.transformer.h
        self.n_blocks = len(blocks)
        self.relu = not isinstance(blocks[0].mlp.act, torch.nn.GELU) if self.n_blocks else False
        self.act_stats: list = [None] * self.n_blocks
        self.act_hist: list = [None] * self.n_blocks
        self.grad_hist: list = [None] * self.n_blocks
        self.resid_stats: list = [None] * self.n_blocks
        self.entropy: list = [None] * self.n_blocks
        self.tensors: dict = {}
        self._before: dict[str, torch.Tensor] = {}
        self._handles: list = []

    # ---- hooks -------------------------------------------------------------------------
    def watch(self):
        probe = self

        class _Watch:
            def __enter__(self):
                for i, block in enumerate(probe.model.transformer.h):
                    probe._handles += [
                        block.mlp.act.register_forward_hook(probe._act_hook(i)),
                        block.register_forward_hook(probe._resid_hook(i)),
                        block.attn.register_forward_hook(probe._attn_hook(i), with_kwargs=True),
                    ]

            def __exit__(self, *exc):
                for h in probe._handles:
                    h.remove()
                probe._handles = []

        return _Watch()

    def _act_hook(self, i: int):
        def hook(module, inputs, output):
            with torch.no_grad():
                pre, out = inputs[0].detach().float(), output.detach().float()
                sat = (pre <= 0) if self.relu else (pre < GELU_SATURATION_X)
                self.act_stats[i] = torch.stack([out.mean(), out.std(correction=0), sat.float().mean()])
                self.act_hist[i] = _histogram(out)
            if output.requires_grad:

                def grad_hook(g):
                    self.grad_hist[i] = _histogram(g.detach().float())

                output.register_hook(grad_hook)

        return hook

    def _resid_hook(self, i: int):
        def hook(module, inputs, output):
            with torch.no_grad():
                out = output.detach().float()
                self.resid_stats[i] = torch.stack([out.mean(), out.std(correction=0)])

        return hook

    def _attn_hook(self, i: int):
        def hook(module, args, kwargs, output):
            # the weights come from the attention module itself, from the same input and mask;
            # its training forward stays on the fast path and no random numbers are drawn
            with torch.no_grad():
                weights = module.weights(args[0].detach(), positions=kwargs.get("positions"), mask=kwargs.get("mask"))
                self.entropy[i] = attention_entropy(weights)

        return hook

    # ---- gradients and updates -------------------------------------------------------------
    def grads_ready(self) -> None:
        """Read the raw (unclipped) gradients and keep a copy of the weights before the step."""
        with torch.no_grad():
            t = self.tensors
            t["components"] = {g: _abs_stats(_grads([p for _, p in items])) for g, items in self.groups.items()}
            blocks = self.model.transformer.h
            t["layer"] = [_norm(_grads(b.parameters())) for b in blocks]
            t["embedding"] = _norm(_grads([p for _, p in self.groups.get("embeddings", [])]))
            t["head"] = _norm(_grads([p for _, p in self.groups["head"]])) if "head" in self.groups else None
            self._before = {g: _flat([p for _, p in items]) for g, items in self.groups.items()}

    def stepped(self) -> None:
        """Compare the weights after the optimizer step with the copy from ``grads_ready``."""
        with torch.no_grad():
            ratios = {}
            for g, items in self.groups.items():
                before = self._before[g]
                update = _flat([p for _, p in items]) - before
                ratios[g] = torch.stack([update.std(correction=0), before.std(correction=0)])
            self.tensors["update"] = ratios
            self._before = {}

    # ---- the record ----------------------------------------------------------------------
    def record(self, step: int, grad_norm: float) -> dict:
        t = self.tensors
        comps = {g: dict(zip(("mean", "max", "std"), _floats(s))) for g, s in t["components"].items()}
        ratios = {}
        for g, s in t["update"].items():
            upd, w = _floats(s)
            ratios[g] = math.log10(upd / w) if upd > 0 and w > 0 and math.isfinite(upd / w) else None
        acts = []
        for i in range(self.n_blocks):
            a = _floats(self.act_stats[i]) if self.act_stats[i] is not None else [None] * 3
            r = _floats(self.resid_stats[i]) if self.resid_stats[i] is not None else [None] * 2
            acts.append({"mlp": dict(zip(("mean", "std", "saturated"), a)), "residual": dict(zip(("mean", "std"), r))})
        return {
            "step": int(step),
            "grad_norm": float(grad_norm),
            "components": comps,
            "layer_grad_norm": [float(n) for n in t["layer"]],
            "embedding_grad_norm": float(t["embedding"]),
            "head_grad_norm": None if t["head"] is None else float(t["head"]),
            "update_ratio": ratios,
            "activations": acts,
            "attention_entropy": [_floats(e) if e is not None else [] for e in self.entropy],
            "histograms": [
                {"activation": _hist_json(self.act_hist[i]), "gradient": _hist_json(self.grad_hist[i])}
                for i in range(self.n_blocks)
            ],
        }


def _norm(tensors) -> torch.Tensor:
    tensors = list(tensors)
    if not tensors:
        return torch.zeros(())
    return torch.sqrt(sum(t.detach().float().pow(2).sum() for t in tensors))


def _floats(t: torch.Tensor) -> list[float]:
    return [float(v) for v in t.detach().cpu().tolist()]


def _histogram(t: torch.Tensor):
    """(counts, min, max) over HIST_BINS equal bins from min to max (a constant tensor gets
    the range [v − 1, v + 1]), kept on the device: no host sync until the record is built.
    Bins are closed on the left; the max falls in the last bin (as numpy.histogram)."""
    flat = t.reshape(-1)
    lo, hi = flat.min(), flat.max()
    flat_range = hi <= lo
    lo, hi = torch.where(flat_range, lo - 1, lo), torch.where(flat_range, hi + 1, hi)
    idx = ((flat - lo) * (HIST_BINS / (hi - lo))).long().clamp_(0, HIST_BINS - 1)
    return torch.bincount(idx, minlength=HIST_BINS), lo, hi


def _hist_json(h) -> dict | None:
    if h is None:
        return None
    counts, lo, hi = h
    lo, hi = float(lo), float(hi)
    edges = [lo + (hi - lo) * k / HIST_BINS for k in range(HIST_BINS + 1)]
    return {"counts": [int(c) for c in counts.cpu().tolist()], "edges": edges}
