"""The ``glassgpt`` command: a thin layer that parses arguments and calls the library.

Each subcommand lives in its own module here with two functions: ``register(subparsers)``
adds its parser (every option has a help text; a default worth knowing is shown once)
and ``run(args)`` calls the library and prints.  Command modules import the library at
their top, and the library imports torch; so ``main`` imports only the module of the
command being run (a deferred import, as is ``plot --run``'s sweep), and ``glassgpt --help`` lists the
commands from the table below without importing any of them.

``main`` is where every command's failures become what a person should see: a
``GlassError`` is one line ``error: <sentence>`` and exit status 2 (``--debug``, before or
after the command name, shows the traceback instead); running out of memory is one
sentence too; Ctrl-C exits 130; and a reader that goes away (``glassgpt sample … | head``)
ends the command quietly with status 141, as the shell reports for tools that SIGPIPE stops.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import textwrap

from glassgpt.errors import GlassError
from glassgpt.version import __version__

#: subcommand -> one-line help, in the order ``--help`` lists them; each is the module ``glassgpt.cli.<name>``
COMMANDS = {
    "train": "train a GPT (default: char-level on the built-in Shakespeare, a few minutes on CPU)",
    "sample": "generate text from a trained run",
    "eval": "evaluate a run: loss, perplexity, bits_per_byte (JSON)",
    "tokenizer": "train, inspect and use byte-level BPE tokenizers",
    "explain": "show, token by token, what a trained model predicted and how wrong it was",
    "gradcheck": "check the NumPy engine's hand-written gradients against PyTorch autograd",
    "plot": "draw a run's figures (loss, gradients, attention, embeddings, ...) as PNG files",
    "report": "write DIR/report.html: config, parameters, figures, samples, evaluation, explain view",
    "demo": "run a worked example (softmax, chain rule, attention, ...)",
    "finetune": "fine-tune a run on conversations (SFT, loss on the replies only) into a new run",
    "chat": "talk to a run in the terminal, token by token, with /probs to see each token's probability",
    "serve": "a local web playground: streaming, every token's probability and alternatives, explain, chat",
    "data": "prepare corpora larger than memory: token shards that `train --data DIR` streams",
    "export": "write a run as a Hugging Face GPT-2 folder (transformers loads it)",
    "import-hf": "turn a local Hugging Face GPT-2 folder into a run that samples, evaluates and fine-tunes",
    "reward": "train a reward model from a chat run on preference pairs (Bradley-Terry) into a new run",
    "reward-score": "score replies with a reward model",
    "rl": "train a chat run by RL on its own samples (exact task reward or a reward model) into a new run",
    "dpo": "train a chat run on preference pairs by DPO into a new run",
    "merge": "fold a LoRA run's adapters into its weights: a new run of a plain GPT",
}

#: exit statuses
EXIT_ERROR, EXIT_INTERRUPTED, EXIT_PIPE = 2, 130, 141

#: OpenMP settings glassgpt asks for unless the environment already has them.  They only work
#: if set before torch loads its OpenMP runtime (GNU libgomp in the Linux wheels), and main()
#: runs before any command module imports torch, so this is the one place for them.
#: Measured (benchmarks/busy_cpu.py --passive, the cpu-speedrun recipe on 2 cores):
#: OMP_WAIT_POLICY=PASSIVE (helper threads sleep at once instead of spinning) cost 20% on a
#: quiet machine (17,778 vs 22,118 tokens/s) and gained nothing on a loaded one (9,447 vs
#: 9,862), where the thread policy already runs 1 thread and no OpenMP team waits.  So
#: nothing is set.  GLASSGPT_OPENMP_DEFAULTS=0 turns this table off.
OPENMP_DEFAULTS: dict[str, str] = {}


def apply_openmp_defaults(environ=os.environ) -> None:
    """Put ``OPENMP_DEFAULTS`` into ``environ`` where it has no value of its own."""
    if environ.get("GLASSGPT_OPENMP_DEFAULTS") == "0":
        return
    for key, value in OPENMP_DEFAULTS.items():
        environ.setdefault(key, value)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Fills the description's paragraphs to the terminal's width but keeps indented lines
    (lists, tables) as written, and adds ``(default: X)`` to an option's help only when X
    says something: never for None, False, an empty list or a suppressed default, and never
    when the help text already states its default."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        out, paragraph = [], []

        def flush() -> None:
            if paragraph:
                out.append(textwrap.fill(" ".join(paragraph), width, initial_indent=indent, subsequent_indent=indent))
                paragraph.clear()

        for line in text.splitlines():
            if line and not line[0].isspace():
                paragraph.append(line.strip())
                continue
            flush()
            out.append(indent + line if line else "")
        flush()
        return "\n".join(out)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "%(default)" in text
            or "default:" in text
            or default is argparse.SUPPRESS
            or default is None
            or default is False
            or default == []
            or default == ""
        ):
            return text
        if action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE):
            return text + " (default: %(default)s)"
        return text


#: ``--device`` and ``--threads``: written once, the same on every command that runs a model.
#: Their parser default is None, "not given": train then keeps its configuration's value (whose
#: defaults are these), every other command uses ``AUTO_DEVICE`` and ``AUTO_THREADS``.
AUTO_DEVICE, AUTO_THREADS = "auto", 0
#: the commands that run a model, each with both options (gradcheck, CPU only, has --threads)
RUNS_A_MODEL = ("train", "eval", "sample", "explain", "finetune", "chat", "serve")
DEVICE_HELP = "auto | cpu | cuda | cuda:N | mps; auto (the default) picks cuda > mps > cpu"
THREADS_HELP = (
    "CPU threads for PyTorch and NumPy; 0 (the default) lets glassgpt choose (for training: the usable cores, "
    "recorded in the run so it gives the same bytes on a busy machine), N uses N, up to 4 per core; "
    "adaptive follows the machine's load (faster when busy; a run then reproduces only at the same counts)"
)
#: ``--threads adaptive``
ADAPTIVE = "adaptive"


def thread_count(text: str) -> int | str:
    """``--threads``: a whole number, or ``adaptive``."""
    if text.strip().lower() == ADAPTIVE:
        return ADAPTIVE
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither a whole number nor 'adaptive'") from None


def add_threads(parser: argparse.ArgumentParser) -> None:
    """``--threads N`` (for a command that runs on the CPU only; the others: ``add_device_and_threads``)."""
    parser.add_argument("--threads", type=thread_count, metavar="N", help=THREADS_HELP)


def add_device_and_threads(parser: argparse.ArgumentParser) -> None:
    """``--device`` and ``--threads`` on a command that runs a model."""
    parser.add_argument("--device", metavar="DEVICE", help=DEVICE_HELP)
    add_threads(parser)


def device_and_threads(args: argparse.Namespace) -> tuple[str, int]:
    """(device, threads) a command runs with: as given, else auto."""
    device = AUTO_DEVICE if args.device is None else args.device
    threads = args.threads
    return device, AUTO_THREADS if threads is None or threads == ADAPTIVE else threads


class Parser(argparse.ArgumentParser):
    """argparse's parser with a one-line error: ``error: <what>; see `glassgpt CMD --help`.``"""

    def error(self, message: str):
        self.exit(EXIT_ERROR, f"error: {message}; see `{self.prog} --help`.\n")


def _add_debug(parser: argparse.ArgumentParser) -> None:
    """``--debug`` on ``parser`` and every parser below it, so it works after the command name."""
    parser.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show the full traceback on errors"
    )
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _add_debug(child)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The full parser for ``command`` (its module imported); the others are listed by name only."""
    parser = Parser(
        prog="glassgpt",
        description="Train GPT-style language models from scratch and see exactly how they learn.",
        epilog="Run `glassgpt COMMAND --help` for a command's options.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"glassgpt {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        if name == command:
            importlib.import_module(f"{__name__}.{name.replace('-', '_')}").register(sub)
            _add_debug(sub.choices[name])
        else:
            sub.add_parser(name, help=help_text, add_help=False)
    return parser


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so nothing more (not even the exit-time flush) hits the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _out_of_memory(exc: BaseException) -> bool:
    """MemoryError, or torch's allocator failures (RuntimeError on the CPU, OutOfMemoryError on a GPU)."""
    text = str(exc).lower()
    return isinstance(exc, MemoryError) or "can't allocate memory" in text or "out of memory" in text


def main(argv: list[str] | None = None) -> int:
    """Run the command in ``argv`` (default: the program's arguments) and return its exit status."""
    if argv is not None:
        return _main(list(argv))
    try:
        return _main(sys.argv[1:])
    finally:
        # the program is ending: a late Ctrl-C (e.g. a second one during torch's exit handlers)
        # would only print a traceback from interpreter shutdown
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        except ValueError:  # not the main thread
            pass


def _main(argv: list[str]) -> int:
    apply_openmp_defaults()
    command = next((a for a in argv if a in COMMANDS), None)
    parser = build_parser(command)
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            sys.stdout.flush()
            return EXIT_ERROR
    except BrokenPipeError:  # `glassgpt train --help | head -1`
        _quiet_stdout()
        return EXIT_PIPE
    try:
        code = args.func(args) or 0
        sys.stdout.flush()  # a closed pipe shows up here, not in the interpreter's exit
        return code
    except GlassError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except (MemoryError, RuntimeError) as exc:
        if args.debug or not _out_of_memory(exc):
            raise
        print(
            "error: ran out of memory; use a smaller model, batch or sample (files already saved are intact).",
            file=sys.stderr,
        )
        return EXIT_ERROR
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_PIPE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
