"""Every bad input gets one clear sentence, exit status 2, and nothing on disk lost."""

import hashlib

import pytest
from support.tinyrun import TINY_TEXT

from glassgpt.cli import main

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
    "--quiet",
]


def run_cli(capsys, *args):
    code = main(list(args))
    err = capsys.readouterr().err.strip()
    return code, err


def fails(capsys, *args, match):
    code, err = run_cli(capsys, *args)
    assert code == 2, err
    assert err.startswith("error: ") and len(err.splitlines()) == 1 and "Traceback" not in err
    assert match.lower() in err.lower(), err
    return err


def snapshot(folder):
    return {p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def text_file(tmp_path):
    f = tmp_path / "text.txt"
    f.write_text(TINY_TEXT)
    return f


@pytest.fixture
def finished_run(tmp_path, text_file, capsys):
    run = tmp_path / "run"
    code, err = run_cli(capsys, "train", "--data", str(text_file), "--out", str(run), "--max-steps", "3", *TINY)
    assert code == 0, err
    return run


def test_bad_data_files(tmp_path, capsys):
    out = str(tmp_path / "out")
    fails(capsys, "train", "--data", str(tmp_path / "nope.txt"), "--out", out, match="does not exist")
    (tmp_path / "empty.txt").write_text("")
    fails(capsys, "train", "--data", str(tmp_path / "empty.txt"), "--out", out, match="empty")
    (tmp_path / "bin.txt").write_bytes(b"\x00\x01\x02binary\x00")
    fails(capsys, "train", "--data", str(tmp_path / "bin.txt"), "--out", out, match="binary")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 ole\n".encode("latin-1") * 50)
    fails(capsys, "train", "--data", str(tmp_path / "latin1.txt"), "--out", out, match="UTF-8")
    (tmp_path / "short.txt").write_text("too short")
    fails(capsys, "train", "--data", str(tmp_path / "short.txt"), "--out", out, *TINY, match="too few")
    assert not (tmp_path / "out").exists()  # nothing was created for a refused run


def test_unknown_names_and_impossible_values(tmp_path, capsys, text_file):
    out = ["--data", str(text_file), "--out", str(tmp_path / "o")]
    fails(capsys, "train", "--corpus", "klingon", "--out", str(tmp_path / "o"), match="unknown corpus")
    fails(capsys, "train", "--preset", "huge", *out, match="unknown preset")
    fails(capsys, "train", "--set", "model.n_layers=3", *out, match="did you mean 'model.n_layer'")
    fails(capsys, "train", "--set", "n_embd=0", *out, match="must be positive")
    fails(capsys, "train", "--set", "model.n_head=3", *out, match="must divide")
    fails(capsys, "train", "--set", "train.lr=0", *out, match="lr must be a positive")
    fails(capsys, "train", "--set", "train.lr=-1e-3", *out, match="lr must be a positive")
    fails(capsys, "train", "--set", "train.batch_size=-4", *out, match="must be positive")
    fails(capsys, "train", "--set", "train.lr=fast", *out, match="must be a number")
    fails(capsys, "train", "--max-steps", "0", *out, match="must be positive")
    fails(capsys, "train", "--tokenizer", "morse", *out, match="unknown tokenizer")
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[model\nn_layer = 2")
    fails(capsys, "train", "--config", str(cfg), *out, match="not valid TOML")
    cfg.write_text("[model]\nwidth = 2\n")
    fails(capsys, "train", "--config", str(cfg), *out, match="unknown config key")
    assert not (tmp_path / "o").exists()


def test_output_directory_rules(tmp_path, capsys, text_file, finished_run):
    before = snapshot(finished_run)
    fails(capsys, "train", "--data", str(text_file), "--out", str(finished_run), *TINY, match="already holds a run")
    assert snapshot(finished_run) == before  # nothing lost or overwritten
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("precious")
    fails(capsys, "train", "--data", str(text_file), "--out", str(other), *TINY, match="not a glassgpt run")
    assert (other / "notes.txt").read_text() == "precious"
    blocker = tmp_path / "file"
    blocker.write_text("x")
    fails(capsys, "train", "--data", str(text_file), "--out", str(blocker), *TINY, match="is a file")
    fails(capsys, "train", "--data", str(text_file), "--out", str(blocker / "sub"), *TINY, match="cannot create")
    # a bad run that would overwrite is refused before anything is removed
    fails(
        capsys,
        "train",
        "--data",
        str(tmp_path / "missing.txt"),
        "--out",
        str(finished_run),
        "--overwrite",
        match="does not exist",
    )
    assert snapshot(finished_run) == before


def test_resume_rules(tmp_path, capsys, finished_run):
    fails(
        capsys,
        "train",
        "--out",
        str(finished_run),
        "--resume",
        "--set",
        "model.n_layer=2",
        match="cannot change model.n_layer",
    )
    fails(capsys, "train", "--out", str(tmp_path / "never"), "--resume", match="nothing to resume")
    fails(capsys, "train", "--resume", match="needs --out")


def test_sample_and_eval_on_bad_run_dirs(tmp_path, capsys, finished_run):
    fails(capsys, "sample", str(tmp_path / "missing"), match="does not exist")
    fails(capsys, "eval", str(tmp_path / "missing"), match="does not exist")
    empty = tmp_path / "empty"
    empty.mkdir()
    fails(capsys, "eval", str(empty), match="not a glassgpt run")
    fails(capsys, "sample", str(finished_run), "--prompt", "ZEBRA\u263a", match="not in this model's vocabulary")
    (finished_run / "tokenizer.json").write_text("{broken")
    fails(capsys, "sample", str(finished_run), match="corrupted")


def test_corrupted_or_missing_weights(tmp_path, capsys, finished_run):
    weights = finished_run / "model.safetensors"
    weights.unlink()
    (finished_run / "state" / "model.safetensors").write_bytes(b"garbage" * 10)
    fails(capsys, "eval", str(finished_run), match="corrupted")


def test_partial_run_without_weights(tmp_path, capsys, finished_run):
    import shutil

    (finished_run / "model.safetensors").unlink()
    shutil.rmtree(finished_run / "state")
    fails(capsys, "sample", str(finished_run), match="no saved weights")


def test_eval_data_with_unknown_characters(tmp_path, capsys, finished_run):
    f = tmp_path / "other.txt"
    f.write_text("\u4e2d\u6587 text")
    fails(capsys, "eval", str(finished_run), "--data", str(f), match="not in this model's vocabulary")
