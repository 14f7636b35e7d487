"""Diagnostics of the makemore ladder's models, layer by layer (the lectures' figures as data).

``LayerProbe`` watches one training step of a ladder model (``glassgpt.makemore.models``) the
way ``diagnostics.Probe`` watches a GPT: the engine calls ``watch()`` around the forward pass
of the first micro-batch, ``grads_ready()`` before clipping, ``stepped()`` after the
optimizer step, and ``record(step, grad_norm)`` gives one line of ``diagnostics.jsonl``::

    {"step": 100, "grad_norm": 0.9, "probe": "layers",
     "activation_kind": "tanh",
     "activations": [{"layer": "tanh 1", "mean": 0.0, "std": 0.63, "saturated": 0.04}, ...],
     "histograms": {"tanh 1": {"activation": {"counts", "edges"}, "gradient": {...}}, ...},
     "dead": [{"layer": "tanh 1", "shape": [32, 200], "rows": ["0f3a…", ...]}, ...],
     "weight_gradients": [{"name": "hidden.weight", "shape": [30, 200], "mean": 0.0, "std": 1e-3,
                           "grad_data": 2e-3, "counts": [...], "edges": [...]}, ...],
     "components": {"C.weight": {"mean", "max", "std"}, ...},        # of |grad|, every parameter
     "layer_names": ["C.weight", "hidden.weight", ...], "layer_grad_norm": [0.1, ...],
     "update_ratio": {"C.weight": -2.9, ...}}                          # weights (≥ 2-D) only

Per tanh layer (in forward order): the share of *saturated* units, |tanh| > 0.97, where the
gradient 1 − tanh² is below 0.06 and the unit barely learns; the histograms of its outputs and
of the loss gradient flowing into them; and the *dead-neuron image*: up to 32 examples (rows)
× the layer's units (columns), a bit set where |tanh| > 0.99, stored as one hex string per row
(``makemore.dead_rows``).  A column set in every row is a unit that no example moves: dead.

Per weight matrix: the histogram of its gradient and the grad:data ratio std(grad) / std(W);
and the update-to-data ratio log10(std(ΔW) / std(W)), ΔW the step's actual change — for
plain SGD exactly lr·grad, so log10(lr·std(grad) / std(W)), which the lectures keep near −3.

Like ``Probe`` it only reads: no random numbers, no change to the step.
"""

from __future__ import annotations

import contextlib
import math

import torch

from glassgpt.makemore.dead_rows import DEAD, pack_rows
from glassgpt.makemore.models import CharModel, Tanh
from glassgpt.training.diagnostics import Probe, _abs_stats, _flat, _floats, _hist_json, _histogram

#: |tanh| above this counts as saturated (the lectures' threshold)
SATURATED = 0.97
#: rows (examples) of the dead-neuron image
DEAD_ROWS = 32


class LayerProbe:
    def __init__(self, model):
        self.model = model
        self.tanh = [m for m in model.modules() if isinstance(m, Tanh)]
        self.params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self.weights = [(n, p) for n, p in self.params if p.dim() >= 2]
        n = len(self.tanh)
        self.act_stats: list = [None] * n
        self.act_hist: list = [None] * n
        self.grad_hist: list = [None] * n
        self.dead: list = [None] * n
        self.tensors: dict = {}
        self._before: dict[str, torch.Tensor] = {}

    @staticmethod
    def label(i: int) -> str:
        return f"tanh {i + 1}"

    # ---- hooks ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def watch(self):
        handles = [m.register_forward_hook(self._hook(i)) for i, m in enumerate(self.tanh)]
        try:
            yield
        finally:
            for h in handles:
                h.remove()

    def _hook(self, i: int):
        def hook(module, inputs, output):
            with torch.no_grad():
                out = output.detach().float()
                self.act_stats[i] = torch.stack(
                    [out.mean(), out.std(correction=0), (out.abs() > SATURATED).float().mean()]
                )
                self.act_hist[i] = _histogram(out)
                self.dead[i] = (out.reshape(-1, out.shape[-1])[:DEAD_ROWS].abs() > DEAD).cpu().numpy()
            if output.requires_grad:

                def grad_hook(g):
                    self.grad_hist[i] = _histogram(g.detach().float())

                output.register_hook(grad_hook)

        return hook

    # ---- gradients and updates ----------------------------------------------------------------
    def grads_ready(self) -> None:
        with torch.no_grad():
            grads = {
                n: (p.grad if p.grad is not None else torch.zeros_like(p)).detach().float() for n, p in self.params
            }
            self.tensors["components"] = {n: _abs_stats([g]) for n, g in grads.items()}
            self.tensors["norms"] = {n: g.norm() for n, g in grads.items()}
            self.tensors["weight_grads"] = {
                n: (
                    _histogram(grads[n]),
                    torch.stack([grads[n].mean(), grads[n].std(correction=0), p.detach().float().std(correction=0)]),
                )
                for n, p in self.weights
            }
            self._before = {n: _flat([p]) for n, p in self.weights}

    def stepped(self) -> None:
        with torch.no_grad():
            self.tensors["update"] = {
                n: torch.stack([(_flat([p]) - self._before[n]).std(correction=0), self._before[n].std(correction=0)])
                for n, p in self.weights
            }
            self._before = {}

    # ---- the record ------------------------------------------------------------------------------
    def record(self, step: int, grad_norm: float) -> dict:
        t = self.tensors
        activations, histograms, dead = [], {}, []
        for i in range(len(self.tanh)):
            if self.act_stats[i] is None:
                continue
            mean, std, sat = _floats(self.act_stats[i])
            activations.append({"layer": self.label(i), "mean": mean, "std": std, "saturated": sat})
            histograms[self.label(i)] = {
                "activation": _hist_json(self.act_hist[i]),
                "gradient": _hist_json(self.grad_hist[i]),
            }
            dead.append({"layer": self.label(i), "shape": list(self.dead[i].shape), "rows": pack_rows(self.dead[i])})
        weight_grads = []
        for name, p in self.weights:
            hist, stats = t["weight_grads"][name]
            g_mean, g_std, w_std = _floats(stats)
            weight_grads.append(
                {
                    "name": name,
                    "shape": list(p.shape),
                    "mean": g_mean,
                    "std": g_std,
                    "grad_data": g_std / w_std if w_std > 0 else None,
                    **_hist_json(hist),
                }
            )
        ratios = {}
        for name, s in t["update"].items():
            upd, w = _floats(s)
            ratios[name] = math.log10(upd / w) if upd > 0 and w > 0 and math.isfinite(upd / w) else None
        return {
            "step": int(step),
            "grad_norm": float(grad_norm),
            "probe": "layers",
            "activation_kind": "tanh",
            "activations": activations,
            "histograms": histograms,
            "dead": dead,
            "weight_gradients": weight_grads,
            "components": {n: dict(zip(("mean", "max", "std"), _floats(s))) for n, s in t["components"].items()},
            "layer_names": [n for n, _ in self.params],
            "layer_grad_norm": [float(t["norms"][n]) for n, _ in self.params],
            "update_ratio": ratios,
        }


def make_probe(model):
    """The diagnostics probe for ``model``: ``Probe`` for a GPT, ``LayerProbe`` for a ladder model."""
    return LayerProbe(model) if isinstance(model, CharModel) else Probe(model)
