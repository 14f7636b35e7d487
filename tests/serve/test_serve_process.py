"""``glassgpt serve`` as a real process on 127.0.0.1: ``--port 0`` announces the port it got,
and SIGINT or SIGTERM stops it with one line and exit status 0, however the signal falls
(right after /health answers, a moment later, twice, or in the middle of a stream).  Every
process is killed when the test ends, failed or not (the ``processes`` fixture)."""

from __future__ import annotations

import json
import re
import signal
import threading
import time
import urllib.error
import urllib.request

import pytest
from support.runs import wait_until

pytest.importorskip("fastapi", reason="the serve extra: pip install 'glassgpt[serve]'")
pytest.importorskip("uvicorn", reason="the serve extra: pip install 'glassgpt[serve]'")
pytestmark = pytest.mark.slow

ANNOUNCE = re.compile(r"^glassgpt playground for .+: http://127\.0\.0\.1:(\d+)/  \(Ctrl-C stops\)$")


def start(processes, run):
    """A server on a free port; (process, its URL) once /health answers."""
    proc = processes.start("serve", run, "--port", "0", "--threads", "1")
    line = proc.stdout.readline().rstrip("\n")
    match = ANNOUNCE.match(line)
    assert match, f"the first line was {line!r}; stderr: {proc.stderr.read() if proc.poll() is not None else ''}"
    url = f"http://127.0.0.1:{match.group(1)}"
    wait_until(lambda: health(url), proc, timeout=60, what="/health")
    return proc, url


def health(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=5) as r:
            return json.loads(r.read())["status"] == "ok"
    except (urllib.error.URLError, ConnectionError, OSError):
        return False


def stopped(proc, name: str) -> None:
    """The process ends with status 0 and one line saying it stopped: no traceback, nothing else."""
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert err == "", err
    assert out.splitlines() == [f"glassgpt playground stopped ({name})."], out


def test_port_0_announces_the_port_it_listens_on(processes, base):
    proc, url = start(processes, base)
    with urllib.request.urlopen(url + "/health", timeout=10) as r:
        body = json.loads(r.read())
    assert body["status"] == "ok" and body["run"] == base.name
    proc.send_signal(signal.SIGTERM)
    stopped(proc, "SIGTERM")


#: (signal, seconds after /health answered, how many times): four stops of each kind
STOPS = [(sig, delay, times) for sig in ("SIGINT", "SIGTERM") for delay in (0.0, 0.05) for times in (1, 2)]


def test_every_stop_is_one_line_and_exit_status_0(processes, base):
    for batch in range(0, len(STOPS), 4):  # four servers at a time
        servers = [(start(processes, base)[0], stop) for stop in STOPS[batch : batch + 4]]
        for proc, (name, delay, times) in servers:
            time.sleep(delay)
            for _ in range(times):
                proc.send_signal(getattr(signal, name))
        for proc, (name, _, _) in servers:
            stopped(proc, name)


def test_a_stop_ends_an_open_stream_after_its_current_token(processes, base):
    proc, url = start(processes, base)
    request = urllib.request.Request(
        url + "/api/generate",
        data=json.dumps({"prompt": "the", "max_tokens": 1024, "seed": 1}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    seen: list[str] = []
    with urllib.request.urlopen(request, timeout=60) as stream:
        reader = threading.Thread(target=lambda: seen.extend(line.decode() for line in stream))
        reader.start()
        wait_until(lambda: sum(line.startswith("event: token") for line in seen) >= 3, proc, what="three tokens")
        proc.send_signal(signal.SIGINT)
        reader.join(60)
    stopped(proc, "SIGINT")
    events = [line.strip() for line in seen if line.startswith("event: ")]
    assert events[-1] == "event: error" and "event: done" not in events
    assert "the server is stopping; this reply ends here." in seen[-2]
    assert 3 <= len(events) - 1 < 1024  # it stopped early, not after the whole reply
