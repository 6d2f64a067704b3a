"""The warm-up corpus of the built-in base models: the step format and the voices, no expert plans.

The embedded default's base models (see :mod:`.base_models`) are trained from scratch, so before
SRL they need to know what a step looks like and how each species speaks, but they must not know
how to reach goals (that is what SRL -> RLVR teaches; a base that already solves scenarios would
make the comparison meaningless). The corpus is built only from the game data
(``configs/game``), deterministically for a seed, and holds two kinds of texts:

1. **Lore passages** (about 20%): ``Species: <s>`` then the passage as the SRL prompt writes lore
   (``- [kind] title: text``). Teaches the voices and the world's vocabulary.
2. **SRL-format samples** (about 80%), shaped like the tail of an SRL prompt and its answer::

       Species: vampire
       Lore:
       - [voice] Courtly menace: ...
       Steps so far:
       1. **Speak of the night** converse(topic=the_night) | "The night is ..."
       Write your reasoning in <think>...</think>, then exactly one step numbered 2 in the format:
       3. **Show the fangs** intimidate(target=player) | "Leave, mortal, ..."
       <think>I am a vampire. Travel through the night to another place.</think>
       2. **Bat, mist and man** move(to=crypt) | "..."

   Every step here is *random*: an action drawn uniformly from the species' catalogue, each
   argument drawn from its allowed values, a title and a line taken from the species' lore
   (the action's ``example_line`` passages when it has some, else any of the species' example
   lines). There is no scenario, no goal, no simulator and no solver: the steps are well-formed
   and in voice but usually illegal or pointless, and never a goal-reaching expert plan. The
   reasoning is a template that restates the species and the action's description.

Lore that looks like prompt injection (``collaboration.guardrails.looks_like_injection``) and lines
that break a guardrail are left out, as the offline teacher does.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from ..collaboration.guardrails import check_line, looks_like_injection
from ..collaboration.prompts import STEP_FORMAT_EXAMPLE
from ..game.lore import Passage
from ..game.sources import FileLoreSource, GameFiles
from ..game.steps import Step, format_step

LORE_FRACTION = 0.2
MAX_PREVIOUS_STEPS = 2

_THOUGHTS = (
    "I am a {species}. {description}",
    "As a {species} I could {verb} now. {description}",
    "The lore speaks of {passage}. {description}",
    "{description} That suits a {species}.",
    "A {species} acts in its own voice. I will {verb}.",
)


@dataclass(frozen=True)
class _SpeciesText:
    species: str
    passages: tuple[Passage, ...]              # not quarantined
    actions: tuple[tuple[str, str, tuple[tuple[str, tuple[str, ...]], ...]], ...]  # (name, description, params)
    lines_by_action: dict[str, tuple[tuple[str, str], ...]]  # action -> ((title, line), ...)
    all_lines: tuple[tuple[str, str], ...]


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
        rules = files.load_rules(species, world)
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
        actions = tuple((a.name, a.description, tuple((k, tuple(v)) for k, v in a.params.items()))
                        for a in sorted(rules.actions.values(), key=lambda a: a.index))
        out.append(_SpeciesText(species, passages, actions, {k: tuple(v) for k, v in by_action.items()}, tuple(all_lines)))
    if not out:
        raise ValueError(f"no species found under {game_root}")
    return out


def _lore_line(p: Passage) -> str:
    return f"- [{p.kind}] {p.title}: {' '.join(p.text.split())}"


def random_step(sp: _SpeciesText, number: int, rng: random.Random) -> str:
    """One well-formed step with a random catalogue call (valid argument values), a title and a
    line from the species' lore. Not checked against any state or goal."""
    name, description, params = rng.choice(sp.actions)
    args = tuple((k, rng.choice(values)) for k, values in params)
    options = sp.lines_by_action.get(name) or sp.all_lines
    if options:
        title, line = rng.choice(options)
    else:
        title, line = name.replace("_", " ").capitalize(), _clean_line(description)
    return format_step(Step(number, title, name, args, line))


def _thought(sp: _SpeciesText, step: str, rng: random.Random) -> str:
    action = step.split("** ", 1)[1].split("(", 1)[0]
    description = next(d for n, d, _ in sp.actions if n == action)
    passage = rng.choice(sp.passages).title if sp.passages else sp.species
    return rng.choice(_THOUGHTS).format(species=sp.species, description=" ".join(description.split()),
                                        verb=action.replace("_", " "), passage=passage)


def srl_sample(sp: _SpeciesText, rng: random.Random) -> str:
    k = rng.randint(0, MAX_PREVIOUS_STEPS)
    previous = [random_step(sp, i, rng) for i in range(1, k + 1)]
    step = random_step(sp, k + 1, rng)
    lore = _lore_line(rng.choice(sp.passages)) if sp.passages else ""
    return (f"Species: {sp.species}\nLore:\n{lore}\nSteps so far:\n{chr(10).join(previous) or '(none yet)'}\n"
            f"Write your reasoning in <think>...</think>, then exactly one step numbered {k + 1} in the format:\n"
            f"{STEP_FORMAT_EXAMPLE}\n<think>{_thought(sp, step, rng)}</think>\n{step}")


def warmup_corpus(game_root: Path, seed: int, n: int) -> list[str]:
    """``n`` warm-up texts (lore passages and SRL-format samples with one random step), the same
    list for the same game data and seed. See the module docstring."""
    species = _load(game_root)
    rng = random.Random(f"warmup-corpus:{seed}")
    texts = []
    for _ in range(n):
        sp = rng.choice(species)
        if sp.passages and rng.random() < LORE_FRACTION:
            texts.append(f"Species: {sp.species}\nLore:\n{_lore_line(rng.choice(sp.passages))}")
        else:
            texts.append(srl_sample(sp, rng))
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
    texts.append("Species: \nGoal: \nEncounter state: \nLore:\nSteps so far:\n(none yet)\n"
                 "Write your reasoning in <think>...</think>, then exactly one step numbered 1 in the format:\n"
                 f"{STEP_FORMAT_EXAMPLE}\nHint: the next step is titled \"\".")
    return texts
