"""After pretraining: supervised fine-tuning (SFT) on conversations with a loss mask.

- ``sft``      ``finetune(source_run, sft_file, out)``: the whole fine-tune into a new run
- ``batches``  conversations -> examples -> rows packed best fit and padded; the batch source
- ``grow``     new rows in the embedding (and head) for added special tokens

The chat template itself (``glassgpt.tokenizers.chat``) and the conversation reader
(``glassgpt.data.conversations``) live lower, so ``explain --chat`` and the playground use
them too.
"""

from glassgpt.finetune.sft import DEFAULTS, FinetuneResult, chat_tokenizer, finetune

__all__ = ["DEFAULTS", "FinetuneResult", "chat_tokenizer", "finetune"]
