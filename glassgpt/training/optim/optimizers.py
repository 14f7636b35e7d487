"""The torch engine's optimizers: AdamW (and Muon for the block matrices) with a rate per role,
or plain SGD.

``Optimizers(model, train, device, bf16)`` builds, from ``train.optimizer`` and the rate keys of
``groups``, one ``torch.optim.AdamW`` over every parameter, or that AdamW over the
embeddings, head, gains and biases plus a ``Muon`` over the blocks' 2-D weights (its
Newton–Schulz products in bfloat16 when ``bf16``: the run trains under bf16 autocast), or
(``sgd``, the makemore lectures' optimizer) one ``torch.optim.SGD`` with ``train.momentum``,
its ``weight_decay`` the classic L2 term added to the gradient of the ≥ 2-D weights.  The
trainer's scheduled rate reaches every group through ``set_lr`` (each group keeps its peak
``base_lr``).  ``state_tensors()`` / ``load_state_tensors()`` give the state as a flat dict by
parameter name, the checkpoint format of every engine:

    <name>.exp_avg, <name>.exp_avg_sq, <name>.step    AdamW's moments and step count
    <name>.momentum_buffer                            Muon's momentum (and SGD's, when it has one)

A parameter without saved state starts fresh (as in torch), so a run can even switch
optimizer on resume.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch

from glassgpt.training.optim.groups import ROLES, decays, param_role, peak_rates, scaled_rate
from glassgpt.training.optim.muon import Muon

ADAMW_KEYS = ("exp_avg", "exp_avg_sq", "step")
MUON_KEYS = ("momentum_buffer",)


class Optimizers:
    def __init__(self, model: torch.nn.Module, train, device: torch.device, bf16: bool = False):
        self.train, self.device = train, device
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self.names = {id(p): n for n, p in named}
        rates = peak_rates(train)
        use_muon = train.optimizer == "muon"
        adamw_groups, muon_params = [], []
        for role in ROLES:
            members = [(n, p) for n, p in named if param_role(n, p.dim()) == role]
            if use_muon and role == "matrix":
                muon_params = [p for _, p in members]
                continue
            for decay in (True, False):
                params = [p for _, p in members if decays(p.dim()) == decay]
                if params:
                    adamw_groups.append(
                        {
                            "params": params,
                            "weight_decay": train.weight_decay if decay else 0.0,
                            "base_lr": rates[role],
                            "role": role,
                        }
                    )
        self.adamw = self.sgd = self.muon = None
        if train.optimizer == "sgd":
            self.sgd = torch.optim.SGD(adamw_groups, lr=train.lr, momentum=train.momentum)
        else:
            self.adamw = torch.optim.AdamW(
                adamw_groups, lr=train.lr, betas=(train.beta1, train.beta2), eps=train.eps, fused=device.type == "cuda"
            )
        if muon_params:
            self.muon = Muon(
                [{"params": muon_params, "base_lr": rates["matrix"], "role": "matrix"}],
                lr=rates["matrix"],
                momentum=train.muon_momentum,
                nesterov=train.muon_nesterov,
                ns_steps=train.muon_ns_steps,
                weight_decay=train.weight_decay,
                scale=train.muon_scale,
                ns_dtype=torch.bfloat16 if bf16 else torch.float32,
            )
        self.all = [o for o in (self.adamw, self.sgd, self.muon) if o is not None]

    @property
    def param_groups(self) -> list[dict]:
        return [g for o in self.all for g in o.param_groups]

    def set_lr(self, lr: float) -> None:
        """The schedule gave ``lr`` for ``train.lr``: every group gets its peak rate scaled alike."""
        for group in self.param_groups:
            group["lr"] = scaled_rate(group["base_lr"], lr, self.train.lr)

    def step(self) -> None:
        for o in self.all:
            o.step()

    def updates(self) -> list[tuple[float, Callable[[], None]]]:
        """The step as independent items, (about how much work, a function doing it), for an
        engine that spreads them over threads: one per Muon matrix (``Muon.work``), and each
        other optimizer's whole step (element-wise over a few small tensors, counted as one
        matrix's worth).  Every parameter's update is computed whole by one item, so calling
        them all, in any order or on any threads, gives the bytes of ``step()``."""
        if self.muon is None:
            return [(1.0, o.step) for o in self.all]
        pending = self.muon.pending()
        items: list[tuple[float, Callable[[], None]]] = [
            (Muon.work(p, g), functools.partial(self.muon.update, p, g)) for p, g in pending
        ]
        least = min((cost for cost, _ in items), default=1.0)
        return items + [(least, o.step) for o in self.all if o is not self.muon]

    def zero_grad(self) -> None:
        for o in self.all:
            o.zero_grad(set_to_none=True)

    # ---- state by parameter name --------------------------------------------------------------
    def state_tensors(self) -> dict[str, torch.Tensor]:
        out = {}
        for opt, keys in ((self.adamw, ADAMW_KEYS), (self.sgd, MUON_KEYS), (self.muon, MUON_KEYS)):
            if opt is None:
                continue
            for p, state in opt.state.items():
                name = self.names[id(p)]
                for key in keys:
                    if state.get(key) is None:  # SGD without momentum keeps no buffer
                        continue
                    value = torch.as_tensor(state[key]).detach()
                    out[f"{name}.{key}"] = value.reshape(-1) if key == "step" else value
        return out

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        for group in self.adamw.param_groups if self.adamw is not None else []:
            for p in group["params"]:
                name = self.names[id(p)]
                if f"{name}.exp_avg" in tensors:
                    self.adamw.state[p] = {
                        "step": tensors[f"{name}.step"].reshape(()).to(self._step_device, torch.float32).clone(),
                        "exp_avg": tensors[f"{name}.exp_avg"].to(self.device, p.dtype).clone(),
                        "exp_avg_sq": tensors[f"{name}.exp_avg_sq"].to(self.device, p.dtype).clone(),
                    }
        for opt in (self.sgd, self.muon):
            for group in opt.param_groups if opt is not None else []:
                for p in group["params"]:
                    key = f"{self.names[id(p)]}.momentum_buffer"
                    if key in tensors:
                        opt.state[p] = {"momentum_buffer": tensors[key].to(self.device, p.dtype).clone()}

    @property
    def _step_device(self) -> torch.device:
        # the fused CUDA AdamW keeps its step counter on the GPU, the plain one on the CPU
        return self.device if self.device.type == "cuda" else torch.device("cpu")
