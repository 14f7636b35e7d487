"""Reading shards: the virtual token array, shard-end windows, epochs, ranks, exact resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
from support.scaledata import make_docs

from glassgpt.data.loader import BatchLoader, all_windows
from glassgpt.data.prepare import prepare
from glassgpt.data.shards import ShardedTokens, ShardLoader, open_prepared, permute
from glassgpt.errors import DataError

SIZES = [7, 1, 13, 5, 9]  # deliberately awkward: a one-token shard, sizes not multiples of seq_len


def arange_shards(tmp_path, sizes=SIZES, dtype=np.uint16):
    """Shards whose concatenation is 0, 1, 2, …: a token's value is its position."""
    paths, start = [], 0
    for i, n in enumerate(sizes):
        p = tmp_path / f"s{i}.bin"
        np.arange(start, start + n, dtype=dtype).tofile(p)
        paths.append(p)
        start += n
    return ShardedTokens(paths, sizes, dtype), np.arange(start)


def test_indexing_equals_the_concatenation(tmp_path):
    tokens, ref = arange_shards(tmp_path)
    assert len(tokens) == len(ref) == 35 and tokens.shape == (35,)
    for a in range(0, 36):
        for b in range(a, 36):
            assert np.array_equal(tokens[a:b], ref[a:b])
    assert np.array_equal(tokens[::3], ref[::3]) and np.array_equal(np.asarray(tokens), ref)
    idx = np.random.default_rng(0).integers(0, 35, size=(4, 9))
    assert np.array_equal(tokens[idx], ref[idx])
    assert tokens[7] == 7 and tokens[-1] == 34 and tokens[8] == 8
    for bad in (35, -36):
        with pytest.raises(IndexError):
            tokens[bad]
    with pytest.raises(IndexError):
        tokens[np.array([0, 35])]


@pytest.mark.parametrize("seq_len", [1, 2, 3, 4, 6, 8, 17, 34])
def test_every_window_is_exact_across_shard_ends(tmp_path, seq_len):
    tokens, ref = arange_shards(tmp_path)
    loader = ShardLoader(tokens, seq_len, seed=5)
    windows = (len(ref) - 1) // seq_len
    assert loader.windows == windows
    x, y = loader.next(windows)  # one whole epoch
    assert np.array_equal(y, x + 1)  # targets are the next tokens, no off-by-one
    assert np.array_equal(np.sort(x[:, 0]), np.arange(windows) * seq_len)  # every window once
    assert np.array_equal(x - x[:, :1], np.broadcast_to(np.arange(seq_len), x.shape))
    assert x.max() < len(ref) - 1 and y.max() <= len(ref) - 1
    crossing = [r for r in x if len(set(np.searchsorted(tokens.starts, r, side="right"))) > 1]
    assert crossing or seq_len == 1  # some windows do span shard ends


def test_the_last_target_of_a_split_is_reachable(tmp_path):
    tokens, ref = arange_shards(tmp_path, [4, 3])  # 7 tokens, seq_len 3: windows [0..3], [3..6]
    x, y = ShardLoader(tokens, 3, seed=0).next(2)
    assert sorted(map(tuple, y.tolist())) == [(1, 2, 3), (4, 5, 6)]
    with pytest.raises(DataError, match="fewer than one sequence of 7"):
        ShardLoader(tokens, 7, seed=0)


def test_epochs_reshuffle_and_the_seed_matters(tmp_path):
    tokens, _ = arange_shards(tmp_path, [500, 301, 200])
    loader = ShardLoader(tokens, 10, seed=1)
    e0, e1 = loader.next(loader.windows)[0][:, 0], loader.next(loader.windows)[0][:, 0]
    assert sorted(e0) == sorted(e1) and not np.array_equal(e0, e1) and loader.epoch == 2.0
    other = ShardLoader(tokens, 10, seed=2).next(loader.windows)[0][:, 0]
    assert not np.array_equal(e0, other)


def test_ranks_are_disjoint_and_equal_gradient_accumulation(tmp_path):
    tokens, _ = arange_shards(tmp_path, [400, 333, 267])
    world, n = 3, 4
    ranks = [ShardLoader(tokens, 8, seed=7, rank=r, world_size=world) for r in range(world)]
    single = ShardLoader(tokens, 8, seed=7)
    for _ in range(5):  # steps
        per_rank = [r.next(n)[0] for r in ranks]
        accumulated = [single.next(n)[0] for _ in range(world)]  # one process, world micro-batches
        for a, b in zip(per_rank, accumulated):
            assert np.array_equal(a, b)
        starts = np.concatenate(per_rank)[:, 0]
        assert len(set(starts.tolist())) == world * n  # no window twice within the step
    assert {r.state()["sample"] for r in ranks} == {single.state()["sample"]}


def test_resume_is_exact_and_survives_a_world_size_change(tmp_path):
    tokens, _ = arange_shards(tmp_path, [300, 200])
    a = ShardLoader(tokens, 6, seed=3)
    for _ in range(7):
        a.next(5)
    state = json.loads(json.dumps(a.state()))  # it is plain JSON
    b = ShardLoader(tokens, 6, seed=3)
    b.set_state(state)
    for _ in range(30):  # crosses an epoch end
        assert np.array_equal(a.next(5)[0], b.next(5)[0])
    # two ranks saved at sample g; one process resumes and sees what the ranks would have seen
    r0, r1 = (ShardLoader(tokens, 6, seed=3, rank=r, world_size=2) for r in (0, 1))
    r0.next(4), r1.next(4)
    solo = ShardLoader(tokens, 6, seed=3)
    solo.set_state(r0.state())
    expected = np.concatenate([r0.next(4)[0], r1.next(4)[0]])
    assert np.array_equal(solo.next(8)[0], expected)


def test_state_of_other_data_is_refused(tmp_path):
    tokens, _ = arange_shards(tmp_path, [300, 200])
    state = ShardLoader(tokens, 6, seed=3).state()
    with pytest.raises(DataError, match="different data, sequence length or seed"):
        ShardLoader(tokens, 5, seed=3).set_state(state)
    with pytest.raises(DataError, match="different data"):
        ShardLoader(tokens, 6, seed=4).set_state(state)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 64, 65, 1000, 4099])
def test_permute_is_a_bijection(n):
    for key in (0, 1, 2**63 + 5):
        p = permute(np.arange(n), n, key)
        assert np.array_equal(np.sort(p), np.arange(n))
    if n >= 64:
        assert not np.array_equal(permute(np.arange(n), n, 0), permute(np.arange(n), n, 1))
        assert not np.array_equal(permute(np.arange(n), n, 0), np.arange(n))


def test_existing_loaders_work_on_sharded_tokens(tmp_path):
    tokens, ref = arange_shards(tmp_path, [50, 31, 19])
    a, b = BatchLoader(tokens, 8, seed=4), BatchLoader(ref, 8, seed=4)
    for _ in range(5):
        xa, ya = a.next(6)
        xb, yb = b.next(6)
        assert np.array_equal(xa, xb) and np.array_equal(ya, yb)
    got = [(x.tolist(), y.tolist()) for x, y in all_windows(tokens, 8, 3)]
    assert got == [(x.tolist(), y.tolist()) for x, y in all_windows(ref, 8, 3)]


@pytest.fixture
def prepared(tmp_path, bpe_file):
    src = tmp_path / "in"
    src.mkdir()
    for i, d in enumerate(make_docs(20)):
        (src / f"{i}.txt").write_text(d)
    prepare(src, f"bpe:{bpe_file}", tmp_path / "out", shard_tokens=300, val_fraction=0.2, workers=1, progress=False)
    return tmp_path / "out"


def test_open_prepared_reads_splits_and_tokenizer(prepared, bpe):
    data = open_prepared(prepared)
    assert data.tokenizer == bpe
    train = data.split("train")
    assert len(train) == data.index["splits"]["train"]["tokens"] and len(train.paths) > 2
    x, y = ShardLoader(train, 16, seed=0).next(4)
    assert x.dtype == np.int64 and np.array_equal(x[:, 1:], y[:, :-1])


def test_open_prepared_refuses_damage(prepared, tmp_path):
    shard = prepared / "train_000001.bin"
    shard.write_bytes(shard.read_bytes()[:-2])
    with pytest.raises(DataError, match="shard .*train_000001.bin is damaged .*expected 600 bytes"):
        open_prepared(prepared)
    shard.unlink()
    with pytest.raises(DataError, match="missing"):
        open_prepared(prepared)
    (prepared / "index.json").write_text("{broken")
    with pytest.raises(DataError, match="corrupted"):
        open_prepared(prepared)
    (prepared / "index.json").unlink()
    with pytest.raises(DataError, match="not a prepared corpus"):
        open_prepared(prepared)
    (prepared / "progress.json").write_text("{}")
    with pytest.raises(DataError, match="unfinished preparation; run the same glassgpt data prepare command again"):
        open_prepared(prepared)
    with pytest.raises(DataError, match="does not exist"):
        open_prepared(tmp_path / "nowhere")
