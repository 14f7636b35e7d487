"""Talking to a run: the terminal chat and the local web playground.

- ``session``   a conversation (chat template for fine-tuned runs, text continuation otherwise)
- ``terminal``  ``glassgpt chat``: the read-reply loop with /temperature, /top-k, /top-p, /probs, /clear
- ``app``       ``glassgpt serve``: FastAPI + uvicorn (the optional extra ``glassgpt[serve]``)
- ``static/``   the playground page, one self-contained HTML file

Only ``app`` needs FastAPI; it imports it when called and says in one sentence how to install it.
"""
