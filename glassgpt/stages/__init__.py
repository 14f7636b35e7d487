"""After pretraining: the stages that turn a base model into an assistant.

- ``finetune``  supervised fine-tuning (SFT) on conversations, the loss on the replies only
- ``grow``      new rows in the embedding (and head) for added special tokens

The chat template (``glassgpt.tokenizers.chat_template``), the conversation reader
(``glassgpt.data.conversations``) and the conversation rows (``glassgpt.data.conversation_rows``)
live lower, so ``explain --chat`` and the playground use them too.
"""
