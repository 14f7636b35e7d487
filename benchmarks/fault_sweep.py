"""Benchmark: a crash-point sweep.  A process is killed at every file operation of a run's
setup, of a training session with its checkpoint save, and of a resume; after each kill
the run is checked the way a user would go on.

Phases (a fresh copy of the run for every kill point):

- ``setup``            a new run into a new folder (beside a file of the user's);
- ``setup-overwrite``  ``--overwrite`` of a finished run that holds a file of the user's;
- ``train``            a resumed run trains one step, logs it, saves its checkpoint, writes
                       its summary and sample;
- ``resume``           a resume's start-up: the lock, recovering ``state/``, cutting the logs
                       back to the checkpoint (from a run killed in the middle of a save).

Each point forks a child that counts the file operations of the phase (``tests/support/faults.py``)
and ends itself with ``os._exit(137)`` at the k-th, as ``kill -9`` would: no cleanup runs,
the kernel drops its lock, what it wrote stays on disk.  Then, in the parent:

- after a setup kill: ``--resume`` refuses with one sentence or continues an intact earlier
  run; the same command builds the run (or says to add ``--overwrite``, which does); the
  run then trains; the user's files are unchanged;
- after a train or resume kill: ``--resume`` to step 4 succeeds and ends byte-identical
  (weights, optimizer, metrics without timings) to a run trained 4 steps without a kill.

A point is *survived* when all of that holds, *lost* otherwise.  Prints ONE JSON line.

    python benchmarks/fault_sweep.py            # every point of every phase
    python benchmarks/fault_sweep.py --phases setup --every 3
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):  # one thread: safe to fork
    os.environ.setdefault(_var, "1")
os.environ.setdefault("GLASSGPT_REPORT", "0")

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the fault injector is test-only code: tests/support/faults.py

from support import faults  # noqa: E402

from glassgpt.config.schema import RunConfig  # noqa: E402
from glassgpt.data import load_corpus  # noqa: E402
from glassgpt.errors import GlassError  # noqa: E402
from glassgpt.rundir import has_checkpoint, read_metrics, without_timing  # noqa: E402
from glassgpt.training.launch import build_trainer, train  # noqa: E402
from glassgpt.training.trainer import Trainer  # noqa: E402

PHASES = ("setup", "setup-overwrite", "train", "resume")
TEXT = load_corpus("poem")


def config(steps: int) -> RunConfig:
    model = {"n_layer": 1, "n_head": 2, "n_embd": 16, "block_size": 16}
    train = {"batch_size": 4, "max_steps": steps, "save_every": 1, "log_every": 1, "eval_every": 0}
    train.update(threads=1, sample_tokens=8, seed=0)
    settings = {f"model.{k}": v for k, v in model.items()} | {f"train.{k}": v for k, v in train.items()}
    return RunConfig().updated({"preset": "fault-sweep", "data.corpus": "", "data.tokenizer": "char", **settings})


def new_run(run: Path, overwrite: bool) -> Trainer:
    return build_trainer(run, config=config(2), overwrite=overwrite, text=TEXT)


def resumed(run: Path, steps: int) -> Trainer:
    return build_trainer(run, overrides={"train.max_steps": steps}, resume=True)


# ---- the phases: what runs under the fault injector ---------------------------------------
def prepare(phase: str, place: Path, templates: dict) -> Path:
    """The starting point of one kill: a fresh folder ``place`` holding the run ``place/run``."""
    place.mkdir(parents=True)
    (place / "keep.txt").write_text("the user's file beside the run")
    run = place / "run"
    if phase == "setup-overwrite":
        shutil.copytree(templates["finished"], run)
        (run / "notes.txt").write_text("the user's file inside the run")
    elif phase in ("train", "resume"):
        shutil.copytree(templates["half-saved" if phase == "resume" else "step2"], run)
    return run


def run_point(phase: str, run: Path, fail_at: int | None) -> int:
    """Fork a child that does the phase, ended at its ``fail_at``-th file operation (None: a dry
    run that writes the list of operations beside the run); returns the child's exit status."""
    pid = os.fork()
    if pid == 0:  # the child
        code = 0
        try:
            trainer = resumed(run, 3) if phase == "train" else None  # opened before the count starts
            with faults.FileFaults(fail_at=fail_at, fail=faults.hard_exit, root=run.parent) as ops:
                if phase.startswith("setup"):
                    new_run(run, overwrite=phase == "setup-overwrite").close()
                elif phase == "train":
                    trainer.run()
                else:
                    resumed(run, 4).close()
            if fail_at is None:
                (run.parent / "ops.json").write_text(json.dumps(ops.ops))
        except BaseException as exc:  # noqa: BLE001 - reported to the parent as a status
            print(f"child failed: {exc.__class__.__name__}: {exc}", file=sys.stderr)
            code = 3
        os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


# ---- after a kill: what a user does next -----------------------------------------------------
def files_of_user(place: Path) -> dict:
    found = {}
    for name in ("keep.txt", "run/notes.txt"):
        if (place / name).is_file():
            found[name] = (place / name).read_text()
    return found


def check_setup(run: Path, overwrite: bool) -> str | None:
    """None when the folder is usable the way the messages say; else what went wrong."""
    try:
        train(run, resume=True)
        if not has_checkpoint(run):
            return "--resume went ahead without a checkpoint"
    except GlassError as exc:
        # each of these says what to do: start again with --overwrite, train without --resume,
        # or (a finished run that was never cleared) give a larger --max-steps
        if not any(hint in str(exc) for hint in ("--overwrite", "without --resume", "larger --max-steps")):
            return f"--resume said: {exc}"
    try:
        trainer = new_run(run, overwrite)
    except GlassError as exc:
        if "--overwrite" not in str(exc):
            return f"the same command said: {exc}"
        trainer = new_run(run, True)
    result = trainer.run()
    return None if result.steps == 2 else f"the rebuilt run trained {result.steps} steps"


def fingerprint(run: Path) -> tuple:
    metrics = without_timing(read_metrics(run))
    return (
        (run / "state" / "model.safetensors").read_bytes(),
        (run / "state" / "optimizer.safetensors").read_bytes(),
        json.dumps(metrics),
    )


def check_resume(run: Path, reference: tuple) -> str | None:
    result = train(run, resume=True, overrides={"train.max_steps": 4})
    if result.steps != 4:
        return f"resumed to {result.steps} steps"
    return None if fingerprint(run) == reference else "the resumed run differs from a run never killed"


def make_templates(work: Path) -> dict:
    """The runs the phases start from, and the reference a resume must match."""
    t = {
        "finished": work / "finished",
        "step2": work / "step2",
        "reference": work / "reference",
        "half-saved": work / "half-saved" / "run",
    }
    train(t["finished"], config=config(2), text=TEXT)
    train(t["step2"], config=config(2), text=TEXT)
    # the reference is never killed but takes the same path: 2 steps, then a resume to 4 (a
    # resume keeps the schedule planned for 2 steps, so a straight 4-step run would differ)
    train(t["reference"], config=config(2), text=TEXT)
    train(t["reference"], resume=True, overrides={"train.max_steps": 4})
    # a training session killed after its new checkpoint was written, just before the swap
    dry = work / "dry" / "run"
    shutil.copytree(t["step2"], dry)
    if run_point("train", dry, None) != 0:
        raise RuntimeError("the train phase fails without any fault")
    ops = json.loads((dry.parent / "ops.json").read_text())
    shutil.copytree(t["step2"], t["half-saved"])
    swap = next(i for i, op in enumerate(ops, 1) if op == "os.replace state.new")
    if run_point("train", t["half-saved"], swap) != 137:
        raise RuntimeError("could not prepare the half-saved run")
    return t


def sweep(phase: str, work: Path, templates: dict, every: int, lost: list) -> dict:
    dry_run = prepare(phase, work / f"{phase}-dry", templates)
    if run_point(phase, dry_run, None) != 0:
        raise RuntimeError(f"the {phase} phase fails without any fault")
    ops = json.loads((dry_run.parent / "ops.json").read_text())
    tried = survived = not_reached = 0
    reference = fingerprint(templates["reference"])
    for k in range(1, len(ops) + 1, every):
        place = work / f"{phase}-{k}"
        run = prepare(phase, place, templates)
        mine = files_of_user(place)
        status = run_point(phase, run, k)
        if status != 137:
            not_reached += 1
            continue
        tried += 1
        try:
            problem = (
                check_setup(run, phase == "setup-overwrite")
                if phase.startswith("setup")
                else check_resume(run, reference)
            )
        except Exception as exc:  # noqa: BLE001 - a traceback a user would see is a loss
            problem = f"{exc.__class__.__name__}: {exc}"
        if problem is None and files_of_user(place) != mine:
            problem = "a file of the user's changed"
        if problem is None:
            survived += 1
        else:
            lost.append({"phase": phase, "kill_point": k, "operation": ops[k - 1], "problem": problem})
        shutil.rmtree(place, ignore_errors=True)
    return {
        "operations": len(ops),
        "tried": tried,
        "survived": survived,
        "lost": tried - survived,
        "not_reached": not_reached,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phases", nargs="+", default=list(PHASES), choices=PHASES)
    parser.add_argument("--every", type=int, default=1, help="try every N-th kill point (1: all)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    lost: list = []
    with tempfile.TemporaryDirectory(prefix="fault-sweep-") as tmp:
        work = Path(tmp)
        templates = make_templates(work / "templates")
        phases = {phase: sweep(phase, work, templates, args.every, lost) for phase in args.phases}
    out = {
        "benchmark": "fault_sweep",
        "kill": "os._exit(137) at the k-th file operation (as kill -9)",
        "tried": sum(p["tried"] for p in phases.values()),
        "survived": sum(p["survived"] for p in phases.values()),
        "lost": sum(p["lost"] for p in phases.values()),
        "phases": phases,
        "losses": lost[:10],
        "seconds": round(time.perf_counter() - start, 1),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
