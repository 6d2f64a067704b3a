"""A scripted OpenAI chat-completions server on loopback, for tests.

    with ChatServer(lambda req, i: completion("hi")) as srv:
        client = openai.OpenAI(base_url=srv.base_url, api_key="x")

It binds 127.0.0.1 on an ephemeral port only, serves POST /v1/chat/completions and
/chat/completions from daemon threads, records every request, and stops at context exit (pending
delayed replies are woken up and dropped).
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

CHAT_PATHS = ("/v1/chat/completions", "/chat/completions")


@dataclass
class Reply:
    status: int = 200
    json: dict | list | None = None
    text: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


Responder = Callable[[dict, int], Reply]


def completion(text: str, prompt_tokens: int = 11, completion_tokens: int = 7, model: str = "test-model") -> Reply:
    """A valid `chat.completion` body."""
    return Reply(json={
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                     "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    })


def error(status: int, message: str = "error", type_: str = "invalid_request_error",
          headers: dict[str, str] | None = None) -> Reply:
    return Reply(status=status, json={"error": {"message": message, "type": type_, "code": None, "param": None}},
                 headers=dict(headers or {}))


def rate_limited(retry_after_s: float | str | None = 1) -> Reply:
    """429; `retry_after_s` goes into Retry-After as is (a number or an HTTP-date), None for none."""
    headers = {} if retry_after_s is None else {"Retry-After": str(retry_after_s)}
    return error(429, "rate limit exceeded", "rate_limit_exceeded", headers)


def server_error(status: int = 500) -> Reply:
    return error(status, "internal server error", "server_error")


def slow(reply: Reply, delay_s: float) -> Reply:
    return replace(reply, delay_s=delay_s)


def malformed_json(content_type: str = "application/json") -> Reply:
    """200 whose body is not JSON (by default while claiming to be)."""
    return Reply(text="<html>upstream proxy error{", headers={"Content-Type": content_type})


def empty_choices() -> Reply:
    body = completion("x").json
    body["choices"] = []
    return Reply(json=body)


def null_content() -> Reply:
    body = completion("x").json
    body["choices"][0]["message"]["content"] = None
    return Reply(json=body)


@dataclass
class Call:
    index: int
    path: str
    headers: dict[str, str]
    json: Any
    t: float


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def handle_error(self, request, client_address):  # client went away (timeout test): be quiet
        pass


class ChatServer:
    def __init__(self, responder: Responder):
        self.responder = responder
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._stopping = threading.Event()
        self._conns: set[socket.socket] = set()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> "ChatServer":
        if self._httpd is not None:
            return self
        self._httpd = _Server(("127.0.0.1", 0), self._make_handler())
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="chat-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:  # kept-alive connections: wake their handler threads so they end now
            conns, self._conns = list(self._conns), set()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> "ChatServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- inspection ------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    # --- handler ---------------------------------------------------------------------------------

    def _make_handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 30  # an idle kept-alive connection never pins a thread for long

            def setup(self):
                super().setup()
                with server._lock:
                    server._conns.add(self.connection)

            def finish(self):
                try:
                    super().finish()
                finally:
                    with server._lock:
                        server._conns.discard(self.connection)

            def log_message(self, format, *args):  # keep test output clean
                pass

            def _send(self, reply: Reply) -> None:
                if reply.json is not None:
                    body = json.dumps(reply.json).encode()
                    ctype = "application/json"
                else:
                    body = (reply.text or "").encode()
                    ctype = "text/plain; charset=utf-8"
                headers = {"Content-Type": ctype} | dict(reply.headers)
                self.send_response(reply.status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()

            def do_GET(self):
                self._send(error(404, f"no route {self.path}", "not_found"))

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                if path not in CHAT_PATHS:
                    self._send(error(404, f"no route {path}", "not_found"))
                    return
                try:
                    payload = json.loads(raw or b"null")
                except ValueError:
                    self._send(error(400, "request body is not JSON"))
                    return
                with server._lock:
                    index = len(server._calls)
                    server._calls.append(Call(index, path, {k.lower(): v for k, v in self.headers.items()},
                                              payload, time.monotonic()))
                try:
                    reply = server.responder(payload, index)
                except Exception as e:  # a broken script is a 500, visible in the test
                    reply = error(500, f"responder raised {type(e).__name__}: {e}", "server_error")
                if reply.delay_s > 0 and server._stopping.wait(reply.delay_s):
                    self.close_connection = True
                    return
                self._send(reply)

        return Handler


__all__ = ["CHAT_PATHS", "Call", "ChatServer", "Reply", "completion", "empty_choices", "error",
           "malformed_json", "null_content", "rate_limited", "server_error", "slow"]
