"""A scripted OpenAI-compatible 'team' for the loopback server: the planner answers with a good
plan for the scenario in the prompt (computed by the offline search planner), the verifier with
valid JSON; faults are injected per request by a `fault(kind, scenario_text, call_index)` hook."""

import hashlib
import threading
from typing import Callable

from srl_pipeline.collaboration.jobs import Retrieval, TrajectoryJob
from srl_pipeline.collaboration.offline_roles import SearchPlanner
from srl_pipeline.collaboration.prompts import describe_scenario

from .chat_server import Reply, completion

Fault = Callable[[str, str, int], Reply | None]


def scenario_text_of(request: dict) -> str:
    user = next(m["content"] for m in request["messages"] if m["role"] == "user")
    return user.split("\n\n")[0] if "Species:" in user else user


class ScriptedTeam:
    def __init__(self, jobs: list[TrajectoryJob], fault: Fault | None = None, delay_s: float = 0.0):
        self.plans = {describe_scenario(j.scenario, j.species.ruleset): SearchPlanner().plan(j, Retrieval([]), [], 1)
                      for j in jobs}
        self.fault = fault
        self.delay_s = delay_s
        self.lock = threading.Lock()
        self.by_kind: dict[str, int] = {}

    def __call__(self, request: dict, index: int) -> Reply:
        system = next(m["content"] for m in request["messages"] if m["role"] == "system")
        kind = "planner" if "Teacher Planner" in system else "verifier" if "You judge" in system else "retriever"
        with self.lock:
            self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
        text = scenario_text_of(request)
        reply = self.fault(kind, text, index) if self.fault else None
        if reply is None:
            if kind == "planner":
                reply = completion(self.plans[text], prompt_tokens=400, completion_tokens=120)
            elif kind == "verifier":
                reply = completion('{"voice": 0.9, "immersive": true, "reasons": []}', prompt_tokens=300, completion_tokens=20)
            else:
                reply = completion('{"passage_ids": []}')
        if self.delay_s and reply.delay_s == 0:
            reply.delay_s = self.delay_s
        return reply


def stable_fraction(text: str, salt: str = "") -> float:
    """A deterministic number in [0, 1) for a scenario, to pick which ones get a fault."""
    return int(hashlib.sha256((salt + text).encode()).hexdigest()[:8], 16) / 2**32
