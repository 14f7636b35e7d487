"""The playground's HTTP API driven by a client: streaming, caps, bad JSON, unknown keys and
seeds, 404 and 405 in the same JSON shape as every other error, explain, chat, and concurrent
requests against a real uvicorn server (each stream equal to the library's for its seed)."""

from __future__ import annotations

import json
import re
import socket
import sys
import threading
import time
from contextlib import contextmanager

import pytest
from support.chatrun import QA

fastapi = pytest.importorskip("fastapi", reason="the serve extra: pip install 'glassgpt[serve]'")
httpx = pytest.importorskip("httpx")
uvicorn = pytest.importorskip("uvicorn")
from fastapi.testclient import TestClient  # noqa: E402

from glassgpt.cli import main  # noqa: E402
from glassgpt.errors import GlassError  # noqa: E402
from glassgpt.explain import explain, explain_chat  # noqa: E402
from glassgpt.generation.sampling import generate  # noqa: E402
from glassgpt.models.from_run import load_run  # noqa: E402
from glassgpt.serve.app import INSTALL, KEYS, Limits, create_app, listen_socket  # noqa: E402
from glassgpt.serve.session import chat_prompt  # noqa: E402


def events(text: str) -> list[tuple[str, dict]]:
    out = []
    for block in text.strip().split("\n\n"):
        lines = block.split("\n")
        assert lines[0].startswith("event: ") and lines[1].startswith("data: ")
        out.append((lines[0][7:], json.loads(lines[1][6:])))
    return out


@pytest.fixture(scope="module")
def base_app(base):
    run = load_run(base)
    return run, TestClient(
        create_app(
            run,
            Limits(
                max_prompt_tokens=200,
                max_new_tokens=100,
                max_prompt_chars=300,
                max_body_bytes=4000,
                max_explain_tokens=150,
            ),
        )
    )


@pytest.fixture(scope="module")
def chat_app(chat):
    run = load_run(chat)
    return run, TestClient(create_app(run))


def test_health_answers(base_app):
    run, client = base_app
    r = client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["chat"] is False and body["context"] == run.trained_context
    assert body["limits"]["max_new_tokens"] == 100 and body["defaults"]["max_tokens"] == 100


def test_the_page_is_self_contained(base_app):
    html = base_app[1].get("/").text
    assert "<script>" in html and "/api/generate" in html
    assert "http://" not in html and "https://" not in html and "@import" not in html
    assert re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)""", html) == ["data:,"]  # only the inline favicon


def test_generate_streams_the_librarys_tokens(base_app):
    run, client = base_app
    body = {"prompt": "the quick", "temperature": 0.9, "top_k": 10, "max_tokens": 30, "seed": 11}
    r = client.post("/api/generate", json=body)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    evs = events(r.text)
    tokens = [d for e, d in evs if e == "token"]
    done = evs[-1]
    assert done[0] == "done" and done[1]["tokens"] == 30 and done[1]["seed"] == 11
    prompt = run.tokenizer.encode("the quick")
    expected = generate(run.model, prompt, 30, 0.9, 10, None, seed=11, max_context=run.trained_context)[0]
    assert [t["id"] for t in tokens] == expected
    assert "".join(t["text"] for t in tokens) == done[1]["text"] == run.tokenizer.decode(expected)
    assert all(len(t["top"]) == 10 and 0 < t["p"] <= 1 for t in tokens)
    # no seed: the server picks one and reports it, and replaying it gives the same tokens
    first = events(client.post("/api/generate", json={"prompt": "the", "max_tokens": 8}).text)
    seed = first[-1][1]["seed"]
    again = events(client.post("/api/generate", json={"prompt": "the", "max_tokens": 8, "seed": seed}).text)
    assert [d["id"] for e, d in first if e == "token"] == [d["id"] for e, d in again if e == "token"]


@pytest.mark.parametrize(
    "kwargs,status,message",
    [
        (dict(content=b"{not json"), 400, "the request body is not valid JSON"),
        (dict(content=b"[1, 2]"), 400, "the request body must be a JSON object"),
        (dict(json={"prompt": 5}), 422, "prompt must be a string"),
        (dict(json={"temperature": "hot"}), 422, 'temperature must be a number, not "hot"'),
        (dict(json={"top_k": 2.5}), 422, "top_k must be a whole number, not 2.5"),
        (dict(json={"max_tokens": 101}), 422, "max_tokens must be at most 100"),
        (dict(json={"top_p": 1.5}), 422, "top_p must be in (0, 1]"),
        (dict(json={"temperature": -1}), 422, "temperature must be a finite number"),
        (dict(json={"prompt": "x" * 301}), 413, "prompt has 301 characters; the limit is 300"),
        (dict(json={"prompt": "the quick " * 25}), 413, "the prompt is 250 tokens; the limit is 200"),
        (dict(content=b'{"prompt": "' + b"a" * 4100 + b'"}'), 413, "the limit is 4,000"),
        (dict(json={"prompt": "ZZZ"}), 422, "the character 'Z'"),
    ],
)
def test_bad_requests_get_one_sentence_and_a_4xx(base_app, kwargs, status, message):
    r = base_app[1].post("/api/generate", **kwargs)
    assert r.status_code == status and message in r.json()["error"], r.text


ROUTES = ["/api/generate", "/api/chat", "/api/explain"]
HELLO = {"/api/generate": {"prompt": "the"}, "/api/chat": {"messages": [{"role": "user", "content": "hi"}]}}


@pytest.mark.parametrize("route", ROUTES)
def test_an_unknown_key_is_refused_by_name(chat_app, route):
    body = {**HELLO.get(route, {"text": "the quick"}), "temprature": 0.5}  # a misspelt setting is never ignored
    r = chat_app[1].post(route, json=body)
    assert r.status_code == 422, r.text
    assert r.json() == {"error": f"unknown key 'temprature' in the request; {route} reads {', '.join(KEYS[route])}."}


@pytest.mark.parametrize("route", ["/api/generate", "/api/chat"])
@pytest.mark.parametrize(
    "seed,message",
    [
        (-1, "seed must be a whole number from 0 to 4294967295, got -1."),
        (2.5, "seed must be a whole number from 0 to 4294967295, got 2.5."),
        ("7", "seed must be a whole number from 0 to 4294967295, got 7."),
        (True, "seed must be a whole number, not true."),
        (2**32, "seed must be a whole number from 0 to 4294967295, got 4294967296."),
    ],
)
def test_a_seed_that_is_not_a_whole_number_from_0_is_refused(chat_app, route, seed, message):
    r = chat_app[1].post(route, json={**HELLO[route], "seed": seed, "max_tokens": 2})
    assert r.status_code == 422 and r.json() == {"error": message}, r.text


def test_explain_takes_no_seed(chat_app):
    r = chat_app[1].post("/api/explain", json={"text": "the quick", "seed": 3})
    assert r.status_code == 422 and r.json()["error"].startswith("unknown key 'seed' in the request; /api/explain")


def test_the_largest_seed_still_streams(chat_app):
    r = chat_app[1].post("/api/generate", json={"prompt": "the", "seed": 2**32 - 1, "max_tokens": 3})
    event, done = events(r.text)[-1]
    assert r.status_code == 200 and event == "done" and done["seed"] == 2**32 - 1 and done["tokens"] == 3


def test_404_and_405_are_json_errors_like_the_others(base_app):
    client = base_app[1]
    missing = client.get("/api/nothing")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/json"
    assert missing.json() == {
        "error": "there is no /api/nothing here; the playground answers GET /, GET /health, "
        "POST /api/generate, POST /api/chat and POST /api/explain."
    }
    wrong = client.get("/api/generate")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
    assert wrong.json() == {"error": "GET /api/generate is not allowed; /api/generate takes POST."}
    assert client.post("/health").json() == {"error": "POST /health is not allowed; /health takes GET."}


def test_chat_needs_a_fine_tuned_run_and_streams_until_the_end_token(base_app, chat_app):
    assert base_app[1].post("/api/chat", json={"messages": [{"role": "user", "content": "hi"}]}).status_code == 409
    run, client = chat_app
    messages = [{"role": "user", "content": QA[0][0]}]
    evs = events(client.post("/api/chat", json={"messages": messages, "temperature": 0, "max_tokens": 40}).text)
    tokens = [d for e, d in evs if e == "token"]
    prompt, stops = chat_prompt(run.tokenizer, messages)
    expected = generate(run.model, prompt, 40, 0.0, stop_ids=stops, max_context=run.trained_context)[0]
    assert [t["id"] for t in tokens] == expected
    assert tokens[-1]["stop"] is True and tokens[-1]["text"] == ""
    assert evs[-1][1]["text"] == run.tokenizer.decode(expected[:-1])
    bad = client.post("/api/chat", json={"messages": [{"role": "bot", "content": "hi"}]})
    assert bad.status_code == 422 and "unknown role 'bot'" in bad.json()["error"]
    ends = client.post("/api/chat", json={"messages": messages + [{"role": "assistant", "content": "x"}]})
    assert ends.status_code == 422 and "end with a user message" in ends.json()["error"]
    assert client.post("/api/chat", json={"messages": []}).status_code == 422


def test_explain_gives_the_same_numbers_as_glassgpt_explain(base_app, chat_app):
    run, client = base_app
    r = client.post("/api/explain", json={"text": "the lazy dog.", "top_k": 4})
    assert r.status_code == 200
    assert r.json() == json.loads(
        json.dumps(explain(run.model, run.tokenizer, "the lazy dog.", 4, run.trained_context))
    )
    assert client.post("/api/explain", json={"text": ""}).status_code == 422
    assert client.post("/api/explain", json={"text": "the quick " * 16}).status_code == 413
    assert client.post("/api/explain", json={"text": "ok", "top_k": 99}).status_code == 422
    run, client = chat_app
    messages = [{"role": "user", "content": QA[1][0]}, {"role": "assistant", "content": QA[1][1]}]
    r = client.post("/api/explain", json={"messages": messages})
    expected = explain_chat(run.model, run.tokenizer, messages, 10, run.trained_context)
    assert r.json()["response_loss"] == pytest.approx(expected["response_loss"], rel=1e-12)
    assert [t["counts"] for t in r.json()["tokens"]] == [t["counts"] for t in expected["tokens"]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def live_server(app):
    """A real uvicorn server on 127.0.0.1 in a thread, stopped even when the test fails."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=_free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(15)


def test_concurrent_streams_do_not_corrupt_each_other(base):
    run = load_run(base)
    prompts = ["the quick", "pack my box", "how", "the lazy dog", "jumps", "five dozen", "t", "brown fox"]
    results, spans, errors = {}, {}, []

    def client(i: int, url: str) -> None:
        try:
            body = {"prompt": prompts[i], "temperature": 1.0, "top_k": 20, "max_tokens": 40, "seed": 100 + i}
            start = time.monotonic()
            with httpx.Client(timeout=120) as c, c.stream("POST", url + "/api/generate", json=body) as r:
                text = "".join(r.iter_text())
            spans[i] = (start, time.monotonic())
            results[i] = [d["id"] for e, d in events(text) if e == "token"]
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))

    with live_server(create_app(run)) as url:
        threads = [threading.Thread(target=client, args=(i, url)) for i in range(len(prompts))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
    assert not errors, errors
    for i, prompt in enumerate(prompts):
        expected = generate(
            run.model, run.tokenizer.encode(prompt), 40, 1.0, 20, None, seed=100 + i, max_context=run.trained_context
        )[0]
        assert results[i] == expected, i
    assert max(s for s, _ in spans.values()) < min(e for _, e in spans.values())  # they really overlapped


def test_a_missing_fastapi_is_one_sentence(base, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "fastapi", None)
    with pytest.raises(GlassError, match="pip install 'glassgpt\\[serve\\]'"):
        create_app(load_run(base))
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    assert main(["serve", str(base), "--port", str(_free_port())]) == 2
    assert capsys.readouterr().err.strip() == f"error: {INSTALL}."


def test_a_taken_port_is_one_sentence():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(GlassError, match=f"cannot listen on 127.0.0.1:{port} .*; choose another --port"):
            listen_socket("127.0.0.1", port)
    with listen_socket("127.0.0.1", 0) as free:  # port 0: the system picks one, and the socket says which
        assert free.getsockname()[1] > 0
