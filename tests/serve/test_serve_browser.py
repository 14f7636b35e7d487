"""The playground in a real browser: ``glassgpt serve`` runs as its own process on 127.0.0.1 (stopped
even when the test fails), headless Chromium loads the page, generates, hovers a token to see its
ten alternatives, chats and explains; screenshots go to test-artifacts/ (git-ignored).
Skipped when Chromium, chromedriver or the serve extra is missing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from support.chatrun import QA
from support.webdriver import ARTIFACTS, NEEDS_CHROMIUM, WebDriver, free_port

pytest.importorskip("fastapi", reason="the serve extra: pip install 'glassgpt[serve]'")
pytest.importorskip("uvicorn", reason="the serve extra: pip install 'glassgpt[serve]'")
pytestmark = [NEEDS_CHROMIUM, pytest.mark.slow]

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C name of an element reference


@pytest.fixture
def server(chat):
    """``glassgpt serve`` in a subprocess; yields its URL once /health answers."""
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "glassgpt", "serve", str(chat), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=5) as r:
                    if json.loads(r.read())["status"] == "ok":
                        break
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if proc.poll() is not None:
                pytest.fail(f"glassgpt serve exited: {proc.stderr.read().decode()[-2000:]}")
            assert time.monotonic() < deadline, "glassgpt serve did not answer /health"
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def browser(tmp_path):
    driver = WebDriver(tmp_path / "chromium-profile")
    yield driver
    driver.close()


def wait_for(browser, js: str, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while True:
        value = browser.script(js)
        if value:
            return value
        if time.monotonic() > deadline:
            errors = browser.script("return Array.from(document.querySelectorAll('.error')).map(e => e.textContent)")
            pytest.fail(f"timed out waiting for: {js} (errors on the page: {errors})")
        time.sleep(0.2)


def hover(browser, css: str) -> None:
    element = browser.cmd("POST", "/element", {"using": "css selector", "value": css})
    move = {"type": "pointerMove", "origin": {ELEMENT: element[ELEMENT]}, "x": 0, "y": 0, "duration": 50}
    browser.cmd(
        "POST",
        "/actions",
        {"actions": [{"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"}, "actions": [move]}]},
    )


def test_playground_generates_hovers_chats_and_explains(server, browser):
    browser.cmd("POST", "/window/rect", {"width": 1100, "height": 900})
    browser.cmd("POST", "/url", {"url": server + "/"}, timeout=120)
    wait_for(browser, "return document.getElementById('meta').textContent.includes('fine-tuned for chat')")

    # generate: tokens stream in, each coloured by its probability
    browser.script(
        "document.getElementById('prompt').value = 'the quick';"
        "document.getElementById('max_tokens').value = '40';"
        "document.getElementById('seed').value = '3';"
        "document.getElementById('go').click();"
    )
    status = wait_for(
        browser, "const s = document.getElementById('gen-status').textContent;return s.includes('tokens in') ? s : null"
    )
    assert status.startswith("40 tokens in") and "seed 3" in status
    tokens = browser.script(
        "return Array.from(document.querySelectorAll('#out .tok')).map(t => [t.textContent, t.style.background])"
    )
    assert len(tokens) == 40 and all(bg.startswith("rgb") for _, bg in tokens)

    # hovering a token shows its ten likeliest alternatives with probabilities
    hover(browser, "#out .tok:nth-of-type(3)")
    tip = wait_for(
        browser,
        "const t = document.getElementById('tip');"
        "return t.style.display === 'block' ? [t.querySelectorAll('tr').length, t.textContent] : null",
    )
    assert tip[0] == 10 and "P ." in tip[1]
    browser.screenshot(ARTIFACTS / "serve-generate.png")

    # chat with the fine-tuned run
    browser.script(
        "document.getElementById('tab-chat').click();"
        "document.getElementById('temperature').value = '0';"  # greedy: the reply the run learned
        f"document.getElementById('message').value = {json.dumps(QA[0][0])};"
        "document.getElementById('send').click();"
    )
    wait_for(browser, "return document.getElementById('chat-status').textContent.includes('tokens')")
    replies = browser.script("return document.querySelectorAll('.msg.assistant .tok').length")
    assert replies > 0
    browser.screenshot(ARTIFACTS / "serve-chat.png")

    # explain the conversation: the masked tokens are marked
    browser.script("document.getElementById('chat-explain').click();")
    totals = wait_for(browser, "return document.getElementById('etotals').textContent")
    assert totals.startswith("response loss") and "counted targets" in totals
    masked = browser.script("return document.querySelectorAll('#eout .tok.masked').length")
    counted = browser.script("return document.querySelectorAll('#eout .tok:not(.masked)').length")
    reply = browser.script("return chat[1].content")  # the page's conversation: the user's message and the reply
    assert counted == len(reply) + 1 and masked > 0  # every reply character and <|assistant_end|> count
    browser.screenshot(ARTIFACTS / "serve-explain.png")

    logs = browser.cmd("POST", "/se/log", {"type": "browser"})
    assert not [e for e in logs if e.get("level") in ("SEVERE", "ERROR")], logs
    assert (ARTIFACTS / "serve-generate.png").stat().st_size > 10_000
