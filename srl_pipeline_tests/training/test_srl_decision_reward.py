import pytest

from srl_pipeline.training.rewards import decision_reward, reward_function
from srl_pipeline.training.rewards import FORMAT_PENALTY, srl_reward
from srl_pipeline.training.rewards.srl_decision import W_LINE, paper_reward

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


def test_a_line_already_spoken_earns_no_line_score():
    said = '1. **Greet** converse(topic=the_night) | "Leave, mortal, while your blood still runs warm."'
    prompt = f"Species: vampire\nSteps so far:\n{said}\nState now: trust=1\nMoves now: intimidate(target=player)"
    fresh = decision_reward(c(EXPERT), EXPERT, "Steps so far:\n(none yet)\nState now: trust=1")
    repeated = decision_reward(c(EXPERT), EXPERT, prompt)
    assert fresh == pytest.approx(1.0)
    assert repeated == pytest.approx(1.0 - W_LINE)
    # spelling and spacing do not hide a repeat; another line is not one
    loud = EXPERT.replace("Leave, mortal,", "LEAVE,  mortal,")
    assert decision_reward(c(loud), EXPERT, prompt) < decision_reward(c(loud), EXPERT)
    assert decision_reward(c(RIGHT_ACTION_OTHER_WORDS), EXPERT, prompt) == decision_reward(c(RIGHT_ACTION_OTHER_WORDS), EXPERT)
    # the paper's reward ignores the prompt
    assert paper_reward(c(EXPERT), EXPERT, prompt) == paper_reward(c(EXPERT), EXPERT) == pytest.approx(1.0)


def test_reward_function_names():
    assert reward_function("paper") is paper_reward and reward_function("decision") is decision_reward
    with pytest.raises(ValueError):
        reward_function("nope")


def test_trl_adapter_passes_the_prompt_plain_or_conversational():
    from srl_pipeline.training.rewards import srl_reward_func

    said = '1. **Greet** converse(topic=the_night) | "Leave, mortal, while your blood still runs warm."'
    prompt = f"Steps so far:\n{said}\nState now: trust=1"
    fn = srl_reward_func("decision")
    plain = fn(completions=[c(EXPERT)], target=[EXPERT], prompts=[prompt])
    chat = fn(completions=[[{"role": "assistant", "content": c(EXPERT)}]], target=[EXPERT],
              prompts=[[{"role": "user", "content": prompt}]])
    assert plain == chat == [pytest.approx(1.0 - W_LINE)]
    assert fn(completions=[c(EXPERT)], target=[EXPERT]) == [pytest.approx(1.0)]
