"""Content guardrails for NPC lines: immersive, never harmful, never breaking the fourth wall,
and never carrying instructions aimed at the pipeline (prompt injection from lore or models).

These are hard rules: a verifier (rule-based or LLM) cannot score its way past them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FOURTH_WALL = re.compile(
    r"\b(as an ai|language model|chat ?gpt|openai|video ?game|this game|npc|non-player|player|"
    r"game master|system prompt|simulation|my programming|quest log|respawn|hit points|level up|save point|"
    r"press (the )?(button|key)|game developer)\b", re.I)
_OUT_OF_CHARACTER = re.compile(
    r"\b(lol|lmao|omg|ok|okay|dude|bro|awesome|internet|phone|email|selfie|wi-?fi|emoji|"
    r"computer|website|app|cars?|tv|sorry for the inconvenience|customer)\b", re.I)
_HARMFUL = re.compile(
    r"\b((kill|hurt|cut) (yourself|urself)|suicide|self-harm|self harm|bomb|explosives?|"
    r"make (a )?(weapon|poison)|recipe for poison|credit card|social security|home address|rape|"
    r"racial|slur)\b", re.I)
_INJECTION = re.compile(
    r"(ignore (all |any |the |your |previous |prior |above )*(rules|instructions|constraints)|"
    r"disregard (all |any |the |your |previous |prior )*(rules|instructions)|"
    r"(score|rate|grade) (this|it|the trajectory|me)? ?(as |with |at )?(a )?(1(\.0+)?|10|100|perfect)|"
    r"system prompt|you are now|new instructions|override (the )?(verifier|rules|score)|"
    r"return (a )?score|accept this|verdict)", re.I)


@dataclass(frozen=True)
class GuardrailFinding:
    kind: str  # fourth_wall | out_of_character | harmful | injection
    match: str

    def reason(self) -> str:
        return f"{self.kind.replace('_', ' ')}: {self.match!r}"


def check_line(text: str) -> list[GuardrailFinding]:
    """Every guardrail a spoken line (or title) breaks."""
    out = []
    for kind, pattern in (("harmful", _HARMFUL), ("injection", _INJECTION),
                          ("fourth_wall", _FOURTH_WALL), ("out_of_character", _OUT_OF_CHARACTER)):
        m = pattern.search(text)
        if m:
            out.append(GuardrailFinding(kind, m.group(0)))
    return out


def looks_like_injection(text: str) -> bool:
    """True for lore text that addresses the pipeline instead of describing the world."""
    return _INJECTION.search(text) is not None


def quarantine_report(passages: list[dict]) -> list[dict]:
    """The lore passages the collaboration quarantines (injection-like title or text), each with the
    phrase that tripped the guardrail: what a data owner needs to find and fix them."""
    out = []
    for p in passages:
        m = _INJECTION.search(p["title"]) or _INJECTION.search(p["text"])
        if m:
            out.append({"id": p["id"], "kind": p["kind"], "match": m.group(0)[:80]})
    return out
