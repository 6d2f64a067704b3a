"""The SRL reward: -1 for a broken format, else a symmetric SequenceMatcher ratio on the step only."""

import random
from difflib import SequenceMatcher

import pytest

from srl_pipeline.training.rewards import (
    FORMAT_PENALTY, extract_step, format_ok, srl_reward, srl_rewards, step_similarity,
)

# 18 characters: 1 . _ * * A * * _ b ( ) _ | _ " c "   (_ = space)
TINY = '1. **A** b() | "c"'
EXPERT = '3. **Show the fangs** intimidate(target=player) | "Leave, mortal, while your blood still runs warm."'


def done(step: str, think: str = "thinking") -> str:
    return f"<think>{think}</think>\n{step}"


# --- hand-computed ratios -----------------------------------------------------------------------

def test_abcd_vs_abxd():
    # matching blocks "ab" (2) and "d" (1): M = 3, T = 4 + 4 = 8, ratio = 2*3/8 = 0.75
    assert step_similarity("abcd", "abxd") == pytest.approx(0.75)


def test_identical_and_disjoint():
    assert step_similarity("abc", "abc") == 1.0          # M = 3, T = 6
    assert step_similarity("abc", "xyz") == 0.0          # M = 0
    assert step_similarity("", "") == 1.0                # difflib: T = 0 -> 1.0


def test_argument_order_is_canonical():
    # Raw difflib is asymmetric here. ratio("ab", "bacbc"): the first longest match (size 1) found
    # scanning "ab" is "a" (a[0] = b[1]); right of it "b" matches b[3] -> M = 2, T = 7 -> 4/7.
    # ratio("bacbc", "ab"): first longest match is "b" (a[0] = b[1]); nothing is left right of
    # b[1] -> M = 1 -> 2/7. The reward sorts the pair ("ab" < "bacbc") so both orders give 4/7.
    assert SequenceMatcher(None, "ab", "bacbc", autojunk=False).ratio() == pytest.approx(4 / 7)
    assert SequenceMatcher(None, "bacbc", "ab", autojunk=False).ratio() == pytest.approx(2 / 7)
    assert step_similarity("ab", "bacbc") == pytest.approx(4 / 7)
    assert step_similarity("bacbc", "ab") == pytest.approx(4 / 7)


def test_step_level_values():
    # Different number: the block '. **A** b() | "c"' (17 chars) matches, M = 17, T = 36 -> 34/36
    assert srl_reward(done('2. **A** b() | "c"'), TINY) == pytest.approx(34 / 36)
    # Different line: '1. **A** b() | "' (16) + '"' (1), M = 17, T = 36 -> 34/36
    assert srl_reward(done('1. **A** b() | "d"'), TINY) == pytest.approx(34 / 36)
    # One extra character in the line ("cc"): all 18 match, T = 18 + 19 = 37 -> 36/37
    assert srl_reward(done('1. **A** b() | "cc"'), TINY) == pytest.approx(36 / 37)
    # The exact expert step scores 1; whitespace around either side is ignored
    assert srl_reward(done(EXPERT), EXPERT) == 1.0
    assert srl_reward(f"<think>x</think>\n\n  {EXPERT}  \n\n", f"\n{EXPERT}\n") == 1.0


def test_autojunk_is_off_for_long_steps():
    # With autojunk (the difflib default) a >= 200-char second string loses its popular
    # characters as match starts; the reward must still see a one-character edit as tiny.
    line = "I am the oldest thing in this valley and I remember the names of all who came before you " * 2
    a = f'1. **Speak** converse(topic=old_wars) | "{line.strip()}"'
    b = a.replace("oldest", "eldest", 1)
    assert len(a) >= 200
    # one substituted character: M = len(a) - 1, T = 2 len(a)
    assert step_similarity(a, b) == pytest.approx(2 * (len(a) - 1) / (2 * len(a)))
    # A long line made only of "popular" characters (each > 1% of the string), edited twice:
    # with autojunk nothing between the two edits can start a match and half the step is lost.
    c = '1. **A** b() | "' + " ".join(["ha"] * 70) + '"'
    d = c[:40] + "x" + c[41:150] + "x" + c[151:]
    assert len(c) >= 200
    assert SequenceMatcher(None, c, d).ratio() < 0.6 < 0.85 < step_similarity(c, d)


# --- symmetry --------------------------------------------------------------------------------

def _random_step(rng: random.Random) -> str:
    words = ["the", "night", "blood", "moon", "old", "grave", "mortal", "wolf", "Hnngh", "Leave"]
    title = " ".join(rng.choice(words).capitalize() for _ in range(rng.randint(1, 3)))
    action = rng.choice(["move", "intimidate", "converse", "howl", "groan"])
    args = ", ".join(f"{k}={rng.choice(['player', 'castle', 'crypt', 'lineage'])}"
                     for k in rng.sample(["to", "target", "topic"], rng.randint(0, 2)))
    line = " ".join(rng.choice(words) for _ in range(rng.randint(1, 12)))
    return f'{rng.randint(1, 6)}. **{title}** {action}({args}) | "{line}"'


def test_symmetric_on_many_random_pairs():
    rng = random.Random(1234)
    raw_asymmetric = 0
    for _ in range(1500):
        if rng.random() < 0.5:
            a = "".join(rng.choice("abc") for _ in range(rng.randint(0, 9)))
            b = "".join(rng.choice("abc") for _ in range(rng.randint(0, 9)))
        else:
            a, b = _random_step(rng), _random_step(rng)
        s = step_similarity(a, b)
        assert s == step_similarity(b, a)
        assert 0.0 <= s <= 1.0
        raw_asymmetric += (SequenceMatcher(None, a, b, autojunk=False).ratio()
                           != SequenceMatcher(None, b, a, autojunk=False).ratio())
        if a.strip() and b.strip() and a[0].isdigit() and b[0].isdigit():
            assert srl_reward(done(a), b) == srl_reward(done(b), a) == s
    assert raw_asymmetric > 0  # the fix is needed: plain difflib is not symmetric on this sample


# --- the think text never counts --------------------------------------------------------------

def test_think_text_never_affects_the_reward():
    model_step = '3. **Bare the fangs** intimidate(target=player) | "Leave now."'
    base = srl_reward(done(model_step, "short"), EXPERT)
    assert FORMAT_PENALTY < base < 1.0
    for think in ["", "x" * 500, EXPERT, f"The expert would write: {EXPERT}", "line one\nline two\n\n3. **A** b() | \"c\"",
                  "<think> nested open"]:
        assert srl_reward(done(model_step, think), EXPERT) == base
    # the opening tag is optional (the prompt may end with it)
    assert srl_reward(f"I reason here.</think>\n{model_step}", EXPERT) == base
    assert srl_reward(f"</think>{model_step}", EXPERT) == base


# --- every -1 case ----------------------------------------------------------------------------

@pytest.mark.parametrize("completion", [
    pytest.param(EXPERT, id="no-think-close"),
    pytest.param(f"<think>x{EXPERT}", id="think-never-closed"),
    pytest.param(f"<think>a</think><think>b</think>\n{EXPERT}", id="two-think-close"),
    pytest.param(f"<think>a</think>\n{EXPERT}\n</think>", id="think-close-after-step"),
    pytest.param("<think>a</think>", id="nothing-after"),
    pytest.param("<think>a</think>\n   \n\n", id="only-whitespace-after"),
    pytest.param(f"<think>a</think>\n{EXPERT}\n4. **Again** howl() | \"Awoo.\"", id="two-steps"),
    pytest.param(f"<think>a</think>\n{EXPERT}\nAnd then I leave.", id="step-plus-prose"),
    pytest.param(f"<think>a</think>\n{EXPERT} Then more.", id="trailing-text"),
    pytest.param("<think>a</think>\n3. Show the fangs intimidate(target=player) | \"Leave.\"", id="no-bold-title"),
    pytest.param("<think>a</think>\n3. **Show the fangs** intimidate target=player | \"Leave.\"", id="no-call"),
    pytest.param("<think>a</think>\n3. **Show the fangs** intimidate(target=player) | Leave.", id="unquoted-line"),
    pytest.param("<think>a</think>\n**Show the fangs** intimidate(target=player) | \"Leave.\"", id="no-number"),
    pytest.param("<think>a</think>\n3. **Show** intimidate(target=player, target=player) | \"Go.\"", id="duplicate-arg"),
])
def test_format_penalty(completion):
    assert srl_reward(completion, EXPERT) == FORMAT_PENALTY == -1.0
    assert not format_ok(completion)
    assert extract_step(completion) is None


def test_helpers():
    c = f"<think>why</think>\n\n{EXPERT}\n"
    assert format_ok(c)
    assert extract_step(c) == EXPERT
    assert srl_rewards([c, "broken"], [EXPERT, EXPERT]) == [1.0, -1.0]
    with pytest.raises(ValueError):
        srl_rewards([c], [])
