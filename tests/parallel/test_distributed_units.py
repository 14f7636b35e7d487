"""The pieces of distributed training, one at a time: stop agreement, evaluation shares,
tokens per step, per-rank checkpoint state, and DDP reducing gradients once per step."""

from __future__ import annotations

import os
import time

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from support.distrun import free_port
from support.tinyrun import tiny_config

from glassgpt.config.derive import grad_accum
from glassgpt.config.validate import parallel_mode
from glassgpt.errors import ConfigError
from glassgpt.parallel.ranks import RankShare, merge_rng, rank_loader, rank_rng
from glassgpt.parallel.world import SINGLE, World
from glassgpt.training.engines import TorchEngine, split_micro_batches
from glassgpt.training.state_check import expected_state, problems
from glassgpt.training.stopping import stop_agreement


class TwoRanks(World):
    """Rank ``rank`` of a world of two whose other rank contributes ``other`` to every all-reduce."""

    def __init__(self, rank: int, other: list[float]):
        super().__init__(rank, 2, rank, 2)
        object.__setattr__(self, "other", other)

    def all_reduce(self, values, op="sum"):
        pairs = list(zip(values, self.other))
        return [max(a, b) if op == "max" else a + b for a, b in pairs]


def test_a_signal_on_either_rank_stops_both_and_the_time_budget_is_rank_0s():
    # the other rank's reason code: 0 none, 1 time budget, 2 interrupted, 3 terminated
    assert stop_agreement(TwoRanks(0, [0]))(None) is None
    assert stop_agreement(TwoRanks(0, [3]))(None) == "terminated"
    assert stop_agreement(TwoRanks(1, [2]))(None) == "interrupted"
    assert stop_agreement(TwoRanks(1, [2]))("terminated") == "terminated"
    assert stop_agreement(TwoRanks(0, [0]))("time_budget") == "time_budget"  # rank 0's clock decides
    assert stop_agreement(TwoRanks(1, [0]))("time_budget") is None  # rank 1's does not count
    assert stop_agreement(TwoRanks(1, [1]))(None) == "time_budget"  # it hears rank 0's


def test_evaluation_batches_are_shared_out_and_added_up():
    calls = []

    def sums(x, y):
        calls.append(x)
        return float(x), 10

    share = RankShare(sums, TwoRanks(1, [100.0, 30]))
    results = [share(i, None) for i in range(5)]
    assert calls == [1, 3] and results == [(0.0, 0), (1.0, 10), (0.0, 0), (3.0, 10), (0.0, 0)]
    assert share.reduce(4.0, 20) == (104.0, 50)
    lockstep = RankShare(sums, TwoRanks(1, [100.0, 30]), lockstep=True)  # FSDP: every rank runs every batch
    assert [lockstep(i, None)[1] for i in range(3)] == [10, 10, 10] and lockstep.reduce(4.0, 20) == (4.0, 20)
    alone = RankShare(sums, SINGLE)
    assert [alone(i, None)[1] for i in range(3)] == [10, 10, 10] and alone.reduce(4.0, 20) == (4.0, 20)


@pytest.mark.parametrize(
    "batch, seq, world, accum", [(16, 1024, 1, 32), (16, 1024, 8, 4), (32, 1024, 16, 1), (4, 16, 2, 2)]
)
def test_tokens_per_step_sets_the_accumulation(batch, seq, world, accum):
    cfg = tiny_config({"model.block_size": seq}, batch_size=batch, tokens_per_step=524288 if seq == 1024 else 256)
    assert grad_accum(cfg, world) == accum
    assert cfg.train.batch_size * accum * seq * world == cfg.train.tokens_per_step


def test_tokens_per_step_refuses_a_world_that_does_not_divide_it():
    long = {"model.block_size": 1024}
    cfg = tiny_config(long, batch_size=16, tokens_per_step=524288)
    with pytest.raises(
        ConfigError,
        match=r"not a multiple of batch_size × seq_len × processes "
        r"\(16 × 1024 × 3 = 49,152\)",
    ):
        grad_accum(cfg, 3)
    with pytest.raises(ConfigError, match="not a multiple"):  # more tokens per micro-step than per step
        grad_accum(tiny_config(long, batch_size=1024, tokens_per_step=524288), 1)
    assert grad_accum(tiny_config(grad_accum=3), 4) == 3


def test_the_parallel_mode_must_match_how_many_processes_run():
    assert parallel_mode(tiny_config(), 1) == "none"
    assert parallel_mode(tiny_config(), 2) == "ddp"
    assert parallel_mode(tiny_config(parallel="fsdp"), 4) == "fsdp"
    with pytest.raises(ConfigError, match="needs several processes: start them with torchrun"):
        parallel_mode(tiny_config(parallel="ddp"), 1)
    with pytest.raises(ConfigError, match="would all train the same run"):
        parallel_mode(tiny_config(parallel="none"), 2)
    with pytest.raises(ConfigError, match="glass engine runs in one process"):
        parallel_mode(tiny_config(engine="glass"), 2)


def test_every_ranks_random_stream_is_saved_and_given_back_to_it():
    streams = [{"torch_cpu": torch.full((4,), r, dtype=torch.uint8)} for r in range(3)]
    merged = merge_rng(streams)
    assert set(merged) == {"torch_cpu", "rank1.torch_cpu", "rank2.torch_cpu"}
    for r in range(3):
        assert torch.equal(rank_rng(merged, r)["torch_cpu"], streams[r]["torch_cpu"])
    assert rank_rng(merged, 5) == {}  # resumed with more ranks: a fresh stream (seed + rank)
    state = {"loader_rng": {"sample": 8}, "loader_ranks": [{"sample": 8}, {"sample": 9}]}
    assert rank_loader(state, 1) == {"sample": 9} and rank_loader(state, 3) == {"sample": 8}
    assert rank_loader({"loader_rng": {"sample": 8}}, 1) == {"sample": 8}  # a checkpoint of one process


def test_the_checkpoint_check_accepts_other_ranks_streams_and_shard_positions():
    cfg = tiny_config()
    cfg = cfg.updated({"model.vocab_size": 30})
    engine = TorchEngine(cfg)
    state = engine.state_dict()
    weights, rng = state["model"], merge_rng([state["rng"], state["rng"]])
    optimizer = {
        f"{n}.{k}": (torch.zeros(1) if k == "step" else torch.zeros_like(t))
        for n, t in weights.items()
        for k in ("exp_avg", "exp_avg_sq", "step")
    }
    trainer = {"step": 0, "tokens": 0, "elapsed_s": 0.0, "loader_rng": {"sample": 12, "windows": 9}}
    assert problems(expected_state(engine), weights, optimizer, rng, trainer) == []
    rng["rank1.mystery"] = torch.zeros(3, dtype=torch.uint8)
    trainer["loader_rng"] = {"sample": -1}
    found = problems(expected_state(engine), weights, optimizer, rng, trainer)
    assert any("rank1.mystery" in p for p in found) and any("loader_rng" in p for p in found)


# ---- DDP in two real processes: the all-reduce happens once per step -------------------------------
def _count_reductions(rank: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        cfg = tiny_config(batch_size=2)
        cfg = cfg.updated({"model.vocab_size": 30})
        engine = TorchEngine(cfg)
        engine.distribute(World(rank, 2, rank, 2), "ddp")
        reductions = []

        def hook(state, bucket):
            reductions.append(1)
            fut = torch.futures.Future()
            buf = bucket.buffer()
            dist.all_reduce(buf)
            fut.set_result(buf / 2)
            return fut

        engine.parallel.module.register_comm_hook(None, hook)
        gen = torch.Generator().manual_seed(rank)
        x = torch.randint(0, 30, (8, 16), generator=gen).numpy()
        y = torch.randint(0, 30, (8, 16), generator=gen).numpy()
        counts, losses = [], []
        for micro in (8, 2):  # one micro-batch, then four
            before = len(reductions)
            result = engine.train_step(split_micro_batches(x, y, micro), 1e-3)
            counts.append(len(reductions) - before)
            losses.append(result.loss)
        weights = engine.state_dict()["model"]["transformer.h.0.attn.c_attn.weight"]
        torch.save({"counts": counts, "losses": losses, "weights": weights}, f"{out}.{rank}")
        dist.barrier()  # neither leaves while the other still needs it
    finally:
        dist.destroy_process_group()


def spawn(fn, args: tuple, nprocs: int = 2, timeout: float = 120) -> None:
    """``fn(rank, *args)`` in ``nprocs`` spawned processes; all of them are killed if they take too long."""
    context = mp.spawn(fn, args=args, nprocs=nprocs, join=False)
    deadline = time.monotonic() + timeout
    try:
        while not context.join(timeout=1):
            if time.monotonic() > deadline:
                raise AssertionError(f"the {nprocs} processes did not finish within {timeout} s")
    finally:
        for process in context.processes:
            if process.is_alive():
                process.kill()
            process.join()


@pytest.mark.slow
def test_ddp_reduces_gradients_once_per_step_whatever_the_accumulation(tmp_path):
    out = str(tmp_path / "result")
    spawn(_count_reductions, (free_port(), out))
    results = [torch.load(f"{out}.{r}", weights_only=True) for r in range(2)]
    assert results[0]["counts"][0] >= 1
    # four micro-batches all-reduce exactly as often as one (no_sync covers the first three)
    assert results[0]["counts"] == [results[0]["counts"][0]] * 2 == results[1]["counts"]
    # the logged loss is the mean over the ranks (each rank had its own batch), and both replicas agree
    assert results[0]["losses"] == results[1]["losses"]
    assert torch.equal(results[0]["weights"], results[1]["weights"])
