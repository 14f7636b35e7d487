"""Every bad input a new user can type gets one sentence, exit status 2, no traceback, and
leaves nothing behind: each case is its own ``glassgpt`` process under a memory limit, in its
own folder of fixtures whose files are hashed before and after.

Starting Python and importing torch costs about 1.5 s of CPU per process, which for ~80
cases would dominate the suite; so ``forkrun.py`` imports the CLI once and forks a process
per case (two at a time).  A few cases also run as the real ``python -m glassgpt`` to show
that both give the same status and the same sentence.  Each case is then its own test.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.tinyrun import TINY_TEXT, tiny_config

from glassgpt.training.launch import train

LAUNCHER = Path(__file__).parents[1] / "support" / "limited.py"
FORKRUN = Path(__file__).parents[1] / "support" / "forkrun.py"
MEMORY_LIMIT = 3 << 30  # 3 GiB of address space: torch fits, a runaway allocation does not
TIMEOUT = 120  # seconds per case; a hang fails the case instead of the suite
PARALLEL = 2
ENV = dict(os.environ, GLASSGPT_REPORT="0", COLUMNS="80", OMP_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")

TINY = [
    "--set",
    "model.n_layer=1",
    "--set",
    "model.n_head=2",
    "--set",
    "model.n_embd=16",
    "--set",
    "model.block_size=16",
    "--set",
    "train.batch_size=4",
    "--set",
    "train.eval_every=0",
    "--max-steps",
    "3",
    "--threads",
    "1",
]


@dataclass
class Case:
    name: str
    argv: list[str]  # placeholders: {text} {other} {run} {ro_run} {partial} {file} {ro_dir} {tok} {utf16} {one} {new}
    match: str  # a piece of the one error sentence (case-insensitive)
    needs_read_only: bool = False


def words_case(name, model, *extra, data="{words}", match):
    """``train --model MODEL`` on a word list (the ladder's fast presets)."""
    return Case(
        name,
        [
            "train",
            "--model",
            model,
            "--data",
            data,
            "--out",
            "{new}",
            "--max-steps",
            "1" if model == "bigram" and "--max-steps" not in extra else "3",
            "--threads",
            "1",
            *extra,
        ],
        match,
    )


def train_case(name, *extra, match, out="{new}", needs_read_only=False):
    return Case(name, ["train", "--data", "{text}", "--out", out, *TINY, *extra], match, needs_read_only)


CASES = [
    # ---- train: values --------------------------------------------------------------------
    train_case("seed -1", "--seed", "-1", match="train.seed must be a whole number from 0 to 4294967295, got -1"),
    train_case("seed 1e30", "--set", "train.seed=1e30", match="train.seed must be a whole number from 0"),
    train_case("time budget nan", "--time-budget", "nan", match="train.time_budget must be a finite number"),
    train_case("time budget inf", "--time-budget", "inf", match="(0 means no limit), got inf"),
    train_case("time budget negative", "--time-budget", "-5", match="train.time_budget must not be negative"),
    train_case("lr inf", "--set", "train.lr=inf", match="train.lr must be a finite number"),
    train_case("grad clip nan", "--set", "train.grad_clip=nan", match="train.grad_clip must be a finite number"),
    train_case("weight decay inf", "--set", "train.weight_decay=inf", match="train.weight_decay must be a finite"),
    train_case("eps inf", "--set", "train.eps=inf", match="train.eps must be a finite number"),
    train_case("beta1 nan", "--set", "train.beta1=nan", match="train.beta1 must be a finite number, got nan"),
    train_case("beta2 1", "--set", "train.beta2=1", match="train.beta2 must be in [0, 1), got 1.0"),
    train_case(
        "sample temperature nan",
        "--set",
        "train.sample_temperature=nan",
        match="train.sample_temperature must be a finite number",
    ),
    train_case(
        "max steps 2.5",
        "--set",
        "train.max_steps=2.5",
        "--max-steps",
        "2.5",
        match="argument --max-steps: invalid int value: '2.5'",
    ),
    train_case(
        "max steps 2.5 via --set",
        "--set",
        "train.warmup_steps=2.5",
        match="train.warmup_steps must be a whole number, not '2.5'",
    ),
    train_case("warmup 1e30", "--set", "train.warmup_steps=1e30", match="train.warmup_steps is too large"),
    train_case("save every nan", "--set", "train.save_every=nan", match="train.save_every must be a whole number"),
    train_case("pad vocab negative", "--set", "model.pad_vocab_to=-5", match="model.pad_vocab_to must not be negative"),
    train_case("dropout 1", "--set", "model.dropout=1", match="model.dropout must be in [0, 1)"),
    train_case("unknown device", "--device", "tpu", match="train.device must be auto, cpu, cuda or mps, got 'tpu'"),
    train_case("cuda:x", "--set", "train.device=cuda:x", match="unknown device 'cuda:x'"),
    train_case("did you mean lr", "--set", "train.learning_rate=0.1", match="did you mean 'train.lr'"),
    train_case("did you mean max_steps", "--set", "max_iters=5", match="did you mean 'train.max_steps'"),
    train_case("not a whole number", "--set", "train.log_every=many", match="must be a whole number, not 'many'"),
    train_case(
        "--set and a named option",
        "--set",
        "train.max_steps=5",
        match="--set train.max_steps=5 and --max-steps 3 both set train.max_steps; give one of them",
    ),
    train_case("argparse int", "--seed", "abc", match="argument --seed: invalid int value: 'abc'"),
    # ---- train: sizes (refused from an estimate, before anything is allocated) --------------
    train_case("n_embd 100000", "--set", "model.n_embd=100000", match="needs about"),
    train_case("n_layer 100000", "--set", "model.n_layer=100000", match="needs about"),
    train_case("d_ff 1e12", "--set", "model.d_ff=1000000000000", match="needs about"),
    train_case("batch 1e9", "--set", "train.batch_size=1000000000", match="needs about"),
    train_case("grad accum 1e9", "--set", "train.grad_accum=1000000000", match="needs about"),
    train_case("eval batches 1e12", "--set", "train.eval_batches=1000000000000", match="needs about"),
    train_case("pad vocab 1e11", "--set", "model.pad_vocab_to=100000000000", match="needs about"),
    train_case(
        "sample tokens 1e12", "--set", "train.sample_tokens=1000000000000", match="sampling 1 × 1,000,000,000,000"
    ),
    # ---- train: threads --------------------------------------------------------------------
    train_case("threads 5000", "--threads", "5000", match="--threads 5000 is not a usable thread count"),
    train_case("threads 100000", "--threads", "100000", match="--threads 100000 is not a usable thread count"),
    train_case("threads -1", "--threads", "-1", match="train.threads must not be negative"),
    # ---- train: data -------------------------------------------------------------------------
    Case("utf-16 text", ["train", "--data", "{utf16}", "--out", "{new}", *TINY], "looks like UTF-16 text"),
    Case("one token", ["train", "--data", "{one}", "--out", "{new}", *TINY], "has only 1 token, too few"),
    Case("missing data", ["train", "--data", "{new}", "--out", "{new}x", *TINY], "does not exist"),
    # ---- conflicting options -----------------------------------------------------------------
    Case(
        "corpus and data",
        ["train", "--corpus", "poem", "--data", "{text}", "--out", "{new}", *TINY],
        "--corpus poem and --data",
    ),
    Case("resume and overwrite", ["train", "--out", "{run}", "--resume", "--overwrite"], "give one of them"),
    Case(
        "char with vocab size",
        ["train", "--data", "{text}", "--tokenizer", "char", "--vocab-size", "500", "--out", "{new}", *TINY],
        "data.vocab_size (--vocab-size) sizes a BPE tokenizer trained for the run",
    ),
    Case(
        "resume with preset",
        ["train", "--out", "{run}", "--resume", "--preset", "poem"],
        "was trained with the preset 'test', not 'poem'; drop --preset",
    ),
    Case("demo out without plot", ["demo", "softmax", "--out", "{new}"], "add --plot"),
    Case("explain text and file", ["explain", "{run}", "abc", "--file", "{text}"], "exactly one of them"),
    Case("gradcheck run and vocab", ["gradcheck", "{run}", "--vocab-size", "50"], "only applies with --preset"),
    # ---- resume --------------------------------------------------------------------------------
    Case(
        "resume other text",
        ["train", "--out", "{run}", "--resume", "--data", "{other}", "--max-steps", "9"],
        "the text differs from the one it was trained on",
    ),
    Case("resume finished run", ["train", "--out", "{run}", "--resume"], "already at step 3"),
    Case(
        "resume before first checkpoint", ["train", "--out", "{partial}", "--resume"], "start it again with --overwrite"
    ),
    Case(
        "rerun before first checkpoint",
        ["train", "--data", "{text}", "--out", "{partial}", *TINY],
        "pass --overwrite to start it again",
    ),
    Case("resume nothing", ["train", "--out", "{new}", "--resume"], "nothing to resume"),
    # ---- read-only destinations and paths under a file ---------------------------------------
    Case(
        "resume read-only run",
        ["train", "--out", "{ro_run}", "--resume", "--max-steps", "9"],
        "cannot resume: the run directory",
        needs_read_only=True,
    ),
    Case("report read-only run", ["report", "{ro_run}"], "cannot write the report", needs_read_only=True),
    Case("plot read-only run", ["plot", "{ro_run}", "loss"], "the figure folder", needs_read_only=True),
    Case(
        "lr sweep read-only run",
        ["plot", "{ro_run}", "lr-finder", "--run"],
        "cannot write lr_finder.json",
        needs_read_only=True,
    ),
    Case(
        "demo plot read-only",
        ["demo", "softmax", "--plot", "--out", "{ro_dir}/figs"],
        "is read-only",
        needs_read_only=True,
    ),
    Case("demo plot into a file", ["demo", "softmax", "--plot", "--out", "{file}"], "is a file, not a folder"),
    Case(
        "tokenizer out under a file",
        ["tokenizer", "train", "--data", "{text}", "--vocab-size", "300", "--out", "{file}/tok.json"],
        "is a file, not a folder",
    ),
    Case(
        "tokenizer out read-only",
        ["tokenizer", "train", "--data", "{text}", "--vocab-size", "300", "--out", "{ro_dir}/tok.json"],
        "is read-only",
        needs_read_only=True,
    ),
    train_case("train out under a file", match="cannot create", out="{file}/run"),
    train_case(
        "train out read-only", match="cannot create the output directory", out="{ro_dir}/run", needs_read_only=True
    ),
    # ---- sampling --------------------------------------------------------------------------------
    Case("temperature nan", ["sample", "{run}", "--temperature", "nan"], "temperature must be a finite number"),
    Case("temperature inf", ["sample", "{run}", "--temperature", "inf"], "got inf"),
    Case("temperature negative", ["sample", "{run}", "--temperature", "-1"], "0 or more (0 is greedy), got -1.0"),
    Case("top-p nan", ["sample", "{run}", "--top-p", "nan"], "top_p must be in (0, 1], got nan"),
    Case("top-k 0", ["sample", "{run}", "--top-k", "0"], "top_k must be at least 1, got 0"),
    Case("sample seed -1", ["sample", "{run}", "--seed", "-1"], "seed must be a whole number from 0"),
    Case("sample seed 1e23", ["sample", "{run}", "--seed", "100000000000000000000000"], "must be a whole number"),
    Case("num samples 1e8", ["sample", "{run}", "--num-samples", "100000000", "--max-new-tokens", "2"], "needs about"),
    Case("max new tokens 1e12", ["sample", "{run}", "--max-new-tokens", "1000000000000"], "needs about"),
    Case("sample device", ["sample", "{run}", "--device", "foo"], "unknown device 'foo'"),
    Case("stop with a broken escape", ["sample", "{run}", "--stop", "ab\\x"], "incomplete escape"),
    Case("sample threads", ["sample", "{run}", "--threads", "5000"], "not a usable thread count"),
    Case("unseen character", ["sample", "{run}", "--prompt", "ZEBRA\u263a"], "not in this model's vocabulary"),
    # ---- eval, explain, gradcheck, plot, tokenizer ----------------------------------------------------
    Case("eval batch 0", ["eval", "{run}", "--batch-size", "0"], "--batch-size must be at least 1, got 0"),
    Case("eval device", ["eval", "{run}", "--device", "foo"], "unknown device 'foo'"),
    Case("eval threads", ["eval", "{run}", "--threads", "100000"], "not a usable thread count"),
    Case("explain threads", ["explain", "{run}", "abc", "--threads", "5000"], "not a usable thread count"),
    Case("gradcheck batch 1e8", ["gradcheck", "--preset", "nursery", "--batch-size", "100000000"], "needs about"),
    Case("gradcheck vocab 1e8", ["gradcheck", "--vocab-size", "100000000"], "needs about"),
    Case("gradcheck seed", ["gradcheck", "--preset", "nursery", "--seed", "-1"], "--seed must be a whole number"),
    Case(
        "lr sweep 1e11 steps",
        ["plot", "{run}", "lr-finder", "--run", "--lr-steps", "100000000000"],
        "needs 2 to 100,000 steps",
    ),
    Case("tokenizer top -1", ["tokenizer", "show", "{tok}", "--top", "-1"], "--top must be 0 or more"),
    Case("eval utf-16 data", ["eval", "{run}", "--data", "{utf16}"], "looks like UTF-16 text"),
    Case("explain utf-16 file", ["explain", "{run}", "--file", "{utf16}"], "looks like UTF-16 text"),
    Case(
        "tokenizer utf-16 data",
        ["tokenizer", "train", "--data", "{utf16}", "--vocab-size", "300", "--out", "{new}"],
        "looks like UTF-16 text",
    ),
    Case("tokenizer id", ["tokenizer", "decode", "{tok}", "--ids", "99999999999999999999"], "outside this tokenizer"),
    # ---- scaling out: tokens per step, data parallelism, corpora, Hugging Face, multiple choice -------
    train_case(
        "tokens per step not divisible",
        "--set",
        "train.tokens_per_step=1000",
        match="train.tokens_per_step (1,000) is not a multiple of batch_size × seq_len × processes",
    ),
    train_case(
        "ddp without torchrun", "--set", "train.parallel=ddp", match="needs several processes: start them with torchrun"
    ),
    train_case(
        "parallel unknown", "--set", "train.parallel=zero3", match="train.parallel must be auto, none, ddp, fsdp"
    ),
    train_case(
        "fsdp with muon",
        "--set",
        "train.parallel=fsdp",
        "--set",
        "train.optimizer=muon",
        match="Muon orthogonalises whole matrices",
    ),
    train_case("peak flops negative", "--set", "train.peak_flops=-1", match="train.peak_flops must be 0"),
    Case(
        "gpt2 preset without a corpus",
        ["train", "--preset", "gpt2", "--out", "{new}"],
        "the gpt2 preset trains on a prepared corpus",
    ),
    Case(
        "prepare missing input",
        ["data", "prepare", "--input", "{new}/nothing.txt", "--tokenizer", "cl100k", "--out", "{new}"],
        "does not exist",
    ),
    Case(
        "prepare bare gpt2",
        ["data", "prepare", "--input", "{text}", "--tokenizer", "gpt2", "--out", "{new}"],
        "the GPT-2 ranks do not ship offline",
    ),
    Case(
        "prepare shard tokens 0",
        ["data", "prepare", "--input", "{text}", "--tokenizer", "cl100k", "--out", "{new}", "--shard-tokens", "0"],
        "--shard-tokens must be a whole number",
    ),
    Case("export missing run", ["export", "{new}", "--hf", "{new}/hf"], "does not exist"),
    Case("export into a file", ["export", "{run}", "--hf", "{file}"], "is a file, not a folder"),
    Case(
        "import-hf not a model folder",
        ["import-hf", "{ro_dir}", "--out", "{new}"],
        "is not a Hugging Face model folder",
    ),
    Case("multiple choice missing file", ["eval", "{run}", "--multiple-choice", "{new}.jsonl"], "does not exist"),
    Case("multiple choice not json", ["eval", "{run}", "--multiple-choice", "{text}"], "line 1 of"),
    # ---- the makemore ladder: word lists ------------------------------------------------------------
    words_case(
        "two words",
        "mlp",
        data="{two}",
        match="has only 2 words (one per line, 1 empty line skipped); "
        "give at least 3 so that train, dev and test get one each",
    ),
    words_case("word with the end token", "mlp", data="{text}", match="contains '.', which marks the start and end"),
    words_case("empty word list", "bigram", data="{blank}", match="is empty"),
    words_case("model on a text preset", "mlp", "--preset", "baby", match="the mlp model learns from a word list"),
    words_case("bigram with more steps", "bigram", "--max-steps", "5", match="set train.max_steps=1"),
    words_case("glass wavenet", "wavenet", "--engine", "glass", match="not the wavenet; use --engine torch"),
    words_case("wavenet block 6", "wavenet", "--set", "model.block_size=6", match="must be a power of model.group"),
    words_case("words with bpe", "mlp", "--tokenizer", "bpe", match="drop --tokenizer bpe"),
    words_case("muon on the ladder", "mlp", "--set", "train.optimizer=muon", match="Muon is for the GPT"),
    words_case("hidden init", "mlp", "--set", "model.hidden_init=xavier", match="model.hidden_init must be"),
    Case(
        "unknown arch",
        ["train", "--data", "{words}", "--out", "{new}", "--set", "data.kind=words", "--set", "model.arch=rnn"],
        "model.arch must be gpt, bigram",
    ),
    words_case("arch twice", "mlp", "--set", "model.arch=wavenet", match="both set model.arch; give one of them"),
    words_case("gpt context too short", "gpt", "--set", "model.block_size=4", match="set model.block_size to at least"),
    words_case("sgd momentum 1", "mlp", "--set", "train.momentum=1", match="train.momentum must be in [0, 1)"),
    Case("name start unknown", ["sample", "{wordrun}", "--prompt", "kaz"], "the character 'z' (U+007A) is not in"),
    Case("name start with end", ["sample", "{wordrun}", "--prompt", "k.a"], "cannot contain '.'"),
    Case("names at temperature 0", ["sample", "{wordrun}", "--temperature", "0"], "give a temperature above 0"),
    Case("eval a list with the end token", ["eval", "{wordrun}", "--data", "{other}"], "contains '.'"),
    Case("eval unseen characters", ["eval", "{wordrun}", "--data", "{unseen}"], "in the word 'zebra'"),
    Case("eval splits and data", ["eval", "{wordrun}", "--splits", "--data", "{words}"], "give one"),
    Case("splits of a text run", ["eval", "{run}", "--splits"], "`glassgpt eval --splits` does not work on"),
    Case("mark known on text", ["sample", "{run}", "--mark-known"], "this run was trained on text"),
    Case("gradcheck mlp without batchnorm", ["gradcheck", "{plainrun}"], "written for the MLP with BatchNorm"),
    Case("gradcheck batch of one", ["gradcheck", "{wordrun}", "--batch-size", "1"], "at least 2 examples"),
    Case("lr sweep of the counting bigram", ["plot", "{bigramrun}", "lr-finder", "--run"], "has no learning rate"),
    Case("compare with nothing", ["plot", "{wordrun}", "--compare", "{new}"], "does not exist"),
    Case(
        "resume without the words",
        ["train", "--out", "{nowords}", "--resume", "--max-steps", "9"],
        "has no data/words.txt, the word list it was trained on",
    ),
]


# ---- fixtures: built once, copied into every case's own folder -------------------------------------
def _tree_hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(folder.rglob("*"))
    }


def _set_writable(path: Path, writable: bool) -> None:
    for p in [path, *path.rglob("*")]:
        mode = p.stat().st_mode
        bits = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
        os.chmod(p, (mode | stat.S_IWUSR) if writable else (mode & ~bits))


def _launch(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """``python -m glassgpt ARGV`` as its own process, under the memory limit."""
    return subprocess.run(
        [sys.executable, str(LAUNCHER), str(MEMORY_LIMIT), *argv],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


@dataclass
class Outcome:
    argv: list[str]
    status: int | None
    stdout: str
    stderr: str
    seconds: float
    before: dict
    after: dict
    folder: Path


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad-input-templates")
    (root / "text.txt").write_text(TINY_TEXT)
    (root / "other.txt").write_text(TINY_TEXT.replace("fox", "cat"))
    (root / "one.txt").write_text("a")
    (root / "utf16.txt").write_bytes(TINY_TEXT.encode("utf-16"))
    (root / "file").write_text("a regular file\n")
    cfg = tiny_config(max_steps=3, eval_every=0, save_every=100)
    cfg = cfg.updated({"model.n_layer": 1, "model.n_embd": 16})
    train(root / "run", config=cfg, text=TINY_TEXT)
    partial = root / "partial"  # stopped before its first checkpoint: config, data and tokenizer only
    shutil.copytree(root / "run", partial)
    (partial / "model.safetensors").unlink()
    shutil.rmtree(partial / "state")
    shutil.copyfile(root / "run" / "tokenizer.json", root / "tok.json")
    shutil.copytree(root / "run", root / "ro_run")
    _word_fixtures(root)
    (root / "ro_dir").mkdir()
    # can this process's children be kept out of a read-only folder?  (root can, once it drops CAP_DAC_OVERRIDE)
    _set_writable(root / "ro_dir", False)
    probe = subprocess.run(
        [
            sys.executable,
            str(LAUNCHER),
            str(MEMORY_LIMIT),
            "--exec",
            sys.executable,
            "-c",
            "import sys; open(sys.argv[1], 'w')",
            str(root / "ro_dir" / "probe"),
        ],
        capture_output=True,
    )
    _set_writable(root / "ro_dir", True)
    read_only_works = probe.returncode != 0
    yield root, read_only_works
    _set_writable(root, True)


def _word_fixtures(root: Path) -> None:
    """Word lists and three tiny word-list runs: an MLP with BatchNorm, one without, the counting bigram."""
    words = ["kali", "mora", "neso", "tibu", "kamo", "lira", "buti", "sone", "rami", "kobu"] * 3
    (root / "words.txt").write_text("\n".join(words) + "\n")
    (root / "two.txt").write_text("kali\n\nmora\n")
    (root / "blank.txt").write_text("")
    (root / "unseen.txt").write_text("kali\nzebra\n")
    common = {"data.path": str(root / "words.txt"), "train.max_steps": 3, "train.threads": 1}
    train(root / "wordrun", preset="makemore-mlp-bn-fast", overrides=common)
    train(root / "plainrun", preset="makemore-mlp-fast", overrides=common)
    train(root / "bigramrun", preset="makemore-bigram-fast", overrides={**common, "train.max_steps": 1})
    shutil.copytree(root / "wordrun", root / "nowords")
    (root / "nowords" / "data" / "words.txt").unlink()
    (root / "nowords" / "summary.json").unlink()


#: placeholder -> its file or folder among the templates
FIXTURES = {
    "text": "text.txt",
    "other": "other.txt",
    "one": "one.txt",
    "utf16": "utf16.txt",
    "file": "file",
    "tok": "tok.json",
    "run": "run",
    "ro_run": "ro_run",
    "partial": "partial",
    "ro_dir": "ro_dir",
    "words": "words.txt",
    "two": "two.txt",
    "blank": "blank.txt",
    "unseen": "unseen.txt",
    "wordrun": "wordrun",
    "plainrun": "plainrun",
    "bigramrun": "bigramrun",
    "nowords": "nowords",
}
READ_ONLY = ("ro_run", "ro_dir")


def _prepare(case: Case, templates: Path, folder: Path) -> dict[str, str]:
    """Copy the fixtures ``case`` names into its own ``folder``; returns the placeholder values."""
    folder.mkdir()
    words = " ".join(case.argv)
    values = {"new": str(folder / "new")}
    for name, file in FIXTURES.items():
        values[name] = str(folder / file)
        if "{" + name + "}" not in words:
            continue
        (shutil.copytree if (templates / file).is_dir() else shutil.copyfile)(templates / file, folder / file)
        if name in READ_ONLY:
            _set_writable(folder / file, False)
    return values


@pytest.fixture(scope="module")
def outcomes(templates, tmp_path_factory) -> dict[str, Outcome | None]:
    """Run every case once (forkrun.py, under the launcher's limits): name -> Outcome, or None
    for a read-only case on a machine that cannot make a folder read-only."""
    root, read_only_works = templates
    base = tmp_path_factory.mktemp("bad-input-cases")
    runnable = [c for c in CASES if read_only_works or not c.needs_read_only]
    specs, prepared = [], []
    for index, case in enumerate(runnable):
        folder = base / f"case{index:03d}"
        values = _prepare(case, root, folder)
        argv = [a.format(**values) for a in case.argv]
        out, err = base / f"case{index:03d}.out", base / f"case{index:03d}.err"
        specs.append({"argv": argv, "cwd": str(folder), "stdout": str(out), "stderr": str(err), "timeout": TIMEOUT})
        prepared.append((case, argv, folder, _tree_hashes(folder), out, err))
    (base / "cases.json").write_text(json.dumps(specs))
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            str(LAUNCHER),
            str(MEMORY_LIMIT),
            "--exec",
            sys.executable,
            str(FORKRUN),
            str(base / "cases.json"),
            str(base / "results.json"),
            str(PARALLEL),
        ],
        env=ENV,
        check=True,
        timeout=TIMEOUT * len(specs),
    )
    print(f"\n{len(specs)} bad-input processes in {time.perf_counter() - start:.1f} s")
    results = json.loads((base / "results.json").read_text())
    found: dict[str, Outcome | None] = {c.name: None for c in CASES}
    for (case, argv, folder, before, out, err), r in zip(prepared, results):
        found[case.name] = Outcome(
            argv, r["status"], out.read_text(), err.read_text(), r["seconds"], before, _tree_hashes(folder), folder
        )
        _set_writable(folder, True)
    return found


def test_case_names_are_unique():
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(outcomes, case):
    result = outcomes[case.name]
    if result is None:
        pytest.skip("this machine cannot make a folder read-only for its own processes")
    err = result.stderr.strip()
    shown = (
        f"glassgpt {' '.join(result.argv)}\nexit {result.status} after {result.seconds:.1f} s\n"
        f"stderr: {err}\nstdout: {result.stdout[-500:]}"
    )
    assert result.status == 2, shown
    assert "Traceback" not in err and "Exception" not in err, shown
    assert len(err.splitlines()) == 1 and err.startswith("error: "), shown  # one line, one sentence
    assert err.endswith("."), shown
    assert case.match.lower() in err.lower(), shown
    assert result.after == result.before, f"files changed on disk:\n{shown}"  # nothing lost, nothing changed
    assert not (result.folder / "new").exists(), f"left behind {result.folder / 'new'}:\n{shown}"


#: cases that also run as the real ``python -m glassgpt`` script
REAL = ["seed -1", "n_embd 100000", "temperature nan", "report read-only run", "threads 5000"]


@pytest.mark.slow
def test_the_real_command_gives_the_same_answers(outcomes, templates, tmp_path):
    root, _ = templates
    cases = [c for c in CASES if c.name in REAL and outcomes[c.name] is not None]
    assert len(cases) >= 4

    def real(case):
        folder = tmp_path / case.name.replace(" ", "-")
        values = _prepare(case, root, folder)
        before = _tree_hashes(folder)
        proc = _launch([a.format(**values) for a in case.argv], folder)
        after = _tree_hashes(folder)
        _set_writable(folder, True)
        return case, proc, before == after, values

    with ThreadPoolExecutor(2) as pool:
        for case, proc, unchanged, _values in pool.map(real, cases):
            forked = outcomes[case.name]
            assert proc.returncode == forked.status == 2, proc.stderr
            # the same sentence, apart from the case folder's path
            assert proc.stderr.replace(str(tmp_path), "").replace(
                case.name.replace(" ", "-"), ""
            ) == forked.stderr.replace(str(forked.folder.parent), "").replace(forked.folder.name, ""), case.name
            assert unchanged
