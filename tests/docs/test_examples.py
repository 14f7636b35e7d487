"""Examples that cannot rot: every shell and Python example of README.md and docs/*.md runs, in
the order of its page, with small settings, or says in a mark above it why it cannot
(tests/support/examples.py has the rules: the ``<!-- not run: REASON -->`` mark, how commands
are cut down, which languages are examples)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from support.examples import made_by, read_blocks, run_python, run_shell
from support.tinyrun import TINY_TEXT

import glassgpt
from glassgpt.cli import main
from glassgpt.data.corpora import load_corpus

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCKS = {page: read_blocks(page, ROOT) for page in PAGES}
RUNNABLE = [page for page, blocks in BLOCKS.items() if any(b.example and b.not_run is None for b in blocks)]
pytestmark = pytest.mark.docs

#: what a fragment needs that its page defines in prose: (page, its first line) -> Python run first
PRELUDES = {
    ("docs/figures-and-diagnostics.md", "from glassgpt.training.diagnostics import"): """
import torch, glassgpt
model, tokenizer = glassgpt.load("runs/poem")
model.train()
ids = torch.tensor([tokenizer.encode("All that glitters is not gold; often have you heard that told")])
x, y = ids[:, :-1], ids[:, 1:]
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
""",
    ("docs/finetuning.md", "from glassgpt.generation.streaming import"): """
import glassgpt
model, tokenizer = glassgpt.load("runs/shakespeare")
prompt_ids = tokenizer.encode("ROMEO:")
""",
    ("docs/glass-box.md", "from glassgpt.glass import GPT"): """
import glassgpt
model, tokenizer = glassgpt.load("runs/nursery-nursery")
import numpy as np
ids = np.array([tokenizer.encode("mary had a little lamb <END> its")])
x, y = ids[:, :-1], ids[:, 1:]
""",
    ("docs/model.md", "logits, loss = model(idx, targets)"): """
import torch, glassgpt
model, tokenizer = glassgpt.load("runs/poem")
ids = torch.tensor([tokenizer.encode("All that glitters")] * 2)
idx, targets = ids[:, :-1], ids[:, 1:]
batch_size, max_len = 2, 32
new_ids = idx[:, :4]
pos = torch.arange(idx.shape[1]).repeat(2, 1)
seg = torch.zeros_like(idx)
""",
    ("docs/makemore.md", "from glassgpt.makemore.backprop import init_params"): """
X, Y = data.examples("train", block_size=3)   # the windows of the block above (its last line made sequences)
""",
    ("docs/tokenizers.md", "from glassgpt.tokenizers import BPETokenizer"): """
from glassgpt.data.corpora import load_corpus
text = load_corpus("shakespeare")[:20_000]
""",
    ("docs/scale.md", "from glassgpt.interop import export_hf, import_hf"): """
import shutil
shutil.rmtree("hf/poem"); shutil.rmtree("runs/gpt2")   # the shell block above made them from the command line
""",
}


def prelude(block) -> str:
    return next(
        (code for (page, first), code in PRELUDES.items() if block.page == page and block.text.startswith(first)), ""
    )


@pytest.fixture(scope="session")
def workspace(tmp_path_factory):
    """The folder a reader has when they try the examples: their own texts and data files, and the
    runs the pages use without making them (tiny ones)."""
    folder = tmp_path_factory.mktemp("examples")
    plays = load_corpus("shakespeare")  # the reader's own text: real prose, every common character
    lines = plays[:20_000].splitlines()
    for name, text in {
        "my_notes/one.txt": plays[:30_000],
        "my_notes/two.txt": plays[30_000:60_000],
        "notes/a.txt": plays[:20_000],
        "notes/b.txt": plays[20_000:40_000],
        "notes/c.txt": plays[40_000:60_000],
        "notes.txt": plays[:40_000],
        "text.txt": plays[60_000:80_000],
        "speech.txt": "To be, or not to be, that is the question:\n",
        "corpus/plays/one.txt": plays[:30_000],
        "corpus/two.txt": plays[30_000:60_000],
        "names.txt": load_corpus("names"),
    }.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"text": line}) + "\n" for line in lines if line))
    (folder / "pages.jsonl").write_text("".join(json.dumps({"text": line}) + "\n" for line in lines if line))
    chats = [
        {
            "messages": [
                {"role": "user", "content": "Who wrote Hamlet?"},
                {"role": "assistant", "content": "Shakespeare."},
            ]
        }
    ]
    (folder / "chats.jsonl").write_text("".join(json.dumps(c) + "\n" for c in chats * 20))
    choice = {"context": "the quick brown fox", "endings": [" jumps over", " is a fox"], "label": 0}
    (folder / "hellaswag_val.jsonl").write_text(json.dumps(choice) + "\n")
    settings = {"train.max_steps": 4, "train.time_budget": 0, "data.val_fraction": 0.002}
    runs = folder / "runs"
    glassgpt.train(runs / "poem", preset="poem", overrides={"train.max_steps": 4}, report=False)
    glassgpt.train(runs / "shakespeare", preset="baby", overrides=settings, report=False)
    glassgpt.train(runs / "my-run", preset="baby", overrides=settings, report=False)
    for name, preset in (("bn", "makemore-mlp-bn-fast"), ("mlp", "makemore-mlp")):
        cfg = {"train.max_steps": 4, "train.diagnostics_every": 2, "data.path": str(folder / "names.txt")}
        glassgpt.train(runs / name, preset=preset, overrides=cfg, report=False)
    assert main(["export", str(runs / "poem"), "--hf", str(folder / "hf" / "gpt2")]) == 0
    from glassgpt.tokenizers import BPETokenizer
    from glassgpt.tokenizers.tiktoken_io import write_ranks

    small = BPETokenizer.train(TINY_TEXT, vocab_size=300, pattern="gpt4")
    write_ranks(folder / "mine.tiktoken", [small.token_bytes(i) for i in range(small.vocab_size)])
    return folder


def test_every_fence_names_its_language_and_every_mark_says_why():
    for blocks in BLOCKS.values():
        for block in blocks:
            assert block.lang, f"{block.where()}: name the fence's language (text for output)"
            if block.not_run is not None:
                assert block.example, f"{block.where()}: only shell and Python examples are marked"
                assert len(block.not_run) > 10, f"{block.where()}: say why the example cannot run"


def test_every_prelude_is_used():
    blocks = [b for page_blocks in BLOCKS.values() for b in page_blocks if b.example and b.not_run is None]
    unused = [key for key in PRELUDES if not any(b.page == key[0] and b.text.startswith(key[1]) for b in blocks)]
    assert not unused, f"preludes of examples that no longer exist: {unused}"


@pytest.mark.slow
@pytest.mark.parametrize("page", RUNNABLE, ids=[str(p.relative_to(ROOT)) for p in RUNNABLE])
def test_the_examples_of_the_page_run(page, workspace, tmp_path, monkeypatch):
    folder = tmp_path / "reader"
    shutil.copytree(workspace, folder)
    for made in made_by(BLOCKS[page]):  # what the page makes, the reader does not have yet
        shutil.rmtree(folder / made, ignore_errors=True)
    monkeypatch.chdir(folder)
    monkeypatch.setenv("WANDB_MODE", "offline")  # never the network, whatever this machine's W&B login
    namespace: dict = {"__name__": "__main__"}
    for block in BLOCKS[page]:
        if not block.example or block.not_run is not None:
            continue
        if block.lang == "python":
            run_python(block, namespace, prelude(block))
        else:
            run_shell(block, folder, main)
