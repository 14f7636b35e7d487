"""``glassgpt serve``: the local web playground, a FastAPI app on uvicorn (``pip install 'glassgpt[serve]'``).

Routes (every error is JSON ``{"error": "<one sentence>"}`` with a 4xx status):

=====================  =============================================================================
``GET /``              the playground page (one self-contained HTML file: no network, works offline)
``GET /health``        ``{"status": "ok", "run", "chat", "context", "vocab_size", "limits", "defaults"}``
``POST /api/generate`` ``{"prompt", "temperature", "top_k", "top_p", "max_tokens", "seed"}`` -> a stream of
                       server-sent events: ``token`` (``id``, ``text`` it adds, ``token``, ``p`` under the
                       model, ``p_sample`` under the sampling distribution, ``top``: the 10 likeliest
                       ``[token, p]``, ``stop``, ``special``: a special token adds no text), then ``done`` (``text``, ``tokens``, ``seed``, ``seconds``; with tool calls ``content``: the reply's parts)
``POST /api/chat``     ``{"messages": [...], settings}``: the same stream for the assistant's next reply,
                       ending at ``<|assistant_end|>`` (or any other chat token)
                       (runs fine-tuned for chat only: 409 otherwise)
``POST /api/explain``  ``{"text"}`` or ``{"messages"}``, ``top_k``: ``glassgpt explain --json``'s numbers
=====================  =============================================================================

Both streams also take one constraint, ``"regex"``, ``"choices"`` (a list or ``"A|B|C"``) or
``"json_schema"`` (the schema object): the reply matches it (``generation.constraints``; 422 when
it is not valid, or no reply within ``max_tokens`` can match).  A run with the tool tokens runs
its model's calculator calls; a token the program wrote (a call's output) has ``"forced": true``
and the page shows a call and its output in one box, apart from the text.

Statuses: 400 when the body is not a JSON object; 422 for a key or value that is wrong (an
unknown key, a wrong type, a setting out of range, a seed that is not a whole number from 0);
413 over a cap (``Limits``: the request body, the prompt / explained text in characters and
tokens; ``max_tokens`` over its cap is 422); 404 and 405 for a path or method the playground
does not have.  Every request gets its own generator, KV cache and token buffer;
model steps are serialised by one lock (``streaming.stream_tokens(lock=...)``), so
concurrent streams interleave token by token and never share state.  A request without a
seed gets a random one, reported in its ``done`` event so it can be replayed.

``serve`` binds the socket itself (so ``--port 0`` announces the port it got) and runs uvicorn
in a thread, the main thread keeping SIGINT and SIGTERM: either one (once or more) ends the
open streams after their current token, stops the server (a request still running after
``GRACE`` seconds is cut off) and prints one line.
"""

import json
import secrets
import signal
import socket
import threading
import time
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

from glassgpt.config import check_seed
from glassgpt.data.conversations import parse_conversation
from glassgpt.errors import DataError, GlassError
from glassgpt.explain import explain_chat, explain_text
from glassgpt.generation.constraints import make_constraint
from glassgpt.generation.sampling import DEFAULTS, SamplingSettings
from glassgpt.generation.tools import reply_content
from glassgpt.models.from_run import LoadedRun, load_run
from glassgpt.serve.session import chat_prompt, completion_ids, prompt_budget, row_steer, stream_text
from glassgpt.tokenizers.chat_template import is_chat_tokenizer, tool_tokens

INSTALL = "glassgpt serve needs FastAPI and uvicorn; install them with: pip install 'glassgpt[serve]'"


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 256_000
    max_prompt_chars: int = 20_000
    max_prompt_tokens: int = 4_096
    max_new_tokens: int = 1_024
    max_explain_tokens: int = 2_048
    top: int = 10  # alternatives sent with every token


#: the keys each route reads; any other key is refused (a misspelt setting would be ignored otherwise)
SETTINGS_KEYS = ("temperature", "top_k", "top_p", "max_tokens", "seed", "regex", "choices", "json_schema")
KEYS = {
    "/api/generate": ("prompt", *SETTINGS_KEYS),
    "/api/chat": ("messages", *SETTINGS_KEYS),
    "/api/explain": ("text", "messages", "top_k"),
}
#: what the playground answers, for the 404 sentence
ROUTES = "GET /, GET /health, POST /api/generate, POST /api/chat and POST /api/explain"
#: seconds a stopping server waits for its connections to close before it stops without them
GRACE = 5.0


class RequestError(Exception):
    """A bad request: ``status`` and one sentence."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def page() -> str:
    """The playground's HTML."""
    return resources.files("glassgpt.serve").joinpath("static/playground.html").read_text(encoding="utf-8")


class Playground:
    """What the routes do, without the web framework (so it is easy to read and to test)."""

    def __init__(self, run: LoadedRun, limits: Limits = Limits()):
        self.run, self.limits = run, limits
        self.chat = is_chat_tokenizer(run.tokenizer)
        self.lock = threading.Lock()  # one model step at a time
        self.closing = threading.Event()  # set when the server stops: open streams end after their token

    def health(self) -> dict:
        return {
            "status": "ok",
            "run": self.run.run_dir.name,
            "chat": self.chat,
            "context": self.run.trained_context,
            "vocab_size": self.run.tokenizer.vocab_size,
            "limits": asdict(self.limits),
            "defaults": {
                "temperature": DEFAULTS.temperature,
                "top_k": DEFAULTS.top_k,
                "top_p": DEFAULTS.top_p,
                "max_tokens": min(DEFAULTS.max_new_tokens, self.limits.max_new_tokens),
            },
        }

    # ---- reading requests ---------------------------------------------------------------------
    def parse(self, raw: bytes, route: str) -> dict:
        """The JSON object of a request to ``route``; one sentence for anything else, or a key
        the route does not read."""
        if len(raw) > self.limits.max_body_bytes:
            raise RequestError(
                413, f"the request body is {len(raw):,} bytes; the limit is {self.limits.max_body_bytes:,}."
            )
        try:
            body = json.loads(raw.decode("utf-8") or "null")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RequestError(400, f"the request body is not valid JSON ({exc.__class__.__name__}).") from None
        if not isinstance(body, dict):
            raise RequestError(400, "the request body must be a JSON object.")
        unknown = [key for key in body if key not in KEYS[route]]
        if unknown:
            raise RequestError(
                422, f"unknown key {unknown[0]!r} in the request; {route} reads {', '.join(KEYS[route])}."
            )
        return body

    def settings(self, body: dict) -> tuple[SamplingSettings, int]:
        def get(key, kind, default):
            value = body.get(key, default)
            if value is None:
                return None
            if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
                raise RequestError(
                    422, f"{key} must be {'a whole number' if kind is int else 'a number'}, not {json.dumps(value)}."
                )
            return kind(value)

        max_tokens = get("max_tokens", int, self.health()["defaults"]["max_tokens"])
        if max_tokens is None or max_tokens > self.limits.max_new_tokens:
            raise RequestError(422, f"max_tokens must be at most {self.limits.max_new_tokens}.")
        settings = SamplingSettings(
            max_tokens,
            get("temperature", float, DEFAULTS.temperature),
            get("top_k", int, DEFAULTS.top_k),
            get("top_p", float, DEFAULTS.top_p),
        )
        try:
            settings.check()
        except GlassError as exc:
            raise RequestError(422, str(exc)) from None
        seed = body.get("seed")
        try:
            if isinstance(seed, bool):  # JSON true / false, which Python counts as 1 / 0
                raise GlassError(f"seed must be a whole number, not {json.dumps(seed)}.")
            check_seed(seed, "seed")
        except GlassError as exc:
            raise RequestError(422, str(exc)) from None
        return settings, secrets.randbelow(2**31) if seed is None else seed

    def _text(self, body: dict, key: str, allow_empty: bool) -> str:
        text = body.get(key, "")
        if not isinstance(text, str):
            raise RequestError(422, f"{key} must be a string.")
        if not text and not allow_empty:
            raise RequestError(422, f"{key} is empty; give some text.")
        if len(text) > self.limits.max_prompt_chars:
            raise RequestError(
                413, f"{key} has {len(text):,} characters; the limit is {self.limits.max_prompt_chars:,}."
            )
        return text

    def _messages(self, body: dict, require_reply: bool) -> list[dict]:
        try:
            messages = list(
                parse_conversation(
                    {"messages": body.get("messages")}, "the request's conversation", require_reply=require_reply
                ).messages
            )
        except DataError as exc:
            raise RequestError(422, str(exc)) from None
        if sum(len(m["content"]) for m in messages) > self.limits.max_prompt_chars:
            raise RequestError(413, f"the messages exceed {self.limits.max_prompt_chars:,} characters.")
        return messages

    def _check_tokens(self, ids: list[int], limit: int, what: str) -> None:
        if len(ids) > limit:
            raise RequestError(413, f"the {what} is {len(ids):,} tokens; the limit is {limit:,}.")

    # ---- the three actions ----------------------------------------------------------------------
    def start_generate(self, body: dict):
        """Check a generate request; returns the event stream (a generator of SSE strings)."""
        settings, seed = self.settings(body)
        try:
            prompt, stops = completion_ids(self.run, self._text(body, "prompt", allow_empty=True))
        except GlassError as exc:
            raise RequestError(422, str(exc)) from None
        self._check_tokens(prompt, self.limits.max_prompt_tokens, "prompt")
        return self._events(prompt, settings, seed, stops, self.steer(body, settings))

    def start_chat(self, body: dict):
        if not self.chat:
            raise RequestError(
                409, "this run has no chat tokens; fine-tune it with `glassgpt finetune` to chat with it."
            )
        messages = self._messages(body, require_reply=False)
        if messages[-1]["role"] == "assistant":
            raise RequestError(422, "the last message is the assistant's; end with a user message to get a reply.")
        settings, seed = self.settings(body)
        try:
            prompt, stop = chat_prompt(
                self.run.tokenizer, messages, prompt_budget(self.run.trained_context, settings.max_new_tokens)
            )
        except GlassError as exc:
            raise RequestError(422, str(exc)) from None
        self._check_tokens(prompt, self.limits.max_prompt_tokens, "conversation")
        return self._events(prompt, settings, seed, stop, self.steer(body, settings))

    def explain(self, body: dict) -> dict:
        top_k = body.get("top_k", 10)
        if isinstance(top_k, bool) or not isinstance(top_k, int) or not 0 <= top_k <= 50:
            raise RequestError(422, "top_k must be a whole number from 0 to 50.")
        model, tok, context = self.run.language_model, self.run.tokenizer, self.run.trained_context
        try:
            if body.get("messages") is not None:
                messages = self._messages(body, require_reply=True)
                with self.lock:
                    return explain_chat(model, tok, messages, top_k=top_k, max_context=context)
            text = self._text(body, "text", allow_empty=False)
            self._check_tokens(tok.encode(text), self.limits.max_explain_tokens, "text")
            with self.lock:
                return explain_text(self.run, text, top_k=top_k)
        except GlassError as exc:
            raise RequestError(422, str(exc)) from None

    def steer(self, body: dict, settings: SamplingSettings):
        """The request's constraint, or the run's tool loop, as a steer for one stream (422 for a
        constraint that is not valid or that no reply within max_tokens can match)."""
        try:
            schema = body.get("json_schema")
            if schema is not None and not isinstance(schema, dict):
                raise GlassError("json_schema must be a JSON schema object.")
            for key in ("regex", "choices"):
                if body.get(key) is not None and not isinstance(body[key], (str, list)):
                    raise GlassError(f"{key} must be a string.")
            constraint = make_constraint(body.get("regex"), body.get("choices"), schema)
            return row_steer(self.run, constraint, settings.max_new_tokens)(settings)
        except GlassError as exc:
            raise RequestError(422, str(exc)) from None

    def _events(self, prompt: list[int], settings: SamplingSettings, seed: int, stops: tuple[int, ...], steer=None):
        tok = self.run.tokenizer
        names: dict[int, str] = {}

        def name(i: int) -> str:
            if i not in names:
                names[i] = tok.token_str(i)
            return names[i]

        def events():
            start, pieces, count, ids = time.perf_counter(), [], 0, []
            try:
                for piece in stream_text(self.run, prompt, settings, seed, stops, self.limits.top, self.lock, steer):
                    if self.closing.is_set():
                        yield sse("error", {"error": "the server is stopping; this reply ends here."})
                        return
                    t = piece.token
                    pieces.append(piece.text)
                    if t.id < 0:  # the end of an incomplete character: text only
                        yield sse(
                            "token",
                            {
                                "id": None,
                                "text": piece.text,
                                "token": piece.text,
                                "p": None,
                                "p_sample": None,
                                "stop": False,
                                "special": False,
                                "forced": False,
                                "top": [],
                            },
                        )
                        continue
                    count += 1
                    if t.id not in stops:
                        ids.append(t.id)
                    yield sse(
                        "token",
                        {
                            "id": t.id,
                            "text": piece.text,
                            "token": name(t.id),
                            "p": t.prob,
                            "p_sample": t.sample_prob,
                            "stop": t.id in stops,
                            "special": piece.special,
                            "forced": t.forced,
                            "top": [[name(i), p] for i, p in t.top],
                        },
                    )
            except GlassError as exc:
                yield sse("error", {"error": str(exc)})
                return
            done = {"text": "".join(pieces), "tokens": count, "seed": seed, "seconds": time.perf_counter() - start}
            if tool_tokens(tok) is not None:
                done["content"] = reply_content(tok, ids)  # the reply with its tool parts, to send back
            yield sse("done", done)

        return events()


def sse(event: str, data: dict) -> str:
    """One server-sent event."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def create_app(run: LoadedRun, limits: Limits = Limits()):
    """The FastAPI application serving ``run``."""
    try:
        from fastapi import FastAPI, Request
        from fastapi.concurrency import run_in_threadpool
        from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
    except ImportError:
        raise GlassError(INSTALL + ".") from None
    play = Playground(run, limits)
    app = FastAPI(title="glassgpt playground", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.playground = play

    @app.exception_handler(RequestError)
    async def request_error(request, exc: RequestError):
        return JSONResponse({"error": str(exc)}, status_code=exc.status)

    @app.exception_handler(404)
    async def not_found(request, exc):
        """The framework's own 404, in the playground's ``{"error": ...}`` shape."""
        message = f"there is no {request.url.path} here; the playground answers {ROUTES}."
        return JSONResponse({"error": message}, status_code=404)

    @app.exception_handler(405)
    async def wrong_method(request, exc):
        """The framework's own 405 (its ``Allow`` header kept), in the same shape."""
        headers = getattr(exc, "headers", None) or {}
        allowed = {k.lower(): v for k, v in headers.items()}.get("allow", "other methods")
        message = f"{request.method} {request.url.path} is not allowed; {request.url.path} takes {allowed}."
        return JSONResponse({"error": message}, status_code=405, headers=headers)

    @app.get("/", response_class=HTMLResponse)
    def index():
        return HTMLResponse(page())

    @app.get("/health")
    def health():
        return play.health()

    def stream(events):
        return StreamingResponse(
            events, media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )

    @app.post("/api/generate")
    async def generate(request: Request):
        return stream(play.start_generate(play.parse(await request.body(), "/api/generate")))

    @app.post("/api/chat")
    async def chat(request: Request):
        return stream(play.start_chat(play.parse(await request.body(), "/api/chat")))

    @app.post("/api/explain")
    async def explain_route(request: Request):
        body = play.parse(await request.body(), "/api/explain")
        return await run_in_threadpool(play.explain, body)

    return app


def serve(
    run: LoadedRun | str | Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    limits: Limits = Limits(),
    device: str = "cpu",
    log_level: str = "warning",
    announce=print,
) -> None:
    """Serve a run (a directory or a ``LoadedRun``) until SIGINT or SIGTERM, then ``announce``
    one line and return.  Checks first that FastAPI and uvicorn are installed and takes the
    port (``port`` 0: a free one, announced), then opens the run."""
    try:
        import uvicorn
    except ImportError:
        raise GlassError(INSTALL + ".") from None
    with ShutdownSignals() as stop:
        sock = listen_socket(host, port)
        try:
            if not isinstance(run, LoadedRun):
                run = load_run(run, device)
            app = create_app(run, limits)
            server = uvicorn.Server(uvicorn.Config(app, log_level=log_level, lifespan="off"))
            failed: list[BaseException] = []

            def run_server() -> None:
                try:
                    server.run(sockets=[sock])
                except BaseException as exc:  # noqa: BLE001 - handed to the main thread
                    failed.append(exc)

            thread = threading.Thread(target=run_server, name="glassgpt-serve")
            thread.start()
            try:
                announce(f"glassgpt playground for {run.run_dir}: {url_of(sock)}  (Ctrl-C stops)")
                while thread.is_alive() and not stop.name:
                    time.sleep(0.05)
            finally:
                _shut_down(server, thread, app.state.playground)
        finally:
            sock.close()
    if failed:
        raise failed[0]
    announce(f"glassgpt playground stopped ({stop.name or 'the server ended'}).")


def _shut_down(server, thread: threading.Thread, play: Playground) -> None:
    """End the open streams after their current token, stop the server and wait for it (a
    request still running after ``GRACE`` seconds is cut off)."""
    play.closing.set()
    server.should_exit = True
    deadline = time.monotonic() + GRACE
    while thread.is_alive():
        if time.monotonic() > deadline:
            server.force_exit = True
        time.sleep(0.05)


class ShutdownSignals:
    """``with ShutdownSignals() as stop:`` notes SIGINT and SIGTERM (``name``: the first one's)
    instead of letting them raise or kill, and puts the previous handlers back after.  Outside
    the main thread, where Python cannot install handlers, it notes nothing.  (A
    training run's ``training.stopping.StopSignals`` raises on a second Ctrl-C instead: a
    server has no step to finish, so every signal only asks it to stop sooner.)"""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.name = ""
        self._previous: dict[int, object] = {}

    def __enter__(self) -> "ShutdownSignals":
        for signum in self.SIGNALS:
            try:
                self._previous[signum] = signal.signal(signum, self._handle)
            except ValueError:  # not the main thread
                break
        return self

    def __exit__(self, *exc) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)

    def _handle(self, signum, frame) -> None:
        self.name = self.name or signal.Signals(signum).name


def listen_socket(host: str, port: int) -> socket.socket:
    """A socket listening on ``host:port`` (``port`` 0: a free one), or one sentence when that
    address cannot be listened on (taken, or not an address of this machine)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except (OSError, OverflowError) as exc:
        sock.close()
        reason = getattr(exc, "strerror", None) or str(exc)
        raise GlassError(f"cannot listen on {host}:{port} ({reason}); choose another --port or --host.") from None
    return sock


def url_of(sock: socket.socket) -> str:
    """The playground's address on a listening socket, with the port it really got."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if sock.family == socket.AF_INET6 else f"http://{host}:{port}/"
