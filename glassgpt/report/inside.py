"""Inside a run's model: what figures and the report compute from the weights themselves.

``RunData`` holds what a run recorded (its configuration, metrics, diagnostics, summary) and
needs no model code.  ``Inside`` opens the model on the CPU (``models.from_run.load_run``)
and computes from it: a word list's data, the gradient statistics of the final weights, the
attention maps, the parameter table and the explain view.  This is the one module of the
report that needs torch, and ``RunData.inside`` opens it the first time a figure asks, so the
figures drawn from the records (``glassgpt plot DIR loss``, ``--compare``) start without it.
"""

from __future__ import annotations

import numpy as np
import torch

from glassgpt.data.loader import fixed_batches
from glassgpt.errors import RunDirError
from glassgpt.explain import explain
from glassgpt.makemore.word_source import run_words
from glassgpt.makemore.words import WordData
from glassgpt.models.from_run import LoadedRun, load_run
from glassgpt.report.rundata import MissingData, RunData
from glassgpt.training.diagnostics import analyze_gradients, param_group


class Inside:
    """The model of ``run`` on the CPU, loaded once (``MissingData`` when it cannot be), and
    what figures compute from it."""

    def __init__(self, run: RunData):
        try:
            self.loaded: LoadedRun = load_run(run.dir, "cpu")
        except RunDirError as exc:
            raise MissingData(f"the model cannot be loaded ({exc})") from None
        self.run = run

    def words(self) -> WordData:
        """A word-list run's words and split, rebuilt from its ``data/words.txt``."""
        return run_words(self.loaded.run_dir, self.loaded.config, self.loaded.tokenizer)

    def final_gradient_components(self, batch_size: int = 8, max_len: int = 128) -> tuple[dict, str]:
        """Gradient statistics of the final weights on a fixed batch of training windows (at
        most ``max_len`` tokens each, so a big model stays cheap on a CPU), for runs trained
        without diagnostics.  Returns (stats, description)."""
        run, model = self.run, self.loaded.model
        cfg = run.config
        if not any(True for _ in model.parameters()):
            raise MissingData("the model has no parameters trained by gradients (the counting bigram counts)")
        if run.words is not None:  # a word list: its first training examples (whole words for the GPT)
            x, y = run.words.arrays("train", model.config.block_size, sequences=run.is_gpt)
            model.train(False)
            return analyze_gradients(
                model, x[:batch_size], y[:batch_size]
            ), f"final weights, the first {batch_size} training examples"
        seq_len = int(cfg.get("train", {}).get("seq_len") or 0) or model.config.block_size
        seq_len = min(seq_len, max_len)
        toks = run.tokens("train")
        if len(toks) < seq_len + 1:
            raise MissingData("the training split is too short for a gradient batch")
        seed = int(cfg.get("train", {}).get("seed", 0)) + 2
        ((x, y),) = fixed_batches(toks, seq_len, batch_size, 1, seed)
        model.train(False)
        stats = analyze_gradients(model, x, y)
        return stats, f"final weights, one batch of {batch_size}×{seq_len} training tokens"

    def attention_maps(self, ids: list[int]) -> list[np.ndarray]:
        """The attention weights of every layer on the tokens ``ids``: one (heads, T, T) array each."""
        with torch.no_grad():
            maps = self.loaded.model.attention_maps(torch.tensor([ids], dtype=torch.long))
        return [w[0].float().numpy() for w in maps]

    def explain(self, text: str, top_k: int = 5) -> dict:
        """``explain.explain`` of ``text`` under the model, its context cropped to the trained one."""
        loaded = self.loaded
        return explain(loaded.model, loaded.tokenizer, text, top_k=top_k, max_context=loaded.trained_context)

    def param_rows(self) -> tuple[list[list[str]], dict[str, int], int]:
        """Rows (part, tensors, count, share) grouped by block and component, the totals by
        diagnostics group, and the total (``model.num_params()``; a tied matrix counts once)."""
        model = self.loaded.model
        groups: dict[str, list] = {}
        kinds: dict[str, int] = {}
        table = model.param_table()
        if not table and hasattr(model, "weights"):  # the counting bigram: its table of counts is the model
            table = [(n, tuple(t.shape), t.numel()) for n, t in model.weights().items()]
        for name, shape, count in table:
            parts = name.split(".")
            if parts[0] != "transformer" and parts[0] != "lm_head":  # a ladder model: one row per layer
                key = ".".join(parts[:-1]) or name
            elif parts[:2] == ["transformer", "h"]:
                sub = {"attn": "attention", "mlp": "MLP"}.get(parts[3], "LayerNorms")
                key = f"block {parts[2]} {sub}"
            else:
                key = {
                    "wte": "token embedding (wte)",
                    "wpe": "position embedding (wpe)",
                    "ln_f": "final LayerNorm (ln_f)",
                }.get(parts[1] if parts[0] == "transformer" else "", "LM head (lm_head)")
            groups.setdefault(key, []).append((name, shape, count))
            kind = param_group(name)
            kinds[kind] = kinds.get(kind, 0) + count
        total = model.num_params()
        rows = []
        for key, items in groups.items():
            count = sum(c for _, _, c in items)
            tensors = ", ".join(f"{n.split('.')[-2]}.{n.split('.')[-1]} {'×'.join(map(str, s))}" for n, s, _ in items)
            rows.append([key, tensors, f"{count:,}", f"{count / total:.1%}"])
        return rows, kinds, total
