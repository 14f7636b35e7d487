"""Softmax, loss and perplexity, one prediction at a time, on "we love deep learning" (docs/curriculum.md, A1).

A model reads ``<BOS> we love deep learning`` and at each step scores the next word
with a logit.  Softmax turns the logits into probabilities, the loss of a step is
``-ln p(correct word)``, the sentence loss is their mean, perplexity is ``exp(mean)``,
and the gradient of one step's loss with respect to its logits is ``p - onehot``.
"""

from __future__ import annotations

import math

import numpy as np

from glassgpt.demos._show import heading, new_figure, num, save_figure, say, table

NAME = "softmax"
SUMMARY = "softmax, -ln p, perplexity and dL/dlogits on 'we love deep learning' (A1)"

VOCAB = ["<BOS>", "we", "love", "deep", "learning", "<EOS>", "the", "is", "great", "model", "hello", "world"]

#: first prediction (after <BOS>): the logits the source gives, over 8 words only
STEP1 = {"the": 3.2, "hello": 2.8, "we": 2.1, "is": 1.5, "love": -0.5, "deep": -1.2, "learning": -2.0, "<EOS>": -10.0}

#: the next three predictions share one word order
ORDER = ["we", "love", "deep", "learning", "the", "hello", "is", "<EOS>"]
LATER = [
    ("we", "love", [-3, 2.8, -0.5, -1.5, 1.2, -5, 2.1, -8]),
    ("we love", "deep", [-5, -4, 1.9, 0.8, 0.5, -6, -2, -7]),
    ("we love deep", "learning", [-6, -5, -4, 3.5, -2, -8, -3, -6]),
]


def softmax(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(exp values, probabilities); the max is subtracted first so exp never overflows."""
    z = np.asarray(logits, dtype=np.float64)
    e = np.exp(z - z.max())
    return e * math.exp(z.max()), e / e.sum()


def run(plot: bool = False, out_dir: str = ".") -> dict:
    heading("A1  Softmax walk-through: '<BOS> we love deep learning'")
    say(f"Vocabulary ({len(VOCAB)} words): {' '.join(VOCAB)}")
    say("The source scores 8 of them at each step; softmax runs over those 8.")

    # ---- step 1: after <BOS>, the target is "we"
    words = list(STEP1)
    exps, probs = softmax(np.array([STEP1[w] for w in words]))
    table(
        ["word", "logit", "exp(logit)", "p = exp / sum"],
        [[w, num(STEP1[w], 1), num(e, 2), num(p, 4)] for w, e, p in zip(words, exps, probs)]
        + [["sum", "", num(exps.sum(), 2), f"{probs.sum():.6f}"]],
        title="Step 1: context '<BOS>', target 'we'",
    )

    # ---- all four steps: probability of the correct word and its loss
    steps = [("<BOS>", "we", float(probs[words.index("we")]))]
    for context, target, logits in LATER:
        _, p = softmax(np.array(logits, dtype=np.float64))
        steps.append((context, target, float(p[ORDER.index(target)])))
    losses = [-math.log(p) for _, _, p in steps]
    total = sum(losses)
    mean = total / len(losses)
    perplexity = math.exp(mean)
    table(
        ["step", "context", "target", "p(target)", "loss = -ln p"],
        [[i + 1, c, t, num(p, 4), num(l, 4)] for i, ((c, t, p), l) in enumerate(zip(steps, losses))],
        title="Loss at every step",
        align="rllrr",
    )
    say(f"total loss {total:.4f}   mean loss {mean:.4f}   perplexity exp(mean) = {perplexity:.4f}")
    say(f"(perplexity {perplexity:.2f}: on average as unsure as a fair choice among about {perplexity:.1f} words)")

    # ---- gradient of step 1's loss w.r.t. its logits: p - onehot("we")
    onehot = np.array([1.0 if w == "we" else 0.0 for w in words])
    grad = probs - onehot
    table(
        ["word", "p", "onehot", "dL/dlogit = p - onehot"],
        [[w, num(p, 4), int(o), num(g, 4, sign=True)] for w, p, o, g in zip(words, probs, onehot, grad)],
        title="Gradient of step 1's loss (target 'we')",
    )
    say(
        "Only the correct word gets a negative gradient (gradient descent raises its logit); "
        f"every other logit is pushed down by its own probability.  Row sum = {grad.sum():+.1e}."
    )

    # ---- the -ln p table and the toy example
    ps = [0.90, 0.50, 0.10, 0.01]
    neg_log = {p: -math.log(p) for p in ps}
    table(
        ["p(correct)", "-ln p"],
        [[num(p, 2), num(v, 2)] for p, v in neg_log.items()],
        title="Loss for a few probabilities",
    )
    toy = -math.log(0.6)
    say(f"Toy: P(cat) = 0.6  ->  loss = -ln 0.6 = {toy:.4f}")

    result = {
        "vocab": VOCAB,
        "step1_words": words,
        "step1_exp": dict(zip(words, exps.tolist())),
        "step1_exp_sum": float(exps.sum()),
        "step1_probs": dict(zip(words, probs.tolist())),
        "step_probs": [p for _, _, p in steps],
        "losses": losses,
        "total_loss": total,
        "mean_loss": mean,
        "perplexity": perplexity,
        "step1_grad": dict(zip(words, grad.tolist())),
        "neg_log": neg_log,
        "toy_cat_loss": toy,
    }
    if plot:
        result["figure"] = _plot(words, probs, grad, steps, losses, out_dir)
    return result


def _plot(words, probs, grad, steps, losses, out_dir) -> str:
    plt, fig, (a1, a2, a3) = new_figure(1, 3, figsize=(14, 4.2))
    a1.bar(words, probs, color="tab:blue")
    a1.set_title("step 1: p = softmax(logits)")
    a1.bar(["we"], [probs[words.index("we")]], color="tab:green", label="target 'we'")
    a1.legend()
    a2.bar(words, grad, color=["tab:green" if w == "we" else "tab:red" for w in words])
    a2.axhline(0, color="black", lw=0.8)
    a2.set_title("step 1: dL/dlogits = p - onehot")
    a3.bar([t for _, t, _ in steps], losses, color="tab:purple")
    for i, l in enumerate(losses):
        a3.text(i, l, f"{l:.3f}", ha="center", va="bottom")
    a3.set_title(f"loss per step (mean {sum(losses) / len(losses):.3f})")
    for a in (a1, a2):
        a.tick_params(axis="x", rotation=45)
    return save_figure(fig, out_dir, NAME)
