"""The shared tiny pretrained run and its chat fine-tune (fixtures ``base`` and ``chat``, tests/chatrun.py)."""

from chatrun import base, chat  # noqa: F401 - fixtures, found by name
