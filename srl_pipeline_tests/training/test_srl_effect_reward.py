"""The ``effect`` SRL reward: the simulator judges the call by what it does in the state shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from srl_pipeline.game.rules import RuleSet
from srl_pipeline.game.simulator import Simulator
from srl_pipeline.game.sources import GameFiles
from srl_pipeline.game.turn import turn_prompt
from srl_pipeline.training.rewards import FORMAT_PENALTY, reward_function
from srl_pipeline.training.rewards.srl_effect import W_EFFECT, W_LEGAL, W_LINE, W_TITLE, effect_reward

GAME = Path(__file__).resolve().parents[2] / "configs" / "game"
EXPERT = '2. **Of the old wars** converse(topic=old_wars) | "In the old wars I watched priests fall."'


@pytest.fixture(scope="module")
def vampire() -> RuleSet:
    files = GameFiles(GAME)
    return RuleSet.resolve(files.load_rules("vampire"), [])


@pytest.fixture(scope="module")
def prompt(vampire) -> str:
    state = Simulator(vampire).initial_state({"trust": 2, "location": "dwelling", "time": "night"})
    return turn_prompt("vampire", "extract_secret", vampire, state, "- [voice] v", ["1. **Hello** converse(topic=lineage) | \"Good evening.\""])


def c(step: str) -> str:
    return f"\n<think>I will.</think>\n{step}"


def test_the_expert_scores_one_and_a_broken_format_the_penalty(vampire, prompt):
    assert effect_reward(c(EXPERT), EXPERT, prompt, vampire) == pytest.approx(1.0)
    assert effect_reward("no think", EXPERT, prompt, vampire) == FORMAT_PENALTY


def test_an_equal_call_is_the_decision_whatever_its_spelling(vampire, prompt):
    # converse raises trust by one whatever the topic: the expert's decision, though another argument
    other_topic = EXPERT.replace("topic=old_wars", "topic=the_castle")
    assert effect_reward(c(other_topic), EXPERT, prompt, vampire) == pytest.approx(1.0)
    decision = reward_function("decision")
    assert decision(c(other_topic), EXPERT, prompt) < 1.0  # the spelling-based variant docks the argument


def test_another_legal_move_and_an_illegal_one(vampire, prompt):
    title, line = "Of the old wars", "In the old wars I watched priests fall."
    legal_other = f'2. **{title}** request_invitation(target=player) | "{line}"'
    illegal = f'2. **{title}** ask_secret(about=hunters) | "{line}"'   # needs trust 4
    assert effect_reward(c(legal_other), EXPERT, prompt, vampire) == pytest.approx(W_LEGAL + W_LINE + W_TITLE)
    assert effect_reward(c(illegal), EXPERT, prompt, vampire) == pytest.approx(W_LINE + W_TITLE)
    assert W_EFFECT > W_LEGAL + W_LINE + W_TITLE  # the decision outweighs everything else


def test_the_reward_needs_a_readable_state_and_the_rules(vampire):
    with pytest.raises(ValueError, match="State now"):
        effect_reward(c(EXPERT), EXPERT, "Species: vampire\nMoves now: (none)", vampire)
    with pytest.raises(ValueError, match="rules"):
        reward_function("effect")
    assert reward_function("effect", vampire)(c(EXPERT), EXPERT, turn_prompt(
        "vampire", "extract_secret", vampire, Simulator(vampire).initial_state({"trust": 1}), "", [])) == pytest.approx(1.0)
