"""One chat client for every OpenAI-compatible endpoint (OpenRouter, vLLM, OpenAI), via `openai`.

The SDK's own retries are switched off (`max_retries=0`): this module owns the retry policy so that
every HTTP request, retry, failure, token and dollar is counted in a `UsageMeter`.

Policy (per `RoleSettings`):
- retried up to `max_retries` times: 429 (honouring `Retry-After`, seconds or HTTP-date, capped at
  `backoff_max_s`), 5xx, time-outs and connection errors; otherwise exponential backoff from
  `backoff_base_s` with full jitter, capped at `backoff_max_s`;
- never retried: other 4xx (`bad_request`, or `auth` for 401/403) and a 200 whose body is not a
  usable chat completion (`malformed`: the caller counts that as a failed attempt);
- at most `max_concurrency` HTTP requests in flight per client (the semaphore is not held while
  backing off).

The API key comes from the environment variable named by `RoleSettings.api_key_env` and never
appears in a message, a log line or the meter.
"""

from __future__ import annotations

import email.utils
import logging
import os
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

import openai

from srl_pipeline.collaboration.settings import RoleSettings

log = logging.getLogger(__name__)

ERROR_KINDS = ("rate_limited", "server_error", "timeout", "connection", "bad_request", "malformed", "auth")
RETRYABLE_KINDS = frozenset({"rate_limited", "server_error", "timeout", "connection"})


class LLMError(Exception):
    """A chat call that failed for good. `kind` is one of ERROR_KINDS; `attempts` is the number of
    HTTP requests made (0 when it failed before any, e.g. a missing key); `status` the last HTTP
    status if there was one."""

    def __init__(self, message: str, *, kind: str, attempts: int = 0, status: int | None = None):
        if kind not in ERROR_KINDS:
            raise ValueError(f"unknown LLMError kind {kind!r}")
        super().__init__(message)
        self.kind = kind
        self.attempts = attempts
        self.status = status

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE_KINDS

    def __str__(self) -> str:
        return f"[{self.kind}, attempts={self.attempts}] {super().__str__()}"


@dataclass
class ChatResult:
    text: str
    prompt_tokens: int
    completion_tokens: int
    retries: int
    latency_s: float  # wall time of the whole `complete()` call, retries and backoff included


class UsageMeter:
    """Thread-safe per-role counters. `calls` counts HTTP requests; `retries` the re-sent ones;
    `failures` the calls that ended in an LLMError; `by_error_kind` every failed HTTP request (or
    pre-flight failure) by kind, whether or not it was retried afterwards."""

    _FIELDS = ("calls", "retries", "failures", "prompt_tokens", "completion_tokens")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._roles: dict[str, dict[str, Any]] = {}

    def _role(self, role: str) -> dict[str, Any]:
        r = self._roles.get(role)
        if r is None:
            r = {f: 0 for f in self._FIELDS} | {"successes": 0, "cost_usd": 0.0, "by_error_kind": Counter()}
            self._roles[role] = r
        return r

    def record_call(self, role: str) -> None:
        with self._lock:
            self._role(role)["calls"] += 1

    def record_retry(self, role: str) -> None:
        with self._lock:
            self._role(role)["retries"] += 1

    def record_error(self, role: str, kind: str) -> None:
        with self._lock:
            self._role(role)["by_error_kind"][kind] += 1

    def record_failure(self, role: str) -> None:
        with self._lock:
            self._role(role)["failures"] += 1

    def record_success(self, role: str, prompt_tokens: int, completion_tokens: int, cost_usd: float) -> None:
        with self._lock:
            r = self._role(role)
            r["successes"] += 1
            r["prompt_tokens"] += prompt_tokens
            r["completion_tokens"] += completion_tokens
            r["cost_usd"] += cost_usd

    def snapshot(self) -> dict[str, dict]:
        with self._lock:
            return {role: {k: (dict(sorted(v.items())) if k == "by_error_kind" else
                               round(v, 8) if k == "cost_usd" else v)
                           for k, v in r.items()}
                    for role, r in sorted(self._roles.items())}


def cost_usd(settings: RoleSettings, prompt_tokens: int, completion_tokens: int) -> float:
    return (prompt_tokens / 1000.0 * settings.usd_per_1k_prompt_tokens
            + completion_tokens / 1000.0 * settings.usd_per_1k_completion_tokens)


def parse_retry_after(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds to wait from `Retry-After` (delta-seconds or HTTP-date) or `retry-after-ms`; None if
    absent or unparsable. Never negative."""
    if not headers:
        return None
    get = headers.get
    ms = get("retry-after-ms") or get("Retry-After-Ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = get("retry-after") or get("Retry-After")
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now_dt = datetime.fromtimestamp(time.time() if now is None else now, tz=timezone.utc)
    return max(0.0, (when - now_dt).total_seconds())


class _Attempt(Exception):
    """One failed HTTP attempt (internal)."""

    def __init__(self, kind: str, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.kind, self.message, self.status, self.retry_after = kind, message, status, retry_after


class ChatClient:
    """Chat completions for one role against one OpenAI-compatible endpoint."""

    def __init__(self, settings: RoleSettings, role: str, meter: UsageMeter, api_key: str | None = None,
                 sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None):
        self.settings = settings
        self.role = role
        self.meter = meter
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()
        if api_key is None:
            api_key = os.environ.get(settings.api_key_env) or None
        if not api_key:
            meter.record_error(role, "auth")
            meter.record_failure(role)
            raise LLMError(f"no API key for role {role!r}: environment variable {settings.api_key_env} is not set",
                           kind="auth", attempts=0)
        self._secret = api_key  # only used to redact messages
        self._client = openai.OpenAI(base_url=settings.base_url, api_key=api_key, timeout=settings.timeout_s,
                                     max_retries=0)
        self._semaphore = threading.BoundedSemaphore(max(1, int(settings.max_concurrency)))

    def __repr__(self) -> str:
        return f"ChatClient(role={self.role!r}, base_url={self.settings.base_url!r}, model={self.settings.model!r})"

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "ChatClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- internals -------------------------------------------------------------------------------

    def _redact(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret and self._secret in text else text

    def _backoff(self, retry_index: int) -> float:
        s = self.settings
        ceiling = min(s.backoff_max_s, s.backoff_base_s * (2 ** retry_index))
        with self._rng_lock:
            return self._rng.uniform(0.0, max(0.0, ceiling))

    def _one_request(self, params: dict[str, Any]) -> tuple[str, int, int]:
        """One HTTP request; returns (text, prompt_tokens, completion_tokens) or raises _Attempt.

        The _Attempt is raised outside the `except` blocks so that no SDK exception (which holds the
        request, Authorization header included) stays reachable through __context__."""
        failed: _Attempt | None = None
        with self._semaphore:
            self.meter.record_call(self.role)
            try:
                resp = self._client.chat.completions.create(**params)
            except openai.APITimeoutError:
                failed = _Attempt("timeout", f"request timed out after {self.settings.timeout_s}s")
            except openai.APIConnectionError as e:
                cause = type(e.__cause__).__name__ if e.__cause__ else "unknown"
                failed = _Attempt("connection", f"connection error ({cause})")
            except openai.APIStatusError as e:
                failed = _status_attempt(e.status_code, _error_detail(e.body), e.response.headers)
            except openai.APIResponseValidationError as e:
                failed = _Attempt("malformed", f"response failed validation: {e.message}", e.status_code)
            except ValueError as e:  # a JSON content type whose body does not decode
                failed = _Attempt("malformed", f"response body is not valid JSON ({type(e).__name__})", 200)
        if failed is not None:
            failed.message = self._redact(failed.message)
            failed.args = (failed.message,)
            raise failed
        return _extract(resp)

    # --- public ----------------------------------------------------------------------------------

    def complete(self, messages: list[dict], **extra: Any) -> ChatResult:
        """One chat completion with retries. `extra` is passed to `chat.completions.create` (and may
        override temperature / max_tokens)."""
        s = self.settings
        params: dict[str, Any] = {"model": s.model, "messages": messages, "temperature": s.temperature,
                                  "max_tokens": s.max_tokens} | extra
        t0 = time.monotonic()
        attempts = 0
        max_attempts = max(0, int(s.max_retries)) + 1
        while True:
            attempts += 1
            try:
                text, pt, ct = self._one_request(params)
            except _Attempt as a:
                self.meter.record_error(self.role, a.kind)
                message = a.message  # already redacted
                if a.kind in RETRYABLE_KINDS and attempts < max_attempts:
                    if a.kind == "rate_limited" and a.retry_after is not None:
                        delay = min(a.retry_after, s.backoff_max_s)
                    else:
                        delay = self._backoff(attempts - 1)
                    log.info("llm %s: %s; retry %d/%d in %.2fs", self.role, message, attempts, s.max_retries, delay)
                    self.meter.record_retry(self.role)
                    if delay > 0:
                        self._sleep(delay)
                    continue
                self.meter.record_failure(self.role)
                if a.kind in RETRYABLE_KINDS:
                    message = f"{message} (gave up after {attempts} attempt(s))"
                raise LLMError(f"{self.role} ({s.model} @ {s.base_url}): {message}", kind=a.kind,
                               attempts=attempts, status=a.status) from None
            self.meter.record_success(self.role, pt, ct, cost_usd(s, pt, ct))
            return ChatResult(text=text, prompt_tokens=pt, completion_tokens=ct, retries=attempts - 1,
                              latency_s=time.monotonic() - t0)


def _status_attempt(status: int, detail: str, headers: Mapping[str, str]) -> _Attempt:
    if status == 429:
        return _Attempt("rate_limited", f"HTTP 429 rate limited{detail}", status, parse_retry_after(headers))
    if status >= 500:
        return _Attempt("server_error", f"HTTP {status}{detail}", status)
    if status in (401, 403):
        return _Attempt("auth", f"HTTP {status} authentication/permission refused{detail}", status)
    return _Attempt("bad_request", f"HTTP {status}{detail}", status)


def _error_detail(body: object) -> str:
    msg = None
    if isinstance(body, dict):
        err = body.get("error", body)
        msg = err.get("message") if isinstance(err, dict) else err
    elif isinstance(body, str):
        msg = body
    if not msg:
        return ""
    msg = str(msg).replace("\n", " ")
    return f": {msg[:200]}"


def _extract(resp: Any) -> tuple[str, int, int]:
    """Validate a parsed response; raise _Attempt('malformed') if it is not a usable completion."""
    if isinstance(resp, (str, bytes)):  # the SDK hands back the text of a non-JSON content type
        raise _Attempt("malformed", "response is not JSON", 200)
    choices = getattr(resp, "choices", None)
    if not isinstance(choices, list) or not choices:
        raise _Attempt("malformed", "response has no choices", 200)
    message = getattr(choices[0], "message", None)
    content = getattr(message, "content", None)
    if isinstance(message, dict):
        content = message.get("content")
    if not isinstance(content, str) or not content.strip():
        raise _Attempt("malformed", "response choice has no text content", 200)
    usage = getattr(resp, "usage", None)
    pt = _as_int(getattr(usage, "prompt_tokens", 0))
    ct = _as_int(getattr(usage, "completion_tokens", 0))
    return content, pt, ct


def _as_int(v: Any) -> int:
    try:
        return max(0, int(v or 0))
    except (TypeError, ValueError):
        return 0


__all__ = ["ChatClient", "ChatResult", "LLMError", "UsageMeter", "ERROR_KINDS", "cost_usd", "parse_retry_after"]
