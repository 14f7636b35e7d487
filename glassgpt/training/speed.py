"""The GPU speed switches: bf16 autocast, TF32, ``torch.compile`` and flash attention.

Each is a setting (``train.dtype=bfloat16``, ``train.tf32``, ``train.compile``,
``train.flash``; the ``gpt2`` preset turns all four on) that takes effect on CUDA (bf16
autocast also on a CPU that multiplies bfloat16 natively).  Where one is off the start-up
header says so, so a recipe written for a GPU runs unchanged on a laptop:

* **bf16 autocast**: matmuls and attention in bfloat16 (and Muon's Newton–Schulz products),
  weights, optimizer state and loss in float32;
  needs a GPU with bfloat16 (Ampere or later), or a CPU with AVX512-BF16 or AMX
  (``device.cpu_bfloat16``: there a one-thread matmul of the makemore-tuned GPT's shapes is
  ~4x faster, its training step 1.3x), otherwise float32.
* **TF32**: float32 matmuls on tensor cores with a 10-bit mantissa
  (``torch.backends.cuda.matmul.fp32_precision``/``set_float32_matmul_precision("high")``); only
  what autocast leaves in float32 is affected.
* **torch.compile**: the model is compiled once (the first steps are slow).  On the CPU it
  does not pay inside a laptop run: ``benchmarks/compile_cpu.py`` measured 19 s of
  compilation for 1.27x faster steps on the ``cpu-speedrun`` model, paid back only after
  ~1,150 steps, about all that its 94 s budget holds (and evaluation compiles again), so
  it is off there.
* **flash attention**: ``scaled_dot_product_attention`` is restricted to its flash kernel,
  which never materialises the T×T scores.  SDPA picks it by itself when it can; this
  switch *requires* it, so it needs bfloat16 and no document mask (``train.doc_mask``), and is
  off otherwise.

TF32 and the kernel restriction are process-wide torch settings, so ``SpeedPlan.active()``
sets them for the duration of a block (a training step, an evaluation) and puts the
previous values back afterwards.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from glassgpt.device import cpu_bfloat16


@dataclass(frozen=True)
class SpeedPlan:
    bf16: bool = False
    tf32: bool = False
    compile: bool = False
    flash: bool = False
    off: tuple[str, ...] = field(default_factory=tuple)  # asked for but off here, each with why

    @property
    def dtype(self) -> str:
        return "bfloat16" if self.bf16 else "float32"

    def note(self) -> str:
        """One sentence for the header about switches that are off ("" when none)."""
        return f"off here: {'; '.join(self.off)}" if self.off else ""

    @contextlib.contextmanager
    def active(self):
        """TF32 and the flash-only attention kernel for the duration of the block."""
        if not (self.tf32 or self.flash):
            yield
            return
        matmul = torch.backends.cuda.matmul.allow_tf32
        cudnn = torch.backends.cudnn.allow_tf32
        try:
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = self.tf32
            with sdpa_kernel([SDPBackend.FLASH_ATTENTION]) if self.flash else contextlib.nullcontext():
                yield
        finally:
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn


def plan_speed(train, device: torch.device, doc_mask: bool = False) -> SpeedPlan:
    """What of ``train``'s switches (dtype, tf32, compile, flash) this device runs with."""
    cuda = device.type == "cuda"
    off = []
    bf16 = train.dtype == "bfloat16"
    if bf16 and device.type == "cpu" and not cpu_bfloat16():
        off.append("bf16 autocast (this CPU has no native bfloat16)")
        bf16 = False
    elif bf16 and not cuda and device.type != "cpu":
        off.append("bf16 autocast (CUDA or CPU only)")
        bf16 = False
    elif bf16 and cuda and not torch.cuda.is_bf16_supported():
        off.append("bf16 autocast (this GPU has no bfloat16)")
        bf16 = False
    tf32 = train.tf32 and cuda
    if train.tf32 and not cuda:
        off.append("TF32 (CUDA only)")
    compile_ = train.compile and cuda
    if train.compile and not cuda:
        off.append("torch.compile (CUDA only)")
    flash = train.flash and cuda and bf16 and not doc_mask
    if train.flash and not flash:
        why = "CUDA only" if not cuda else "needs bfloat16" if not bf16 else "not with train.doc_mask"
        off.append(f"flash attention ({why})")
    return SpeedPlan(bf16, tf32, compile_, flash, tuple(off))
