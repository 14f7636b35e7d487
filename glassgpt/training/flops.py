"""FLOPs per trained token, the peak FLOP/s of known GPUs, and model FLOPs utilisation (MFU).

**FLOPs per token** follow the PaLM paper's appendix B: ``6·N + 12·L·H·Q·T`` for one token
trained (forward + backward), where

* ``N`` is the number of parameters the forward pass multiplies by: every weight except the
  position table and, when the head is untied, the token table (an embedding lookup is
  not a matmul; a tied table *is* the head's matmul, so it counts once).  The head counts
  its padded rows, which the GPU computes too.  Each such weight costs 2 FLOPs per token
  forward and 4 backward (gradients of the input and of the weight): 6·N;
* ``12·L·H·Q·T`` is attention's two matmuls (scores q·kᵀ and the weighted sum of v) over a
  context of ``T`` = the training sequence length, for ``L`` layers of ``H`` heads of size
  ``Q`` (H·Q = the width): 2·2·T·H·Q forward per layer, twice that backward.  As usual
  the causal half that is masked is not discounted.

**MFU** = achieved FLOP/s ÷ the devices' peak: tokens/s × FLOPs per token ÷ (peak of one
device × devices).  The peak is ``train.peak_flops`` when set, else looked up by the GPU's
name in ``PEAK_FLOPS`` for the precision the run computes in (bf16 under autocast, TF32
when enabled, else fp32) — dense figures from NVIDIA's data sheets, never the "with
sparsity" ones.  A CPU has no entry: runs there report the achieved FLOP/s only
(``benchmarks/launcher.py`` measures a CPU's matmul rate for comparison).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from glassgpt.config import ModelConfig, RunConfig

#: dense peak TFLOP/s per GPU: name pattern -> {"bf16", "tf32", "fp32"}; the first pattern
#: found in ``torch.cuda.get_device_name()`` wins, so the specific ones come first
PEAK_TFLOPS: list[tuple[tuple[str, ...], dict[str, float] | None]] = [
    (("H100", "NVL"), None),  # not in the table (yet)
    (("H200", "NVL"), None),
    (("H100", "PCIE"), {"bf16": 756.0, "tf32": 378.0, "fp32": 51.0}),
    (("H100",), {"bf16": 989.4, "tf32": 494.7, "fp32": 66.9}),  # SXM5
    (("H200",), {"bf16": 989.4, "tf32": 494.7, "fp32": 66.9}),  # SXM: the H100 SXM's compute, more memory
    (("A100",), {"bf16": 312.0, "tf32": 156.0, "fp32": 19.5}),
    (("L40S",), {"bf16": 362.1, "tf32": 183.0, "fp32": 91.6}),
    (("L40",), {"bf16": 181.0, "tf32": 90.5, "fp32": 90.5}),
    (("L4",), {"bf16": 121.0, "tf32": 60.0, "fp32": 30.3}),
    (("RTX 4090",), {"bf16": 165.2, "tf32": 82.6, "fp32": 82.6}),
    (("RTX 3090",), {"bf16": 71.0, "tf32": 35.6, "fp32": 35.6}),
]


def matmul_parameters(m: ModelConfig) -> int:
    """``N``: the parameters the forward pass multiplies by (see the module docstring)."""
    C, F, L, V = m.n_embd, m.ffn_width, m.n_layer, m.padded_vocab_size
    per_layer = 3 * C * C + C * C + 2 * C * F  # q/k/v, attention out, MLP in and out
    per_layer += (3 * C if m.qkv_bias else 0) + ((C + F + C) if m.bias else 0)
    per_layer += 2 * C * (2 if m.bias and m.norm == "layernorm" else 1)  # norm gains (and biases)
    head = V * C + (V if m.head_bias and not m.tie_weights else 0)
    final_norm = C * (2 if m.bias and m.norm == "layernorm" else 1)
    return L * per_layer + head + final_norm


def flops_per_token(m: ModelConfig, seq_len: int) -> float:
    """``6·N + 12·L·H·Q·T``: training FLOPs per token at sequence length ``seq_len`` (an
    ensemble's too: in training each row goes through one member)."""
    return 6.0 * matmul_parameters(m) + 12.0 * m.n_layer * m.n_embd * seq_len


def precision(dtype_active: str, tf32: bool) -> str:
    """The peak column a run uses: "bf16" under bf16 autocast, "tf32" with TF32 on, else "fp32"."""
    return "bf16" if dtype_active == "bfloat16" else "tf32" if tf32 else "fp32"


def peak_flops(device_name: str, column: str) -> float | None:
    """Dense peak FLOP/s of one GPU named ``device_name`` (e.g. "NVIDIA H100 80GB HBM3") in
    ``column`` ("bf16", "tf32", "fp32"); None for a device not in the table."""
    name = device_name.upper()
    for patterns, peaks in PEAK_TFLOPS:
        if all(p in name for p in patterns):
            return None if peaks is None else peaks[column] * 1e12
    return None


def mfu(tokens_per_sec: float, per_token: float, peak: float | None, devices: int = 1) -> float | None:
    """Model FLOPs utilisation in [0, 1] (None without a peak)."""
    if not peak:
        return None
    return tokens_per_sec * per_token / (peak * devices)


@dataclass(frozen=True)
class Throughput:
    """What a run's metrics add to its tokens/s: ``flops_per_sec`` (achieved, all devices) and,
    with a known peak, ``mfu``."""

    per_token: float
    peak: float | None = None  # one device's peak FLOP/s
    devices: int = 1

    @classmethod
    def of(cls, cfg: RunConfig, seq_len: int, devices: int, speed, device: torch.device) -> Throughput:
        """For a run: ``train.peak_flops``, else the table's figure for this GPU in the run's precision."""
        peak = cfg.train.peak_flops or None
        if peak is None and device.type == "cuda":
            column = precision(speed.dtype if speed else "float32", bool(speed and speed.tf32))
            peak = peak_flops(torch.cuda.get_device_name(device), column)
        return cls(flops_per_token(cfg.model, seq_len), peak, devices)

    def record(self, tokens_per_sec: float) -> dict:
        out = {"flops_per_sec": tokens_per_sec * self.per_token}
        if self.peak:
            out["mfu"] = mfu(tokens_per_sec, self.per_token, self.peak, self.devices)
        return out
