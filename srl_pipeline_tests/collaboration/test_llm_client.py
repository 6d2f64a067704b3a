"""ChatClient against a real OpenAI-compatible HTTP server on loopback (no network, no mocks of
the `openai` package): retries, backoff, Retry-After, time-outs, malformed bodies, concurrency,
usage metering and key hygiene."""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate

import openai
import pytest

from srl_pipeline.collaboration.llm import ChatClient, ChatResult, LLMError, UsageMeter, parse_retry_after
from srl_pipeline.collaboration.settings import RoleSettings
from srl_pipeline_tests.collaboration.chat_server import (
    ChatServer, Reply, completion, empty_choices, error, malformed_json, null_content, rate_limited,
    server_error, slow)

KEY_ENV = "SRL_TEST_LLM_API_KEY"
FAKE_KEY = "sk-test-DO-NOT-LEAK-0123456789abcdef"
MESSAGES = [{"role": "system", "content": "You are a goblin."}, {"role": "user", "content": "Greet me."}]


_open_clients: list[ChatClient] = []


@pytest.fixture(autouse=True)
def fake_key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, FAKE_KEY)
    yield
    while _open_clients:
        _open_clients.pop().close()


def settings_for(server: ChatServer, **kw) -> RoleSettings:
    base = dict(backend="openai", base_url=server.base_url, model="test/model", api_key_env=KEY_ENV,
                temperature=0.3, max_tokens=64, timeout_s=5.0, max_concurrency=4, max_retries=2,
                backoff_base_s=0.5, backoff_max_s=8.0)
    return RoleSettings(**(base | kw))


def make_client(server, meter=None, sleeps=None, role="planner", **kw):
    meter = meter if meter is not None else UsageMeter()
    sleeps = sleeps if sleeps is not None else []
    client = ChatClient(settings_for(server, **kw), role, meter, sleep=sleeps.append, rng=random.Random(7))
    _open_clients.append(client)
    return client, meter, sleeps


def script(*replies: Reply):
    """Responder playing `replies` in order, repeating the last."""
    return lambda req, i: replies[min(i, len(replies) - 1)]


def test_good_answer_counts_tokens_and_cost(chat_server_factory):
    srv = chat_server_factory(script(completion("Hrrk! Welcome, softskin.", prompt_tokens=1200, completion_tokens=300)))
    client, meter, sleeps = make_client(srv, usd_per_1k_prompt_tokens=0.5, usd_per_1k_completion_tokens=2.0)

    res = client.complete(MESSAGES, stop=["\n\n"])

    assert isinstance(res, ChatResult)
    assert res.text == "Hrrk! Welcome, softskin."
    assert (res.prompt_tokens, res.completion_tokens, res.retries) == (1200, 300, 0)
    assert 0 <= res.latency_s < 5
    assert sleeps == []
    [call] = srv.calls
    assert call.path == "/v1/chat/completions"
    assert call.json["model"] == "test/model" and call.json["messages"] == MESSAGES
    assert call.json["temperature"] == 0.3 and call.json["max_tokens"] == 64
    assert call.json["stop"] == ["\n\n"]
    assert call.headers["authorization"] == f"Bearer {FAKE_KEY}"
    snap = meter.snapshot()["planner"]
    assert snap["calls"] == 1 and snap["retries"] == 0 and snap["failures"] == 0
    assert snap["prompt_tokens"] == 1200 and snap["completion_tokens"] == 300
    assert snap["cost_usd"] == pytest.approx(1.2 * 0.5 + 0.3 * 2.0)
    assert snap["by_error_kind"] == {}
    json.dumps(meter.snapshot())  # plain JSON


def test_extra_overrides_settings_and_root_path_served(chat_server_factory):
    srv = chat_server_factory(script(completion("ok")))
    client, _, _ = make_client(srv)
    client._client.base_url = srv.root_url  # servers without the /v1 prefix (some vLLM proxies)
    assert client.complete(MESSAGES, temperature=0.0, seed=3).text == "ok"
    [call] = srv.calls
    assert call.path == "/chat/completions"
    assert call.json["temperature"] == 0.0 and call.json["seed"] == 3


def test_429_honours_retry_after_then_succeeds(chat_server_factory):
    srv = chat_server_factory(script(rate_limited(2), completion("fine")))
    client, meter, sleeps = make_client(srv)

    res = client.complete(MESSAGES)

    assert res.text == "fine" and res.retries == 1
    assert len(sleeps) == 1 and sleeps[0] >= 2.0
    assert len(srv.calls) == 2
    snap = meter.snapshot()["planner"]
    assert snap["calls"] == 2 and snap["retries"] == 1 and snap["failures"] == 0
    assert snap["by_error_kind"] == {"rate_limited": 1}


def test_retry_after_capped_and_http_date(chat_server_factory):
    future = formatdate(time.time() + 3, usegmt=True)
    srv = chat_server_factory(script(rate_limited(600), rate_limited(future), rate_limited(None), completion("ok")))
    client, _, sleeps = make_client(srv, max_retries=3, backoff_max_s=8.0, backoff_base_s=0.5)

    assert client.complete(MESSAGES).text == "ok"
    assert sleeps[0] == 8.0                  # 600 s capped at backoff_max_s
    assert 1.0 <= sleeps[1] <= 3.5           # HTTP-date ~3 s ahead (1 s resolution)
    assert 0.0 <= sleeps[2] <= 0.5 * 2 ** 2  # no header: jittered backoff for the 3rd try


def test_parse_retry_after_forms():
    now = 1_700_000_000.0
    assert parse_retry_after({"Retry-After": "7"}) == 7.0
    assert parse_retry_after({"retry-after": "1.5"}) == 1.5
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({"Retry-After": formatdate(now + 30, usegmt=True)}, now=now) == pytest.approx(30, abs=1)
    assert parse_retry_after({"Retry-After": formatdate(now - 30, usegmt=True)}, now=now) == 0.0
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({}) is None and parse_retry_after(None) is None


def test_500_then_success(chat_server_factory):
    srv = chat_server_factory(script(server_error(500), completion("back")))
    client, meter, sleeps = make_client(srv)
    res = client.complete(MESSAGES)
    assert res.text == "back" and res.retries == 1
    assert len(srv.calls) == 2 and len(sleeps) == 1 and 0 <= sleeps[0] <= 0.5
    assert meter.snapshot()["planner"]["by_error_kind"] == {"server_error": 1}


def test_timeout_retried_then_success(chat_server_factory):
    srv = chat_server_factory(script(slow(completion("late"), 1.0), completion("quick")))
    client, meter, _ = make_client(srv, timeout_s=0.3)
    t0 = time.monotonic()
    res = client.complete(MESSAGES)
    assert res.text == "quick" and res.retries == 1
    assert time.monotonic() - t0 < 0.9
    assert meter.snapshot()["planner"]["by_error_kind"] == {"timeout": 1}


def test_keeps_timing_out_gives_timeout_error(chat_server_factory):
    srv = chat_server_factory(script(slow(completion("late"), 1.0)))
    client, meter, sleeps = make_client(srv, timeout_s=0.3, max_retries=1)
    t0 = time.monotonic()
    with pytest.raises(LLMError) as ei:
        client.complete(MESSAGES)
    assert ei.value.kind == "timeout" and ei.value.attempts == 2
    assert time.monotonic() - t0 < 1.5
    assert len(srv.calls) == 2 and len(sleeps) == 1
    snap = meter.snapshot()["planner"]
    assert snap["failures"] == 1 and snap["by_error_kind"] == {"timeout": 2}


@pytest.mark.parametrize("reply", [malformed_json(), malformed_json("text/html"), empty_choices(), null_content(),
                                   Reply(json={"object": "chat.completion"})],
                         ids=["not-json", "html", "empty-choices", "null-content", "no-choices-key"])
def test_malformed_is_not_retried(chat_server_factory, reply):
    srv = chat_server_factory(script(reply, completion("never reached")))
    client, meter, sleeps = make_client(srv)
    with pytest.raises(LLMError) as ei:
        client.complete(MESSAGES)
    assert ei.value.kind == "malformed" and ei.value.attempts == 1
    assert len(srv.calls) == 1 and sleeps == []
    snap = meter.snapshot()["planner"]
    assert snap["calls"] == 1 and snap["failures"] == 1 and snap["by_error_kind"] == {"malformed": 1}


@pytest.mark.parametrize("status,kind", [(400, "bad_request"), (404, "bad_request"), (422, "bad_request"),
                                         (401, "auth"), (403, "auth")])
def test_client_errors_not_retried(chat_server_factory, status, kind):
    srv = chat_server_factory(script(error(status, "model not found"), completion("never reached")))
    client, meter, sleeps = make_client(srv)
    with pytest.raises(LLMError) as ei:
        client.complete(MESSAGES)
    assert ei.value.kind == kind and ei.value.attempts == 1 and ei.value.status == status
    assert "model not found" in str(ei.value)
    assert len(srv.calls) == 1 and sleeps == []
    assert meter.snapshot()["planner"]["failures"] == 1


def test_retries_exhausted(chat_server_factory):
    srv = chat_server_factory(script(server_error(503)))
    client, meter, sleeps = make_client(srv, max_retries=3, backoff_base_s=0.5, backoff_max_s=1.5)
    with pytest.raises(LLMError) as ei:
        client.complete(MESSAGES)
    assert ei.value.kind == "server_error" and ei.value.attempts == 4 and ei.value.status == 503
    assert len(srv.calls) == 4
    assert len(sleeps) == 3
    for i, s in enumerate(sleeps):  # full jitter, exponential, capped
        assert 0 <= s <= min(1.5, 0.5 * 2 ** i)
    snap = meter.snapshot()["planner"]
    assert snap == {"calls": 4, "retries": 3, "failures": 1, "successes": 0, "prompt_tokens": 0,
                    "completion_tokens": 0, "cost_usd": 0.0, "by_error_kind": {"server_error": 4}}


def test_connection_refused_is_retried_then_connection_error(chat_server_factory):
    srv = chat_server_factory(script(completion("x")))
    client, meter, sleeps = make_client(srv, max_retries=2)
    srv.stop()  # nothing listens on that port any more
    with pytest.raises(LLMError) as ei:
        client.complete(MESSAGES)
    assert ei.value.kind == "connection" and ei.value.attempts == 3
    assert len(sleeps) == 2 and meter.snapshot()["planner"]["by_error_kind"] == {"connection": 3}


def test_missing_key_is_auth_error_naming_env_var(monkeypatch, chat_server_factory):
    srv = chat_server_factory(script(completion("x")))
    monkeypatch.delenv(KEY_ENV)
    meter = UsageMeter()
    with pytest.raises(LLMError) as ei:
        ChatClient(settings_for(srv), "verifier", meter)
    assert ei.value.kind == "auth" and ei.value.attempts == 0
    assert KEY_ENV in str(ei.value)
    assert srv.calls == []
    assert meter.snapshot()["verifier"]["failures"] == 1


def test_key_never_in_messages_or_logs(chat_server_factory, caplog):
    # a provider that echoes the key back in its error body (OpenAI does, partially masked)
    srv = chat_server_factory(script(error(401, f"Incorrect API key provided: {FAKE_KEY}"),
                                     server_error(500), error(500, f"upstream said {FAKE_KEY}")))
    client, meter, _ = make_client(srv, max_retries=1)
    assert FAKE_KEY not in repr(client)
    with caplog.at_level(logging.DEBUG, logger="srl_pipeline"):
        with pytest.raises(LLMError) as e1:
            client.complete(MESSAGES)
        with pytest.raises(LLMError) as e2:
            client.complete(MESSAGES)
    assert e1.value.kind == "auth" and e2.value.kind == "server_error"
    for err in (e1.value, e2.value):
        assert FAKE_KEY not in str(err) and FAKE_KEY not in repr(err) and FAKE_KEY not in repr(err.args)
        chained, seen = err, 0
        while chained is not None and seen < 10:  # no SDK exception (it holds the request headers) reachable
            assert not isinstance(chained, openai.OpenAIError)
            assert FAKE_KEY not in str(chained)
            chained, seen = chained.__cause__ or chained.__context__, seen + 1
    assert "***" in str(e1.value)
    assert all(FAKE_KEY not in r.getMessage() for r in caplog.records)
    assert FAKE_KEY not in json.dumps(meter.snapshot())
    # the key given explicitly is used as is, the environment is then not needed
    with ChatClient(settings_for(srv, api_key_env="SRL_TEST_UNSET_ENV"), "x", UsageMeter(), api_key="sk-other") as c:
        assert "sk-other" not in repr(c)


def test_concurrency_bounded_by_semaphore(chat_server_factory):
    lock = threading.Lock()
    state = {"now": 0, "max": 0}

    def responder(req, i):
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        time.sleep(0.2)
        with lock:
            state["now"] -= 1
        return completion(f"answer {i}")

    srv = chat_server_factory(responder)
    client, meter, _ = make_client(srv, max_concurrency=2)
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda k: client.complete([{"role": "user", "content": f"q{k}"}]), range(6)))
    elapsed = time.monotonic() - t0
    assert len(results) == 6 and all(r.text.startswith("answer") for r in results)
    assert state["max"] == 2          # never more than 2 in flight, and the bound is actually used
    assert 0.55 <= elapsed < 3.0      # three waves of 0.2 s
    assert meter.snapshot()["planner"]["calls"] == 6
