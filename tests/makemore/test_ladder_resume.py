"""Resume is exact for the ladder's models: N steps in one go and N/2 + resume + N/2 give
byte-identical weights (BatchNorm's running statistics included), optimizer state and losses."""

from __future__ import annotations

import json

import pytest
from support.wordlists import RUNGS, make_words, train_rung, write_words

from glassgpt.cli import main
from glassgpt.fileio import load_tensors

STEPS = 24
#: (rung, extra settings): a checkpoint every 4 steps, the schedule planned over all 24 steps
CASES = {
    "mlp-batchnorm": ("mlp", []),
    "mlp-momentum": ("mlp", ["--set", "train.momentum=0.9"]),
    "mlp-adamw": ("mlp", ["--set", "train.optimizer=adamw", "--set", "train.lr=0.01"]),
    "mlp-glass": ("mlp", ["--engine", "glass", "--set", "train.momentum=0.9"]),
    "wavenet": ("wavenet", []),
    "neural-bigram-random-batches": ("neural-bigram", ["--set", "train.batch_size=64"]),
    "gpt-on-words": ("gpt", []),
    "gpt-on-packed-words": ("gpt", ["--set", "train.doc_mask=true"]),
    # an ensemble on packed words, with dropout (word-cut masks) and bf16 autocast where the CPU has it
    "gpt-ensemble": (
        "gpt",
        [
            "--set",
            "train.doc_mask=true",
            "--set",
            "model.ensemble=2",
            "--set",
            "model.dropout=0.1",
            "--dtype",
            "bfloat16",
        ],
    ),
}


def _losses(run) -> list:
    return [r.get("train_loss") for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())]


@pytest.mark.parametrize("case", list(CASES))
def test_half_plus_resume_equals_the_whole_run(tmp_path, case, capsys):
    rung, extra = CASES[case]
    data = write_words(tmp_path, make_words(150))
    common = [
        "--save-every",
        "4",
        "--set",
        "train.log_every=2",
        "--set",
        f"train.decay_steps={STEPS}",
        "--set",
        "train.warmup_steps=2",
        *extra,
    ]
    assert train_rung(rung, data, tmp_path / "whole", "--max-steps", str(STEPS), *common) == 0
    assert train_rung(rung, data, tmp_path / "half", "--max-steps", str(STEPS // 2), *common) == 0
    (tmp_path / "words.txt").unlink()  # a resumed word-list run reads its own copy of the words
    assert (
        main(
            [
                "train",
                "--out",
                str(tmp_path / "half"),
                "--resume",
                "--max-steps",
                str(STEPS),
                "--quiet",
                "--threads",
                "1",
            ]
        )
        == 0
    )
    capsys.readouterr()
    whole, half = tmp_path / "whole", tmp_path / "half"
    for name in ("model.safetensors", "optimizer.safetensors", "rng.safetensors"):
        a, b = load_tensors(whole / "state" / name), load_tensors(half / "state" / name)
        assert set(a) == set(b), name
        for key in a:
            assert a[key].dtype == b[key].dtype and a[key].numpy().tobytes() == b[key].numpy().tobytes(), (name, key)
    assert (whole / "model.safetensors").read_bytes() == (half / "model.safetensors").read_bytes()
    assert _losses(whole) == _losses(half)
    final_a = json.loads((whole / "summary.json").read_text())["final"]["splits"]
    final_b = json.loads((half / "summary.json").read_text())["final"]["splits"]
    assert final_a == final_b
    if rung in ("mlp", "wavenet"):  # the running statistics moved, and were carried across the resume
        weights = load_tensors(half / "model.safetensors")
        stats = [k for k in weights if k.endswith("running_var")]
        assert stats and all(float((weights[k] - 1).abs().max()) > 1e-3 for k in stats)


def test_every_rung_with_steps_is_covered():
    assert {rung for rung, _ in CASES.values()} == set(RUNGS) - {"bigram"}  # the bigram trains in one step
