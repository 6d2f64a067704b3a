"""Full plans written by a model step by step and judged by the simulator (RLVR and evaluation).

A model trained with SRL writes one step per turn from the turn contract (:mod:`srl_pipeline.game.turn`:
goal, lore, steps so far, the CURRENT state and what the last step changed). A full plan is that,
repeated: the model writes step 1, the simulator applies it, the step joins "steps so far" and the
live state is the next prompt's observation, the model writes step 2, ... until one of the outcomes below. The simulator is the only
judge, as in the paper's RLVR (a verifiable outcome), and each rollout keeps every turn (prompt,
completion, token ids) so RLVR can train on them.

Outcomes: ``success`` (goal reached, no violation), ``format_error`` (a turn is not
``<think>...</think>`` + one parsable step), ``violation`` (the step breaks a rule: the rule's id
is kept for the weakness report), ``goal_failed`` (the goal's fail condition became true) and
``unfinished`` (``max_steps`` legal steps without reaching the goal).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from ..core.turn_budget import TURN_TOKENS
from ..game.rules import RuleSet
from ..game.scenarios import Scenario
from ..game.simulator import Simulator, Violation
from ..game.steps import parse_step
from ..game.turn import describe_change, scenario_turn_prompt, turn_prompt
from .rewards import extract_step, plan_reward

OUTCOMES = ("success", "format_error", "violation", "goal_failed", "unfinished")

__all__ = ["OUTCOMES", "PlanRollout", "PlanTask", "Turn", "plan_reward", "rollout_plans"]  # plan_reward: re-exported


@dataclass(frozen=True)
class PlanTask:
    """One scenario to plan for, with the text the model sees (retrieved lore; ``scenario_text`` is
    the scenario as the collaboration described it, kept for the records). Every turn's prompt is
    the turn contract (:mod:`srl_pipeline.game.turn`): the current state after the steps so far."""

    scenario: Scenario
    scenario_text: str
    lore_text: str
    expert_steps: tuple[str, ...] = ()
    ruleset: Any = field(default=None, compare=False, repr=False)

    def prompt(self, previous_steps: Sequence[str], *, state: dict[str, Any] | None = None,
               changed: str | None = None, ruleset: RuleSet | None = None) -> str:
        """The turn prompt after ``previous_steps``: from the live ``state`` (and ``changed``) when
        the caller has it, else the steps replayed through the simulator from the scenario's state."""
        rs = ruleset or self.ruleset
        if rs is None:
            raise ValueError("PlanTask.prompt needs the rule set (PlanTask(..., ruleset=...) or ruleset=)")
        sc = self.scenario
        if state is None:
            return scenario_turn_prompt(sc.species, sc.goal, rs, sc.state, self.lore_text, list(previous_steps))
        return turn_prompt(sc.species, sc.goal, rs, state, self.lore_text, list(previous_steps),
                           changed if changed is not None else "(no step yet)")

    def to_record(self) -> dict[str, Any]:
        return {"scenario": self.scenario.to_record(), "scenario_text": self.scenario_text,
                "lore_text": self.lore_text, "expert_steps": list(self.expert_steps)}

    @classmethod
    def from_record(cls, rec: dict[str, Any], ruleset: RuleSet | None = None) -> "PlanTask":
        return cls(Scenario.from_record(rec["scenario"], ruleset), rec["scenario_text"], rec["lore_text"],
                   tuple(rec.get("expert_steps", ())), ruleset)


@dataclass
class Turn:
    prompt: str
    completion: str
    completion_ids: list[int]
    step: str | None            # the parsed step line, None on a format error


@dataclass
class PlanRollout:
    task_index: int
    sample: int
    goal: str
    turns: list[Turn] = field(default_factory=list)
    outcome: str = "unfinished"
    violation: Violation | None = None
    legal_steps: int = 0
    reward: float = 0.0

    @property
    def success(self) -> bool:
        return self.outcome == "success"

    @property
    def plan(self) -> list[str]:
        return [t.step for t in self.turns if t.step is not None]


@dataclass
class _Live:
    rollout: PlanRollout
    task: PlanTask
    state: dict[str, Any]
    changed: str = "(no step yet)"


Generate = Callable[[list[str]], list[tuple[str, list[int]]]]


def rollout_plans(model: Any, tokenizer: Any, tasks: Sequence[PlanTask], ruleset: RuleSet, *, samples: int = 1,
                  do_sample: bool = False, temperature: float = 1.0, top_p: float = 1.0, max_new_tokens: int = TURN_TOKENS,
                  max_steps: int = 8, batch_size: int = 32, chat: bool = False,
                  progress_credit: float = 0.0, generate: Generate | None = None,
                  menu_constrained: bool = False) -> list[PlanRollout]:
    """``samples`` rollouts per task (task-major order). All live rollouts advance one step per
    batched generation, so a batch of plans costs ``max_steps`` generation rounds at most.
    ``generate`` (prompts -> [(text, token ids)]) replaces the model, e.g. a scripted policy."""
    if generate is None:
        from .generation import generate_steps  # torch: only where models run

        def generate(prompts: list[str]) -> list[tuple[str, list[int]]]:
            return generate_steps(model, tokenizer, prompts, do_sample=do_sample, temperature=temperature,
                                  top_p=top_p, max_new_tokens=max_new_tokens, batch_size=batch_size, chat=chat,
                                  menu_constrained=menu_constrained)

    sim = Simulator(ruleset)
    live = [_Live(PlanRollout(i, j, t.scenario.goal), t, sim.initial_state(t.scenario.state))
            for i, t in enumerate(tasks) for j in range(samples)]
    done: list[PlanRollout] = []
    for number in range(1, max_steps + 1):
        if not live:
            break
        prompts = [lv.task.prompt(lv.rollout.plan, state=lv.state, changed=lv.changed, ruleset=ruleset) for lv in live]
        outs = generate(prompts)
        still = []
        for lv, prompt, (text, ids) in zip(live, prompts, outs):
            ro = lv.rollout
            step = extract_step(text)
            ro.turns.append(Turn(prompt, text, ids, step))
            if step is None:
                ro.outcome = "format_error"
                done.append(ro)
                continue
            parsed = parse_step(step)
            violations: list[Violation] = []
            before = dict(lv.state)
            if not sim.apply(lv.state, number, parsed.action, parsed.args_dict, parsed.line, violations):
                ro.outcome, ro.violation = "violation", violations[0]
                done.append(ro)
                continue
            ro.legal_steps += 1
            lv.changed = describe_change(before, lv.state)
            goal = sim.goal_check(ro.goal)
            if goal.fail is not None and goal.fail(lv.state, {}):
                ro.outcome = "goal_failed"
            elif goal.success(lv.state, {}):
                ro.outcome = "success"
            else:
                still.append(lv)
                continue
            done.append(ro)
        live = still
    done.extend(lv.rollout for lv in live)  # out of steps: "unfinished"
    for ro in done:
        ro.reward = plan_reward(ro.outcome, ro.legal_steps, max_steps, progress_credit)
    done.sort(key=lambda r: (r.task_index, r.sample))
    return done
