import pytest

from srl_pipeline.training.rewards import decision_reward, reward_function
from srl_pipeline.training.rewards import FORMAT_PENALTY, srl_reward

EXPERT = '2. **Show the fangs** intimidate(target=player) | "Leave, mortal, while your blood still runs warm."'
SAME_WORDS_WRONG_ACTION = '2. **Show the fangs** converse(topic=the_night) | "Leave, mortal, while your blood still runs warm."'
RIGHT_ACTION_OTHER_WORDS = '2. **A cold stare** intimidate(target=player) | "Go."'


def c(step: str) -> str:
    return f"<think>x</think>\n{step}"


def test_expert_scores_one_and_broken_format_the_penalty():
    assert decision_reward(c(EXPERT), EXPERT) == pytest.approx(1.0)
    assert decision_reward("no think", EXPERT) == FORMAT_PENALTY
    assert decision_reward(c("2. intimidate(target=player)"), EXPERT) == FORMAT_PENALTY


def test_decision_outweighs_the_line():
    # the paper's reward prefers the expert's words with the wrong action; the decision reward the right action
    assert srl_reward(c(SAME_WORDS_WRONG_ACTION), EXPERT) > srl_reward(c(RIGHT_ACTION_OTHER_WORDS), EXPERT)
    assert decision_reward(c(RIGHT_ACTION_OTHER_WORDS), EXPERT) > decision_reward(c(SAME_WORDS_WRONG_ACTION), EXPERT)
    wrong_arg = '2. **Show the fangs** intimidate(target=guard) | "Leave, mortal, while your blood still runs warm."'
    assert decision_reward(c(wrong_arg), EXPERT) == pytest.approx(0.7)
    assert decision_reward(c(SAME_WORDS_WRONG_ACTION), EXPERT) == pytest.approx(0.3)


def test_reward_function_names():
    assert reward_function("paper") is srl_reward and reward_function("decision") is decision_reward
    with pytest.raises(ValueError):
        reward_function("nope")
