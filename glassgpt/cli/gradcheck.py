"""``glassgpt gradcheck``: prove the glass engine's hand-written gradients against PyTorch autograd."""

from __future__ import annotations

import argparse

from rich import box
from rich.table import Table

from glassgpt.cli import COMMANDS, HelpFormatter, add_threads
from glassgpt.console import console as stdout_console
from glassgpt.makemore.gradcheck import check_mlp_run, is_ladder_run, table_lines
from glassgpt.progress import task
from glassgpt.rundir import kinds
from glassgpt.terminal import width
from glassgpt.threads import thread_scope
from glassgpt.training.gradcheck import run_gradcheck


def register(sub) -> None:
    p = sub.add_parser(
        "gradcheck",
        help=COMMANDS["gradcheck"],
        formatter_class=HelpFormatter,
        description="Run one batch through the glass (NumPy) GPT and the PyTorch GPT from the same weights and\n"
        "compare the logits, the loss and the gradient of every parameter. Error = max|glass - torch|\n"
        "/ max|torch| per tensor, against a tolerance chosen per tensor and dtype (float64: 1e-9 to\n"
        "1e-10; float32: 2e-6 to 5e-5, about 10-25x the roundoff measured on trained runs).\n"
        "Dropout is off in both (they would draw different masks). Exit status 1 if any tensor\n"
        "fails. With a run directory: its weights and a batch of its training text; with --preset:\n"
        "fresh weights and random tokens.\n"
        "A makemore MLP run (`glassgpt train --model mlp`, with BatchNorm) is checked the backprop-ninja\n"
        "way instead: its backward pass written by hand one intermediate at a time (logprobs ... C), each against\n"
        "autograd (exact? / within tolerance? / max difference), on 32 of its training examples\n"
        "(--batch-size), then the one-formula cross-entropy and BatchNorm backward passes.",
    )
    none = argparse.SUPPRESS  # absent options have no default to print
    p.add_argument(
        "run_dir", metavar="RUN_DIR", nargs="?", default=none, help="run directory written by `glassgpt train`"
    )
    p.add_argument("--preset", default=none, help="check a freshly initialised preset model instead (default: baby)")
    p.add_argument(
        "--vocab-size",
        type=int,
        default=none,
        help="vocabulary size for --preset (default: the preset's own tokenizer where small, else 65 characters)",
    )
    p.add_argument(
        "--dtype",
        choices=["float32", "float64"],
        default="float64",
        help="float64 proves the formulas; float32 shows the precision training runs at",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=none,
        metavar="B",
        help="sequences in the batch (default: 2; a makemore MLP run: 32 examples)",
    )
    p.add_argument(
        "--seq-len", type=int, metavar="T", default=none, help="tokens per sequence (default: min(context, 64))"
    )
    p.add_argument("--seed", type=int, default=0, help="seed for the batch (and the weights, with --preset)")
    add_threads(p)
    p.add_argument("--wide", action="store_true", help="full parameter names on one line, however wide")
    p.set_defaults(func=run)


def run_by_hand(args: argparse.Namespace) -> int:
    """A makemore MLP run: the lecture's intermediates one by one, then the one-formula shortcuts."""
    with thread_scope(args.threads), task("checking gradients by hand"):
        check = check_mlp_run(args.run_dir, args.dtype, getattr(args, "batch_size", 32), args.seed)
    for line in table_lines(check):
        print(line)
    if check.ok:
        print(
            f"all {len(check.rows) + len(check.formulas)} checks agree: every gradient written by hand "
            "matches autograd."
        )
        return 0
    print(f"{len(check.failures)} checks FAILED: " + ", ".join(r.name for r in check.failures))
    return 1


def run(args: argparse.Namespace) -> int:
    if getattr(args, "run_dir", None) and not getattr(args, "preset", None):
        kinds.require(args.run_dir, "gradcheck")
    if getattr(args, "run_dir", None) and not hasattr(args, "preset") and is_ladder_run(args.run_dir):
        return run_by_hand(args)
    get = lambda name: getattr(args, name, None)  # noqa: E731
    with thread_scope(args.threads), task("checking gradients"):
        result = run_gradcheck(
            get("run_dir"),
            get("preset"),
            args.dtype,
            getattr(args, "batch_size", 2),
            get("seq_len"),
            args.seed,
            get("vocab_size"),
        )
    console = stdout_console(max(width(), 160) if args.wide else None)
    B, T = result.shape
    table = Table(
        title=f"glass vs torch autograd — {result.source}; batch {B}×{T}, {result.dtype}, "
        f"{result.n_params:,} parameters",
        box=box.SIMPLE_HEAD,
        title_justify="left",
        caption=None if args.wide else "tensor names without their leading 'transformer.'",
        caption_justify="left",
    )
    table.add_column("tensor", no_wrap=True)
    for col, justify in (
        ("shape", "left"),
        ("max |Δ|", "right"),
        ("rel. error", "right"),
        ("tolerance", "right"),
        ("", "center"),
    ):
        table.add_column(col, justify=justify)
    for r in result.rows:
        table.add_row(
            r.name if args.wide else r.name.removeprefix("transformer."),
            "×".join(map(str, r.shape)) or "scalar",
            f"{r.max_abs:.2e}",
            f"{r.rel:.2e}",
            f"{r.tol:.0e}",
            "[green]ok[/green]" if r.ok else "[bold red]FAIL[/bold red]",
        )
    console.print(table)
    if result.ok:
        console.print(f"all {len(result.rows)} tensors agree: the hand-written gradients match PyTorch autograd.")
        return 0
    console.print(
        f"[bold red]{len(result.failures)} of {len(result.rows)} tensors FAILED:[/bold red] "
        + ", ".join(r.name for r in result.failures)
    )
    return 1
