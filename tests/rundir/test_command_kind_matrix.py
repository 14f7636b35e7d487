"""Every command × every kind of run: it works, or it refuses in one sentence with exit status 2,
and the run it read is unchanged.

The runs are one of each kind glassgpt makes (``support.runkinds``: 17 runs of the 10 kinds).
Which cells refuse comes from the command × kind table itself (``rundir.kinds.SERVES``), plus
the few limits inside a kind that a command refuses in its own words (``LIMITS``).  A cell
that works is checked for what the command is for: a sample is text (names, for a word
list), an evaluation a finite loss, an export a GPT-2 folder, a fine-tune a new chat run ...
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import shutil
import sys
from pathlib import Path

import pytest
from support.runkinds import RUNS, build

from glassgpt.cli import main
from glassgpt.models.from_run import load_run
from glassgpt.rundir.kinds import SERVES, refusal, run_config
from glassgpt.serve.app import create_app

#: two RL steps; the row "rl" puts the cell's run in the policy's place (against the reward model
#: fixture), the row "rl --reward" in the reward model's (for the chat fixture)
RL = [
    "--prompts",
    "{root}/prompts.jsonl",
    "--out",
    "{tmp}/rl",
    "--max-steps",
    "2",
    "-G",
    "2",
    "--prompts-per-step",
    "2",
]
RL += ["--max-new-tokens", "3", "--eval-every", "0", "--quiet"]

#: what each command is asked to do; {run}, {tmp}, {text}, {root} are filled in per cell
COMMANDS = {
    "sample": ["sample", "{run}", "--max-new-tokens", "6", "--num-samples", "2", "--seed", "1", "--json", "--quiet"],
    "eval": ["eval", "{run}", "--quiet"],
    "eval --splits": ["eval", "{run}", "--splits", "--quiet"],
    "eval --multiple-choice": ["eval", "{run}", "--multiple-choice", "{root}/mc.jsonl", "--json", "--quiet"],
    "explain": ["explain", "{run}", "{text}", "--json"],
    "export --hf": ["export", "{run}", "--hf", "{tmp}/hf"],
    "finetune": [
        "finetune",
        "{run}",
        "--sft",
        "{root}/chat.jsonl",
        "--out",
        "{tmp}/ft",
        "--max-steps",
        "2",
        "--batch-size",
        "2",
        "--quiet",
        "--json",
    ],
    "chat": ["chat", "{run}", "--max-tokens", "4", "--seed", "1"],
    "gradcheck": ["gradcheck", "{run}"],
    "plot": ["plot", "{run}", "--quiet"],
    "report": ["report", "{run}", "--no-plots", "--quiet"],
    "train --resume": ["train", "--out", "{run}", "--resume", "--max-steps", "{more}", "--quiet"],
    "reward": [
        "reward",
        "{run}",
        "--pairs",
        "{root}/pairs.jsonl",
        "--out",
        "{tmp}/rm",
        "--max-steps",
        "2",
        "--batch-size",
        "2",
        "--eval-every",
        "0",
        "--quiet",
    ],
    "reward-score": ["reward-score", "{run}", "--prompt", "all", "--text", "gold", "--json"],
    "rl": ["rl", "{run}", "--reward", "{root}/reward", *RL],
    "rl --reward": ["rl", "{root}/chat", "--reward", "{run}", *RL],
    "dpo": [
        "dpo",
        "{run}",
        "--pairs",
        "{root}/pairs.jsonl",
        "--out",
        "{tmp}/dpo",
        "--max-steps",
        "2",
        "--batch-size",
        "2",
        "--eval-every",
        "0",
        "--quiet",
    ],
    "merge": ["merge", "{run}", "--out", "{tmp}/merged"],
}

#: refusals inside a served kind: (run, command) -> words of the one sentence
LIMITS = {
    ("gpt-word", "export --hf"): "a word tokenizer has no Hugging Face equivalent",
    ("gpt-word", "finetune"): "word tokenizer, whose closed vocabulary cannot encode free conversation text",
    ("gpt-speedrun", "export --hf"): "cannot hold rotary position embeddings",
    ("gpt-speedrun", "gradcheck"): "which the glass engine has no hand-written gradients for",
    ("imported", "eval"): "was imported and has no token data of its own",
    ("chat", "merge"): "has no LoRA adapters to merge",
    ("chat-rl", "merge"): "has no LoRA adapters to merge",
    ("chat-dpo-lora", "gradcheck"): "uses model.lora_rank (LoRA adapters), which the glass engine has no hand-written",
}

#: text each run can spell: the poem's words for the text runs, syllables for the word lists
TEXT = {"gpt-word": "All that glitters", "chat": "all gold"}
#: the runs whose tokenizer has the chat tokens
CHAT_RUNS = ("chat", "reward", "chat-rl", "chat-dpo-lora")
WORD_RUNS = ("bigram", "neural-bigram", "mlp", "wavenet", "gpt-words", "ensemble")
#: commands that write into the run they read, and what
WRITES = {"plot": ("plots",), "report": ("report.html", "plots"), "train --resume": None}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("kinds")
    built = build(root)
    record = {"context": "All that", "endings": [" glitters", " gold"], "label": 0}
    (root / "mc.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    return root, built


def snapshot(folder: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """Every file of a run by its content hash (the files a command may write left out)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.relative_to(folder).parts[0] not in skip and not p.name.startswith(".glassgpt")
    }


def expected(run: Path, name: str, command: str) -> str:
    """ "" when the cell works, else words of its refusal."""
    config = json.loads((run / "config.json").read_text())
    words = config["data"]["kind"] == "words"
    sentence = refusal(command, config["kind"], "RUN", words)
    return "does not work on" if sentence else LIMITS.get((name, command), "")


def run_cli(argv: list[str], stdin: str, monkeypatch) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def test_every_kind_names_itself_in_its_config(runs):
    _, built = runs
    assert set(built) == set(RUNS)
    for name, path in built.items():
        assert json.loads((path / "config.json").read_text())["kind"] == RUNS[name] == run_config(path)["kind"]
    assert set(COMMANDS) <= set(SERVES) and set(SERVES) - set(COMMANDS) == {"serve"}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("name", list(RUNS))
def test_a_command_works_or_refuses_in_one_sentence(runs, tmp_path, monkeypatch, name, command):
    root, built = runs
    run = tmp_path / "run"
    shutil.copytree(built[name], run)
    steps = json.loads((run / "state" / "trainer.json").read_text())["step"] if (run / "state").is_dir() else 0
    fill = {
        "{run}": str(run),
        "{tmp}": str(tmp_path),
        "{root}": str(root),
        "{text}": TEXT.get(name, "kali" if name in WORD_RUNS else "All that"),
        "{more}": str(steps + 2),
    }
    argv = [fill.get(a, a).replace("{root}", str(root)).replace("{tmp}", str(tmp_path)) for a in COMMANDS[command]]
    writes = WRITES.get(command, ())
    before = snapshot(run, writes or ())
    chat_input = "kali\n/quit\n" if name in WORD_RUNS else f"{fill['{text}']}\n/quit\n"
    code, out, err = run_cli(argv, chat_input, monkeypatch)
    refused = expected(run, name, command)
    if refused:
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (code, err[-2000:])
        assert refused in lines[0], lines[0]
        assert snapshot(run) == before  # nothing written
        return
    assert code == 0, err[-3000:]
    if writes is not None:
        assert snapshot(run, writes) == before, f"{command} changed the run it read"
    check_output(name, command, run, tmp_path, out, steps)


def check_output(name: str, command: str, run: Path, tmp: Path, out: str, steps: int) -> None:
    """What the command is for, on a run where it works."""
    if command == "sample":
        samples = json.loads(out)
        assert len(samples) == 2 and all(isinstance(s, str) for s in samples)
    elif command == "eval":
        assert math.isfinite(json.loads(out)["loss"])
    elif command == "eval --splits":
        result = json.loads(out)
        assert set(result) == {"train", "dev", "test"} and all(math.isfinite(r["loss"]) for r in result.values())
    elif command == "eval --multiple-choice":
        assert json.loads(out)["examples"] == 1
    elif command == "explain":
        rows = json.loads(out)["tokens"]
        assert rows and all(0.0 < r["p_target"] <= 1.0 for r in rows)
    elif command == "export --hf":
        assert json.loads((tmp / "hf" / "config.json").read_text())["model_type"] == "gpt2"
    elif command == "finetune":
        assert json.loads((tmp / "ft" / "config.json").read_text())["kind"] == "chat"
    elif command == "chat":
        assert "bot> " in out
    elif command == "gradcheck":
        assert "FAILED" not in out
    elif command == "plot":
        assert list((run / "plots").glob("*.png"))
    elif command == "report":
        assert (run / "report.html").is_file()
    elif command == "train --resume":
        assert json.loads((run / "state" / "trainer.json").read_text())["step"] == steps + 2
    elif command == "reward":
        assert json.loads((tmp / "rm" / "config.json").read_text())["kind"] == "reward"
    elif command == "reward-score":
        scores = json.loads(out)
        assert len(scores) == 1 and math.isfinite(scores[0])
    elif command in ("rl", "rl --reward"):
        assert json.loads((tmp / "rl" / "config.json").read_text())["train"]["objective"] == "pg"
    elif command == "dpo":
        assert json.loads((tmp / "dpo" / "config.json").read_text())["train"]["objective"] == "dpo"
    elif command == "merge":
        merged = load_run(tmp / "merged")
        assert merged.config.model.lora_rank == 0 and not any(".lora_" in k for k in merged.model.weights())


@pytest.mark.parametrize("name", list(RUNS))
def test_every_endpoint_of_the_playground_works_or_refuses_in_one_sentence(runs, name):
    from fastapi.testclient import TestClient

    _, built = runs
    before = snapshot(built[name])
    client = TestClient(create_app(load_run(built[name])))
    health = client.get("/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    prompt = "ka" if name in WORD_RUNS else TEXT.get(name, "All that")
    body = {"prompt": prompt, "max_tokens": 4, "seed": 1}
    stream = client.post("/api/generate", json=body)
    assert stream.status_code == 200 and "event: done" in stream.text, stream.text[-500:]
    text = TEXT.get(name, "kali" if name in WORD_RUNS else "All that")
    explained = client.post("/api/explain", json={"text": text})
    assert explained.status_code == 200 and explained.json()["tokens"], explained.text[-500:]
    chat = client.post("/api/chat", json={"messages": [{"role": "user", "content": "all"}], "max_tokens": 3})
    if name in CHAT_RUNS:
        assert chat.status_code == 200 and "event: done" in chat.text
    else:  # a run without chat tokens: one sentence, the same JSON error body as every other error
        assert chat.status_code == 409 and "no chat tokens" in chat.json()["error"]
    assert snapshot(built[name]) == before
