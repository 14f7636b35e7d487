"""Messages that used to point the wrong way, each as the command prints it: an occupied --out
is answered with what that command can do (only train has --resume; an imported run never
had a checkpoint), import-hf names a glassgpt run for what it is, export writes English.
Every case exits with status 2 and leaves the folders as they were."""

from __future__ import annotations

import shutil

import pytest
from support.chatrun import write_sft
from support.runs import cli, fails, snapshot
from support.scaledata import make_run

from glassgpt.tokenizers import CharTokenizer


@pytest.fixture(scope="module")
def imported(base, tmp_path_factory):
    """``base`` exported to a Hugging Face folder and imported back: (the folder, the imported run)."""
    root = tmp_path_factory.mktemp("wrong-way")
    code = main_ok("export", base, "--hf", root / "hf")
    assert code == 0
    assert main_ok("import-hf", root / "hf", "--out", root / "imported") == 0
    return root / "hf", root / "imported"


def main_ok(*args) -> int:
    from glassgpt.cli import main

    return main([str(a) for a in args])


def test_finetune_into_a_run_suggests_overwrite_not_resume(base, tmp_path, capsys):
    taken = tmp_path / "taken"
    shutil.copytree(base, taken)
    before = snapshot(taken)
    sft = write_sft(tmp_path / "chat.jsonl")
    err = fails(capsys, "finetune", base, "--sft", sft, "--out", taken, match="already holds a run")
    assert err == f"error: {taken} already holds a run; pass --overwrite to replace it, or choose another --out."
    assert snapshot(taken) == before


def test_finetune_or_train_into_an_imported_run_does_not_talk_of_checkpoints(base, imported, tmp_path, capsys):
    _, run = imported
    before = snapshot(run)
    sentence = f"error: {run} already holds a run; pass --overwrite to replace it, or choose another --out."
    sft = write_sft(tmp_path / "chat.jsonl")
    assert fails(capsys, "finetune", base, "--sft", sft, "--out", run, match="already holds") == sentence
    assert fails(capsys, "train", "--out", run, "--max-steps", 1, "--quiet", match="already holds") == sentence
    assert snapshot(run) == before


def test_train_into_a_trained_run_still_offers_resume(base, tmp_path, capsys):
    taken = tmp_path / "taken"
    shutil.copytree(base, taken)
    err = fails(capsys, "train", "--out", taken, "--max-steps", 1, "--quiet", match="already holds")
    assert err == f"error: {taken} already holds a run; pass --resume to continue it or --overwrite to replace it."


def test_import_into_an_import_says_it_holds_a_run(imported, capsys):
    hf, run = imported
    before = snapshot(run)
    err = fails(capsys, "import-hf", hf, "--out", run, match="already holds")
    assert err == f"error: {run} already holds a run; pass --overwrite to replace it, or choose another --out."
    assert snapshot(run) == before
    code, _ = cli(capsys, "import-hf", hf, "--out", run, "--overwrite")  # what the sentence says works
    assert code == 0


def test_importing_a_glassgpt_run_says_what_it_is(base, tmp_path, capsys):
    err = fails(capsys, "import-hf", base, "--out", tmp_path / "again", match="glassgpt run")
    assert err == (
        f"error: {base} is a glassgpt run, not a Hugging Face model folder; use it as it is "
        f"(glassgpt sample {base}), or write a Hugging Face folder from it with glassgpt export {base} --hf OUT."
    )
    assert not (tmp_path / "again").exists()


def test_a_hugging_face_folder_without_a_model_type_is_named(imported, tmp_path, capsys):
    hf, _ = imported
    odd = tmp_path / "odd"
    shutil.copytree(hf, odd)
    (odd / "config.json").write_text('{"n_layer": 2}')
    err = fails(capsys, "import-hf", odd, "--out", tmp_path / "run", match="model_type")
    assert err == f"error: {odd / 'config.json'} names no model_type; glassgpt imports GPT-2 models only."
    (odd / "config.json").write_text((hf / "config.json").read_text())
    (odd / "tokenizer.json").write_text('{"model": {}}')
    err = fails(capsys, "import-hf", odd, "--out", tmp_path / "run", match="tokenizer")
    assert (
        err
        == f"error: {odd / 'tokenizer.json'} names no tokenizer model type; it is not a Hugging Face tokenizer file."
    )


def test_export_of_a_biased_untied_head_is_a_sentence(tmp_path, capsys):
    run = make_run(tmp_path / "biased", CharTokenizer.train("the quick brown fox\n"), tie_weights=False, head_bias=True)
    err = fails(capsys, "export", run, "--hf", tmp_path / "hf", match="cannot be exported")
    assert err == (
        f"error: {run} cannot be exported: Hugging Face's GPT2LMHeadModel cannot hold a bias on an untied LM head "
        "(model.head_bias; GPT-2's head has none)."
    )
    assert not (tmp_path / "hf").exists()
