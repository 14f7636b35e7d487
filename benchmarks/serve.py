"""What does the playground server cost?  First-token latency and tokens/s for 1 and 8 clients,
through ``glassgpt serve`` (HTTP + server-sent events) and through the library alone.

Model: a run directory (``--run``), or by default the ``baby`` preset's shape (4 layers, 4
heads, width 128, context 64, char-level) trained for a few steps on the built-in poem
(the speed does not depend on the weights).  Every client streams ``--tokens`` new tokens
(default 200) at temperature 1 with its own seed, from the same short prompt.

- ``library``: ``clients`` threads call ``glassgpt.generation.streaming.stream_tokens`` directly, sharing one
  model lock exactly as the server does (one model step at a time, streams interleaved);
- ``server``: ``glassgpt serve`` runs as its own process on 127.0.0.1; ``clients`` threads
  POST /api/generate with httpx and read the event stream.

Both sides run torch with ``--threads`` threads (default 1).  Per scenario: the median time
to the first token, and the aggregate tokens/s (all tokens / wall time from the first
request to the last token).  Ratios: ``server/library`` for the first-token latency (> 1:
the server adds latency) and ``server/library`` for tokens/s (< 1: the server is slower).
Both sides must produce the same tokens for the same seeds (``same_tokens``).

Printed as ONE JSON line.

    python benchmarks/serve.py [--run DIR] [--tokens 200] [--clients 1,8] [--threads 1] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import torch

from glassgpt.generation.streaming import stream_tokens
from glassgpt.models.from_run import load_run
from glassgpt.serve.session import completion_ids
from glassgpt.training.launch import train

PROMPT = "All that "


def baby_run(root: Path) -> Path:
    out = root / "baby"
    train(
        out,
        preset="baby",
        overrides={
            "data.corpus": "poem",
            "train.max_steps": 5,
            "train.eval_every": 0,
            "train.time_budget": 0,
            "train.sample_tokens": 0,
            "data.val_fraction": 0,
        },
        progress=False,
    )
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def library(run, prompt: list[int], clients: int, tokens: int) -> dict:
    lock = threading.Lock()
    results: dict[int, tuple[float, float, list[int]]] = {}
    start = time.perf_counter()

    def client(i: int) -> None:
        t0 = time.perf_counter()
        first, ids = None, []
        for t in stream_tokens(
            run.model, prompt, tokens, temperature=1.0, seed=i, max_context=run.trained_context, lock=lock
        ):
            first = first or time.perf_counter() - t0
            ids.append(t.id)
        results[i] = (first, time.perf_counter(), ids)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return summary(results, start)


def server(url: str, prompt_text: str, clients: int, tokens: int) -> dict:
    results: dict[int, tuple[float, float, list[int]]] = {}

    def client(i: int, c: httpx.Client) -> None:
        body = {"prompt": prompt_text, "temperature": 1.0, "max_tokens": tokens, "seed": i}
        t0 = time.perf_counter()
        first, ids, buffer = None, [], ""
        with c.stream("POST", url + "/api/generate", json=body) as r:
            for chunk in r.iter_text():
                buffer += chunk
                while "\n\n" in buffer:
                    block, buffer = buffer.split("\n\n", 1)
                    event, data = block.split("\n", 1)
                    if event == "event: token":
                        first = first or time.perf_counter() - t0
                        ids.append(json.loads(data[6:])["id"])
        results[i] = (first, time.perf_counter(), ids)

    sessions = [httpx.Client(timeout=600) for _ in range(clients)]  # made before the clock starts (SSL setup)
    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i, sessions[i])) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in sessions:
        c.close()
    return summary(results, start)


def summary(results: dict, start: float) -> dict:
    total = sum(len(ids) for _, _, ids in results.values())
    end = max(e for _, e, _ in results.values())
    return {
        "first_token_ms": 1000 * statistics.median(f for f, _, _ in results.values()),
        "tokens_per_sec": total / (end - start),
        "ids": {i: ids for i, (_, _, ids) in sorted(results.items())},
    }


def start_server(run_dir: Path, port: int, threads: int, tokens: int) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "glassgpt", "serve", str(run_dir), "--port", str(port), "--max-new-tokens", str(tokens)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).json()["status"] == "ok":
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("glassgpt serve did not start")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", help="a run directory (default: a baby-shaped model trained here for 5 steps)")
    ap.add_argument("--tokens", type=int, default=200)
    ap.add_argument("--clients", default="1,8")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=2, help="best of this many rounds per scenario")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(args.run) if args.run else baby_run(Path(tmp))
        run = load_run(run_dir)
        prompt = completion_ids(run.tokenizer, PROMPT)
        port = free_port()
        proc = start_server(run_dir, port, args.threads, args.tokens)
        url = f"http://127.0.0.1:{port}"
        out = {
            "benchmark": "serve",
            "run": str(run_dir) if args.run else "baby preset shape, 5 steps on poem",
            "params": run.model.num_params(),
            "context": run.trained_context,
            "tokens": args.tokens,
            "threads": args.threads,
            "note": "measured on a shared machine",
        }
        try:
            server(url, PROMPT, 1, 5)  # warm up: first requests pay for imports and allocations
            library(run, prompt, 1, 5)
            for clients in (int(c) for c in args.clients.split(",")):
                lib_runs, srv_runs = [], []
                for r in range(args.rounds):  # alternate the order between rounds
                    pair = [
                        lambda lib_runs=lib_runs, clients=clients: lib_runs.append(
                            library(run, prompt, clients, args.tokens)
                        ),
                        lambda srv_runs=srv_runs, clients=clients: srv_runs.append(
                            server(url, PROMPT, clients, args.tokens)
                        ),
                    ]
                    for f in pair if r % 2 == 0 else pair[::-1]:
                        f()
                lib = min(lib_runs, key=lambda x: x["first_token_ms"]) | {
                    "tokens_per_sec": max(x["tokens_per_sec"] for x in lib_runs)
                }
                srv = min(srv_runs, key=lambda x: x["first_token_ms"]) | {
                    "tokens_per_sec": max(x["tokens_per_sec"] for x in srv_runs)
                }
                out[f"clients_{clients}"] = {
                    "library": {k: round(v, 2) for k, v in lib.items() if k != "ids"},
                    "server": {k: round(v, 2) for k, v in srv.items() if k != "ids"},
                    "first_token_ratio": round(srv["first_token_ms"] / lib["first_token_ms"], 2),
                    "tokens_per_sec_ratio": round(srv["tokens_per_sec"] / lib["tokens_per_sec"], 3),
                    "same_tokens": lib["ids"] == srv["ids"],
                }
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
