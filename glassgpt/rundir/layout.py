"""Every file name of a run directory, in one place.

A run directory is what ``glassgpt train --out DIR`` writes and everything else reads:

=====================  ==================================================================
``config.json``        the fully resolved model / data / train configuration
``model.safetensors``  the weights (Hugging Face names; a tied head is stored once)
``tokenizer.json``     the tokenizer
``metrics.jsonl``      one JSON object per logged step
``summary.json``       steps, why training stopped, the final evaluation and samples
``samples.jsonl``      samples with the step they were taken at
``diagnostics.jsonl``  gradient / update / activation diagnostics (``--diagnostics-every``)
``lr_finder.json``     the learning-rate sweep (``glassgpt plot DIR lr-finder --run``)
``finetune.json``     a fine-tuned run's source run, data, counts and losses before and after
``stage.json``         a run made by a stage after fine-tuning (reward, dpo, rl, merge): the stage,
                       the run it started from, its data and settings, figures before and after
``adapters.safetensors``  a LoRA run's adapters alone (they are in ``model.safetensors`` too)
``report.html``        the run report; its figures live in ``plots/``
``trackers.json``      the experiment trackers the run logs to (``--log``) and what resuming
                       into the same tracker run needs (the W&B run id)
``tensorboard/``       TensorBoard event files (``--log tensorboard``)
``wandb/``             Weights & Biases' own files, offline runs included (``--log wandb``)
``state/``             the last complete checkpoint (see ``checkpoint``)
``data/``              the token cache (``train.bin``, ``val.bin``, ``meta.json``), or for a
                       word-list run the list itself (``words.txt``, one word per line)
``.glassgpt.lock``     the writer lock (see ``lock``); created before any other file of a
                       new run, so it also marks a folder whose setup was cut short as
                       glassgpt's own
=====================  ==================================================================
"""

from __future__ import annotations

from glassgpt.fileio import TMP_SUFFIX

CONFIG = "config.json"
MODEL = "model.safetensors"
TOKENIZER = "tokenizer.json"
METRICS = "metrics.jsonl"
SAMPLES = "samples.jsonl"
SUMMARY = "summary.json"
DIAGNOSTICS = "diagnostics.jsonl"
LR_FINDER = "lr_finder.json"
REPORT = "report.html"
FINETUNE = "finetune.json"
STAGE = "stage.json"
ADAPTERS = "adapters.safetensors"
#: what names a LoRA adapter's tensor (``transformer.h.0.attn.c_attn.lora_A.q``; see ``models.lora``)
ADAPTER_MARK = ".lora_"
#: the trackers of ``--log`` and their run ids, written atomically (``glassgpt.tracking``)
TRACKERS = "trackers.json"

LOCK = ".glassgpt.lock"

DATA_DIR = "data"
#: a word-list run's words, in the file's order (empty lines left out), inside DATA_DIR
WORDS = "words.txt"
PLOTS_DIR = "plots"
#: what the experiment trackers write: TensorBoard's event files, W&B's folder (``wandb`` is the name W&B gives it)
TENSORBOARD_DIR, WANDB_DIR = "tensorboard", "wandb"
STATE_DIR, STATE_NEW, STATE_OLD = "state", "state.new", "state.old"

#: the files of the checkpoint folder; ``trainer.json`` is written last and marks it complete
STATE_MODEL, STATE_OPTIMIZER, STATE_RNG, STATE_TRAINER = (
    "model.safetensors",
    "optimizer.safetensors",
    "rng.safetensors",
    "trainer.json",
)

#: every file and folder a run writes (``--overwrite`` removes exactly these)
RUN_FILES = (
    CONFIG,
    MODEL,
    TOKENIZER,
    METRICS,
    SAMPLES,
    SUMMARY,
    REPORT,
    DIAGNOSTICS,
    LR_FINDER,
    FINETUNE,
    TRACKERS,
    STAGE,
    ADAPTERS,
)
RUN_DIRS = (STATE_DIR, STATE_NEW, STATE_OLD, DATA_DIR, PLOTS_DIR, TENSORBOARD_DIR, WANDB_DIR)
#: the hidden scratch files a killed writer may leave (glob patterns, by the run's own names only):
#: atomic writes' ``.<name>.<random>.tmp`` beside each run file (``fileio.atomic_write``), the
#: writability probe's ``.write-test-<random>``, the hard link older versions made
SCRATCH = (*(f".{name}.*{TMP_SUFFIX}" for name in RUN_FILES), ".write-test-*", ".model.safetensors.link")
#: the JSON-lines logs whose records carry a ``step`` (a resume truncates them to its step)
STEP_LOGS = (METRICS, DIAGNOSTICS, SAMPLES)
