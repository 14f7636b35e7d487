"""The playground in a real browser: ``glassgpt serve --port 0`` runs as its own process on
127.0.0.1 (stopped even when the test fails), headless Chromium (a fresh profile, no network
services) loads the page, streams a generation whose every token is coloured by and labelled
with its probability (the same numbers the API streams for that seed), hovers a token to see
its ten alternatives, chats and explains; screenshots go to test-artifacts/ (git-ignored).
Skipped only when Chromium or its driver is not installed (Debian: chromium, chromium-driver)."""

from __future__ import annotations

import colorsys
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from support.chatrun import QA
from support.webdriver import ARTIFACTS, NEEDS_CHROMIUM, WebDriver

pytestmark = [NEEDS_CHROMIUM, pytest.mark.slow]

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C name of an element reference


@pytest.fixture
def server(chat):
    """``glassgpt serve`` in a subprocess on the port it picks; yields its URL once /health answers."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "glassgpt", "serve", str(chat), "--port", "0", "--threads", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        if not match:
            pytest.fail(f"glassgpt serve printed {line!r}: {proc.stderr.read()[-2000:] if proc.poll() else ''}")
        url = f"http://127.0.0.1:{match.group(1)}"
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=5) as r:
                    if json.loads(r.read())["status"] == "ok":
                        break
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if proc.poll() is not None:
                pytest.fail(f"glassgpt serve exited: {proc.stderr.read()[-2000:]}")
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


def api_tokens(url: str, body: dict) -> list[dict]:
    """The token events ``POST /api/generate`` streams for ``body``."""
    request = urllib.request.Request(
        url + "/api/generate", json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=120) as r:
        blocks = r.read().decode().strip().split("\n\n")
    return [json.loads(b.split("\ndata: ", 1)[1]) for b in blocks if b.startswith("event: token")]


def page_text(token: dict) -> str:
    """What the page writes for a streamed token: a special token by its name, empty text as ·, ↵ before a newline."""
    text = token["token"] if token["special"] else token["text"]
    return (text or "·").replace("\n", "↵\n")


def fmt(p: float) -> str:
    """The page's way of writing a probability: three decimals, no leading zero."""
    return "1.000" if p >= 0.9995 else f"{p:.3f}".removeprefix("0")


def json_text(token: str) -> str:
    """A token as the tooltip quotes it (JSON-escaped, without the quotes)."""
    return json.dumps(token, ensure_ascii=False)[1:-1]


def colour(p: float) -> tuple[int, int, int]:
    """The page's colour for probability p: hue 0 (red) to 120 (green), saturation 75%, lightness 78%."""
    r, g, b = colorsys.hls_to_rgb(round(120 * max(0.0, min(1.0, p))) / 360, 0.78, 0.75)
    return round(r * 255), round(g * 255), round(b * 255)


def rgb(css: str) -> tuple[int, ...]:
    return tuple(int(v) for v in re.findall(r"\d+", css)[:3])


def close(a, b) -> bool:
    return all(abs(x - y) <= 1 for x, y in zip(a, b, strict=True))


def test_playground_generates_hovers_chats_and_explains(server, browser):
    browser.cmd("POST", "/window/rect", {"width": 1100, "height": 900})
    browser.cmd("POST", "/url", {"url": server + "/"}, timeout=120)
    wait_for(browser, "return document.getElementById('meta').textContent.includes('fine-tuned for chat')")

    # generate: tokens stream in, each coloured by and labelled with its probability
    browser.script(
        "document.getElementById('prompt').value = 'the quick';"
        "document.getElementById('max_tokens').value = '40';"
        "document.getElementById('seed').value = '3';"
    )
    sent = browser.script("return {prompt: document.getElementById('prompt').value, ...settings()}")
    browser.script("document.getElementById('go').click();")
    status = wait_for(
        browser, "const s = document.getElementById('gen-status').textContent;return s.includes('tokens in') ? s : null"
    )
    assert status.startswith("40 tokens in") and "seed 3" in status
    streamed = api_tokens(server, sent)  # the same request: the same tokens and numbers
    shown = browser.script(
        "return Array.from(document.querySelectorAll('#out .tok')).map(t => "
        "[t.textContent, Number(t.dataset.p), getComputedStyle(t).backgroundColor, t.getAttribute('aria-label')])"
    )
    assert len(shown) == len(streamed) == 40
    for (text, p, background, label), token in zip(shown, streamed):
        assert p == token["p"] and text == page_text(token)
        assert label == f"{text} (P {fmt(p)})"
        assert close(rgb(background), colour(p)), (text, p, background)
    assert len({background for _, _, background, _ in shown}) > 3  # the colours really differ with p

    # hovering a token shows its probability and its ten likeliest alternatives
    hover(browser, "#out .tok:nth-of-type(3)")
    tip = wait_for(
        browser,
        "const t = document.getElementById('tip');"
        "return t.style.display === 'block' ? [t.querySelector('.head').textContent,"
        " Array.from(t.querySelectorAll('tr')).map(r => r.textContent)] : null",
    )
    hovered = streamed[
        browser.script(
            "return Array.from(document.querySelectorAll('#out .tok'))"
            ".indexOf(document.querySelector('#out .tok:nth-of-type(3)'))"
        )
    ]
    assert f"P {fmt(hovered['p'])}" in tip[0]
    assert len(tip[1]) == 10 and [row.split('"')[1] for row in tip[1]] == [json_text(t) for t, _ in hovered["top"]]
    assert all(fmt(p) in row for row, (_, p) in zip(tip[1], hovered["top"]))
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
