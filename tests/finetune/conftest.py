"""The shared tiny pretrained run and its chat fine-tune (see tests/chatrun.py)."""

from __future__ import annotations

import pytest
from chatrun import base_run, chat_run


@pytest.fixture(scope="session")
def base(tmp_path_factory):
    return base_run(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def chat(tmp_path_factory):
    return chat_run(tmp_path_factory.getbasetemp())
