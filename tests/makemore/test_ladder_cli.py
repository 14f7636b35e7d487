"""Every rung of the ladder through the CLI on a small word list this test writes: `train --model`
(the run directory contract), `eval --splits`, `sample` (seeded, --mark-known, stops at '.')."""

from __future__ import annotations

import json
import math
import re

import pytest
import torch
from support.wordlists import LN_V, RUNGS, SYLLABLES, VOCAB, make_words, train_rung, write_words

from glassgpt.cli import main
from glassgpt.fileio import load_tensors
from glassgpt.makemore.words import SPLITS, prepare_words, read_words
from glassgpt.models.footprint import parameter_count
from glassgpt.models.from_run import load_run

SYLLABLE_NAME = re.compile(f"^({'|'.join(SYLLABLES)})+$")


@pytest.fixture(scope="module")
def ladder(tmp_path_factory):
    """One tiny run of every rung on the same word list (with two empty lines to skip)."""
    root = tmp_path_factory.mktemp("ladder")
    words = make_words()
    data = write_words(root, words[:200] + ["", "  "] + words[200:])
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GLASSGPT_REPORT", "0")
        for rung in RUNGS:
            assert train_rung(rung, data, root / rung) == 0
    return root, data


@pytest.mark.parametrize("rung", list(RUNGS))
def test_every_rung_keeps_the_run_directory_contract(ladder, rung):
    root, data = ladder
    run = root / rung
    for name in (
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "metrics.jsonl",
        "summary.json",
        "state/trainer.json",
        "data/words.txt",
    ):
        assert (run / name).is_file(), name
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["model"]["arch"] == rung and cfg["data"]["kind"] == "words" and cfg["preset"].startswith("makemore-")
    assert cfg["model"]["vocab_size"] == VOCAB
    # the run keeps its words (empty lines left out), so the file is no longer needed
    assert (run / "data" / "words.txt").read_text().split("\n")[:-1] == read_words(data).words
    weights = load_tensors(run / "model.safetensors")
    loaded = load_run(run)
    assert set(weights) == set(loaded.model.weights())
    assert loaded.model.num_params() == parameter_count(loaded.config.model)


@pytest.mark.parametrize("rung", list(RUNGS))
def test_every_rung_learns_and_is_evaluated_on_all_three_splits(ladder, rung):
    root, data = ladder
    final = json.loads((root / rung / "summary.json").read_text())["final"]
    words = prepare_words(read_words(data))
    assert final["split"] == "dev" and final["loss"] == final["splits"]["dev"]["loss"]
    assert list(final["splits"]) == list(SPLITS)
    for split in SPLITS:
        figures = final["splits"][split]
        # one target per character and one final '.' per word, for every model (the GPT reads whole words)
        assert figures["tokens"] == len(words.examples(split, 1)[1]) == sum(len(w) + 1 for w in words.splits[split])
        assert math.isfinite(figures["loss"]) and figures["loss"] < 0.7 * LN_V, (split, figures["loss"])


@pytest.mark.parametrize("rung", list(RUNGS))
def test_eval_splits_gives_the_final_evaluation_again(ladder, rung, capsys):
    root, _ = ladder
    assert main(["eval", str(root / rung), "--splits", "--quiet"]) == 0
    printed = json.loads(capsys.readouterr().out)
    final = json.loads((root / rung / "summary.json").read_text())["final"]["splits"]
    assert list(printed) == list(SPLITS)
    for split in SPLITS:
        assert printed[split]["loss"] == pytest.approx(final[split]["loss"], abs=1e-5)
        assert printed[split]["tokens"] == final[split]["tokens"]
    assert main(["eval", str(root / rung), "--quiet"]) == 0  # without --splits: the dev split, named like val
    dev = json.loads(capsys.readouterr().out)
    assert dev["split"] == "dev" and dev["val_loss"] == pytest.approx(final["dev"]["loss"], abs=1e-5)


@pytest.mark.parametrize("rung", list(RUNGS))
def test_sample_prints_seeded_names_that_stop_at_the_end_token(ladder, rung, capsys):
    root, _ = ladder
    run = str(root / rung)
    assert main(["sample", run, "--num-samples", "20"]) == 0
    first = capsys.readouterr().out.splitlines()
    assert main(["sample", run, "--num-samples", "20"]) == 0  # no --seed: the run's own, the same names
    assert capsys.readouterr().out.splitlines() == first
    assert main(["sample", run, "--num-samples", "20", "--seed", "7"]) == 0
    assert capsys.readouterr().out.splitlines() != first
    assert len(first) == 20 and all(name and "." not in name and set(name) <= set("".join(SYLLABLES)) for name in first)
    # the rungs learned the list's structure: most names are whole syllables
    assert sum(bool(SYLLABLE_NAME.match(n)) for n in first) >= 12, first


@pytest.mark.parametrize("rung", ["bigram", "mlp", "gpt"])
def test_mark_known_marks_exactly_the_names_of_the_training_split(ladder, rung, capsys):
    root, data = ladder
    train_words = set(prepare_words(read_words(data)).splits["train"])
    assert main(["sample", str(root / rung), "--num-samples", "30", "--mark-known", "--seed", "3"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    marked = [line[:-2] for line in lines if line.endswith(" *")]
    plain = [line for line in lines if not line.endswith(" *")]
    assert all(n in train_words for n in marked) and not any(n in train_words for n in plain)
    assert marked and f"{len(marked)} of 30 names occur in the training split" in captured.err


def test_a_prompt_starts_every_name_and_batch_norm_samples_one_at_a_time(ladder, capsys):
    root, _ = ladder
    assert main(["sample", str(root / "mlp"), "--num-samples", "5", "--prompt", "ka", "--json"]) == 0
    names = json.loads(capsys.readouterr().out)
    assert len(names) == 5 and all(n.startswith("ka") for n in names)
    # the MLP has BatchNorm: one name alone works (eval mode, running statistics)
    assert main(["sample", str(root / "mlp"), "--num-samples", "1"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1


def test_training_says_how_many_empty_lines_it_skipped(tmp_path, capsys):
    words = make_words(60)
    data = write_words(tmp_path, words[:30] + ["", "", ""] + words[30:])
    assert train_rung("bigram", data, tmp_path / "run") == 0
    captured = capsys.readouterr()
    assert "note: skipped 3 empty lines of" in captured.err
    assert "train loss" in captured.out and "dev loss" in captured.out and "test loss" in captured.out
