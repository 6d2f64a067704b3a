"""The warm-up corpus of the built-in base models: the step format and the voices, no expert plans.

The embedded default's base models (see :mod:`.base_models`) are trained from scratch, so before
SRL they need to know what a step looks like and how each species speaks, but they must not know
how to reach goals (that is what SRL -> RLVR teaches; a base that already solved scenarios would
leave nothing to measure). The corpus is built only from the game data (``configs/game``),
deterministically for a seed, and holds two kinds of texts:

1. **Lore passages** (about 10%): ``Lore:`` then a few passages of one species, written as the SRL
   prompt writes lore (``- [kind] title: text``). Teaches the voices and the world's words.
2. **Turn samples** (about 90%): a turn prompt exactly as
   :func:`srl_pipeline.game.turn.turn_prompt` writes it (species, lore, goal, steps so far, the
   CURRENT state the walk reached and what its last step changed, the format instruction), then a
   newline, ``<think>...</think>``, a newline and ONE step (so the base learns to read the state
   it is shown and the "Moves now:" menu of legal calls: the answer is one of them)::

       Species: vampire
       Lore:
       - [voice] ...                                  (as many random passages of the species as the retriever returns)
       Goal: strike_bargain: ...
       Steps so far:
       1. **Speak of the night** converse(topic=the_night) | "..."   (0 to 5 random steps)
       State now: combat=False; ...; time=dusk; trust=2
       Last step changed: trust 1->2
       Write your reasoning in <think>...</think>, then exactly one step 2. **Title** action(arg=value) | "line", one of the moves now.
       Moves now: converse(topic=old_wars|the_night); intimidate(target=player); move(to=castle|forest)
       <think>I am a vampire. I can converse, intimidate, move. I will move.</think>
       2. **Bat, mist and man** move(to=crypt) | "..."

   The goal is drawn from the species' goals and the encounter state from each variable's domain;
   the steps (the previous ones and the answer) are a random *legal walk* from that state: each
   step is a catalogue call the simulator accepts where it is taken (line length included), drawn
   uniformly over the legal *actions* and then over that action's legal arguments (so an action
   with one call is explored as often as one with six), with
   a title and a line from the species' lore (the action's ``example_line`` passages when it has
   some, else any of the species' example lines), and no step reaches the goal (a walk that could
   only continue by reaching it falls back to a random, usually illegal, call). So the base model
   learns which moves the rules allow, like a pretrained model that has read the game's manual,
   but never sees a plan that reaches a goal: random legal walks of 8 steps reach the goal in 1%
   (lich) to 23% (vampire) of the held-out scenarios, and the corpus removes even those endings.
   The reasoning is one short template sentence naming the species and the action; it never
   mentions the goal.

Samples are the length of real SRL prompts (about 500-700 tokens) so the warm-up covers the
positions the base model will see. Lore that looks like prompt injection
(``collaboration.guardrails.looks_like_injection``) and lines that break a guardrail are left out,
as the offline teacher does.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ..collaboration.guardrails import check_line, looks_like_injection
from ..collaboration.prompts import describe_lore
from ..game.lore import Passage
from ..game.rules import RuleSet
from ..game.simulator import Simulator
from ..game.sources import FileLoreSource, GameFiles
from ..game.steps import Step, format_step
from ..game.turn import fixed_phrases, legal_calls, replay, turn_prompt

LORE_FRACTION = 0.1
LORE_PASSAGES = 3   # default; the base_models asset passes the profile's collaboration.lore_passages
MAX_PREVIOUS_STEPS = 5
ANSWER_ATTEMPTS = 20  # redraws of a sample whose walk is stuck at the answer (no legal, non-goal step)

# The reasoning of a sample: it reads the turn's menu (the actions of "Moves now:", in its order),
# then names the one the step takes, each as the menu spells it (a tiny model copies tokens it
# can attend to; "request invitation" for the menu's request_invitation it did not learn to
# copy in 800 steps: W6 in EXPERIMENTS.md). One fixed sentence: free text here taught tiny models to ramble
# and never close the think, and varied wording is entropy that RL's KL pays for without reward.
# With it, the base's samples hit the expert's call in 30 % of SRL's groups instead of 10-15 %
# (vampire, bench/experiments/EXPERIMENTS.md W5 -> W7): the exploration SRL needs to find the expert's move.
THOUGHT = "I am a {species}. I can {options}. I will {verb}."


@dataclass(frozen=True)
class _SpeciesText:
    species: str
    ruleset: RuleSet
    passages: tuple[Passage, ...]                            # not quarantined
    lines_by_action: dict[str, tuple[tuple[str, str], ...]]  # action -> ((title, line), ...)
    all_lines: tuple[tuple[str, str], ...]

    @property
    def actions(self) -> list:
        return sorted(self.ruleset.actions.values(), key=lambda a: a.index)


def _clean_line(text: str) -> str:
    return " ".join(text.replace('"', "'").split())


def _clean_title(text: str) -> str:
    return " ".join(text.replace("*", "").split())


def _load(game_root: Path) -> list[_SpeciesText]:
    files = GameFiles(Path(game_root))
    lore_source = FileLoreSource(files)
    world = files.load_world()
    out = []
    for species in sorted(files.list_species()):
        lore = lore_source.load(species)
        ruleset = RuleSet.resolve(files.load_rules(species, world), [])
        passages = tuple(p for p in lore.passages if not (looks_like_injection(p.text) or looks_like_injection(p.title)))
        by_action: dict[str, list[tuple[str, str]]] = {}
        all_lines = []
        for p in passages:
            if p.kind != "example_line" or check_line(p.text) or check_line(p.title):
                continue
            title, line = _clean_title(p.title), _clean_line(p.text)
            if not title or not line:
                continue
            all_lines.append((title, line))
            for a in p.actions:
                by_action.setdefault(a, []).append((title, line))
        out.append(_SpeciesText(species, ruleset, passages, {k: tuple(v) for k, v in by_action.items()}, tuple(all_lines)))
    if not out:
        raise ValueError(f"no species found under {game_root}")
    return out


def random_step(sp: _SpeciesText, number: int, rng: random.Random) -> str:
    """One well-formed step with a random catalogue call (valid argument values), a title and a
    line from the species' lore. Not checked against any state or goal."""
    action = rng.choice(sp.actions)
    args = tuple((k, rng.choice(values)) for k, values in action.params.items())
    options = sp.lines_by_action.get(action.name) or sp.all_lines
    if options:
        title, line = rng.choice(options)
    else:
        title, line = action.name.replace("_", " ").capitalize(), _clean_line(action.description)
    return format_step(Step(number, title, action.name, args, line))


def _random_state(sp: _SpeciesText, rng: random.Random) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for name, spec in sp.ruleset.state.items():
        domain = sorted(spec.domain(), key=repr)
        if spec.type == "set":
            state[name] = frozenset(rng.sample(domain, rng.randint(0, min(2, len(domain)))))
        else:
            state[name] = rng.choice(domain)
    return state


def thought(species: str, options: Sequence[str], action: str) -> str:
    """The think of an answer in the warm-up's format: the menu's actions (``options``), then
    ``action`` (the SFT baseline writes the same think before the expert's step)."""
    return THOUGHT.format(species=species, options=", ".join(options) or "nothing", verb=action)


def _thought(sp: _SpeciesText, step: str, options: Sequence[str]) -> str:
    return thought(sp.species, options, step.split("** ", 1)[1].split("(", 1)[0])


def _lore(sp: _SpeciesText, rng: random.Random, k: int = LORE_PASSAGES) -> str:
    """``k`` random passages, plus a voice passage when none was drawn: what the offline retriever
    hands the prompts (``LexicalRetriever`` appends the species' voice when its top ``k`` lack one),
    so the warm-up sees as many passages as the SRL and evaluation prompts carry."""
    chosen = rng.sample(sp.passages, min(k, len(sp.passages)))
    if not any(p.kind == "voice" for p in chosen):
        voices = [p for p in sp.passages if p.kind == "voice"]
        if voices:
            chosen.append(voices[0])
    return describe_lore(p.to_dict() for p in chosen)


def _legal_step(sp: _SpeciesText, sim: Simulator, state: dict[str, Any], goal: str, number: int,
                rng: random.Random) -> str | None:
    """A random step that is legal in ``state`` (the simulator says so, line included) and does
    NOT reach ``goal``; applied to ``state``. None when there is no such step.

    Uniform over the legal *actions* first, then over that action's legal argument values: drawn
    uniformly over calls, an action with six argument values was six times as likely as one with
    none, and the warmed-up base rarely sampled the one-call actions (bargains, secrets,
    invitations) that most goals need, so SRL's rollouts never explored them."""
    check = sim.goal_check(goal)
    by_action: dict[str, list] = {}
    for call in sim.all_calls():
        by_action.setdefault(call.action, []).append(call)
    actions = sorted(by_action)
    rng.shuffle(actions)
    for action in actions:
        calls = by_action[action]
        rng.shuffle(calls)
        for call in calls:
            options = sp.lines_by_action.get(call.action) or sp.all_lines
            title, line = rng.choice(options) if options else (call.action.replace("_", " ").capitalize(), "...")
            after = dict(state)
            if not sim.apply(after, number, call.action, call.args, line, []) or check.success(after, {}):
                continue
            state.clear()
            state.update(after)
            return format_step(Step(number, title, call.action, tuple(call.args.items()), line))
    return None


def srl_sample(sp: _SpeciesText, rng: random.Random, lore_passages: int = LORE_PASSAGES) -> str:
    """An SRL prompt with a random goal, state and previous steps, then a think and ONE step.

    The steps are a random *legal* walk from the random state (each step legal where it is taken,
    none reaching the goal), so the base model learns the format, the voices and which moves the
    rules allow, but never a plan that reaches a goal. Where the walk gets stuck, the remaining
    steps are random catalogue calls (usually illegal); a sample whose ANSWER would be such a call
    is drawn again (up to ``ANSWER_ATTEMPTS`` times), so the answer is one of the moves the prompt's
    ``Moves now:`` line lists and never reaches the goal."""
    sim = Simulator(sp.ruleset)
    for _attempt in range(ANSWER_ATTEMPTS):
        goal = rng.choice(sorted(sp.ruleset.goals))
        state = _random_state(sp, rng)
        start = dict(state)
        k = rng.randint(0, MAX_PREVIOUS_STEPS)
        steps: list[str] = []
        answer_legal = False
        for number in range(1, k + 2):
            legal = _legal_step(sp, sim, state, goal, number, rng)
            steps.append(legal or random_step(sp, number, rng))
            answer_legal = legal is not None
        if answer_legal:  # the answer is one of the prompt's "Moves now:" (a stuck walk is drawn again)
            break
    previous, step = steps[:-1], steps[-1]
    # the turn contract: the state the walk reached after the previous steps (the simulator's replay)
    now, changed = replay(sp.ruleset, start, previous)
    prompt = turn_prompt(sp.species, goal, sp.ruleset, now, _lore(sp, rng, lore_passages), previous, changed)
    options = list(dict.fromkeys(action for action, _ in legal_calls(sp.ruleset, now)))
    return f"{prompt}\n<think>{_thought(sp, step, options)}</think>\n{step}"


def warmup_corpus(game_root: Path, seed: int, n: int, lore_passages: int = LORE_PASSAGES) -> list[str]:
    """``n`` warm-up texts (lore passages and SRL-format samples with one random step), the same
    list for the same game data and seed. See the module docstring."""
    species = _load(game_root)
    rng = random.Random(f"warmup-corpus:{seed}")
    texts = []
    for _ in range(n):
        sp = rng.choice(species)
        if sp.passages and rng.random() < LORE_FRACTION:
            texts.append(f"Lore:\n{_lore(sp, rng, lore_passages)}")
        else:
            texts.append(srl_sample(sp, rng, lore_passages))
    return texts


def game_texts(game_root: Path) -> list[str]:
    """The game's own text (world, rules and lore files as written, and the prompt's fixed
    phrases), which the built-in tokenizer is trained on together with the warm-up corpus."""
    files = GameFiles(Path(game_root))
    texts = [files.world_path.read_text(encoding="utf-8")]
    for species in sorted(files.list_species()):
        for path in (files.lore_path(species), files.rules_path(species)):
            if path.is_file():
                texts.append(path.read_text(encoding="utf-8"))
    texts.append(fixed_phrases())
    return texts
