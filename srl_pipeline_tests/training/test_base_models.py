"""Built-in base models: game-trained tokenizer, tiny Qwen2 models, HF format, deterministic."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from srl_pipeline.game.steps import parse_step
from srl_pipeline.training.base_models import (
    BUILTIN_TIERS, TierSpec, WarmupSettings, build_builtin_base_models, build_tokenizer, load_base_model,
)
from srl_pipeline.training.rewards import extract_step
from srl_pipeline.training.warmup_corpus import game_texts, warmup_corpus

GAME = Path(__file__).resolve().parents[2] / "configs" / "game"
STEP = '3. **Show the fangs** intimidate(target=player) | "Leave, mortal, while your blood still runs warm."'
TINY = {
    "bronze": TierSpec("bronze", hidden_size=48, num_layers=2, num_heads=2, num_kv_heads=1, intermediate_size=96),
    "gold": TierSpec("gold", hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1, intermediate_size=64),
}
FAST = WarmupSettings(batch_size=2, max_len=768, lr=1e-2, lr_warmup_steps=2, corpus_texts=24)
VOCAB = 384


def _build(out: Path, seed: int = 0, tiers=None):
    return build_builtin_base_models(GAME, out, tiers=tiers or TINY, seed=seed, warmup_steps=6, vocab_size=VOCAB,
                                     settings=FAST)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("base_models")
    return out, _build(out)


def test_saved_in_hugging_face_format_with_metadata(built):
    out, infos = built
    assert sorted(p.name for p in out.iterdir()) == ["bronze", "gold"]  # no temp folders left behind
    for tier, info in infos.items():
        d = out / tier
        assert Path(info.path) == d
        for f in ("config.json", "model.safetensors", "generation_config.json", "tokenizer.json",
                  "tokenizer_config.json", "base_model.json"):
            assert (d / f).is_file(), f
        meta = json.loads((d / "base_model.json").read_text())
        assert meta["parameters"] == info.parameters and meta["vocab_size"] == VOCAB == info.vocab_size
        assert meta["warmup_loss"] == info.warmup_loss and len(meta["losses"]) == 6
        assert info.warmup_loss["last"] < info.warmup_loss["first"]
        assert info.seconds > 0
    assert infos["bronze"].parameters > infos["gold"].parameters


def test_loads_back_through_from_pretrained_and_generates(built):
    out, infos = built
    model, tok = load_base_model(out / "gold")
    assert model.config.model_type == "qwen2"
    assert type(model).__name__ == "Qwen2ForCausalLM"
    assert len(tok) == model.config.vocab_size == VOCAB
    assert sum(p.numel() for p in model.parameters()) == infos["gold"].parameters
    ids = tok("Species: zombie\nSteps so far:\n(none yet)\n<think>", return_tensors="pt")
    with torch.no_grad():
        gen = model.generate(**ids, max_new_tokens=5, do_sample=False, pad_token_id=tok.pad_token_id)
    assert gen.shape[1] > ids["input_ids"].shape[1]
    assert isinstance(tok.decode(gen[0]), str)


def test_tokenizer_round_trips_steps_and_think_tags(built):
    out, _ = built
    _, tok = load_base_model(out / "bronze")
    text = f"<think>The mortal trembles.</think>\n{STEP}"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.decode(ids, skip_special_tokens=True) == text  # think tags survive skip_special_tokens
    assert tok.convert_tokens_to_ids("<think>") in ids and tok.convert_tokens_to_ids("</think>") in ids
    assert len(tok("</think>", add_special_tokens=False)["input_ids"]) == 1
    assert tok.eos_token == "<|endoftext|>" and tok.pad_token == "<|pad|>" and tok.pad_token_id != tok.eos_token_id
    assert parse_step(tok.decode(tok(STEP)["input_ids"])) == parse_step(STEP)
    assert tok.chat_template is None  # plain text


def test_same_seed_same_weights_and_losses(built, tmp_path):
    out, infos = built
    again = _build(tmp_path / "again", tiers={"gold": TINY["gold"]})
    assert again["gold"].losses == infos["gold"].losses
    a, b = load_file(out / "gold" / "model.safetensors"), load_file(tmp_path / "again" / "gold" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (out / "gold" / "tokenizer.json").read_bytes() == (tmp_path / "again" / "gold" / "tokenizer.json").read_bytes()
    other = _build(tmp_path / "other", seed=1, tiers={"gold": TINY["gold"]})
    c = load_file(tmp_path / "other" / "gold" / "model.safetensors")
    assert other["gold"].losses != infos["gold"].losses
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_rebuild_replaces_atomically(tmp_path):
    tiers = {"gold": TINY["gold"]}
    _build(tmp_path, tiers=tiers)
    (tmp_path / "gold" / "stale.txt").write_text("old build")
    _build(tmp_path, tiers=tiers)
    assert not (tmp_path / "gold" / "stale.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["gold"]


def test_warmup_corpus_teaches_the_format_without_plans():
    corpus = warmup_corpus(GAME, seed=3, n=60)
    assert corpus == warmup_corpus(GAME, seed=3, n=60)
    assert corpus != warmup_corpus(GAME, seed=4, n=60)
    samples = [t for t in corpus if "</think>" in t]
    assert 0 < len(samples) < len(corpus)  # lore texts and SRL samples
    for t in samples:
        prompt, answer = t.rsplit("\n<think>", 1)
        assert "Write your reasoning in <think>...</think>, then exactly one step " in prompt
        step = extract_step("<think>" + answer)  # exactly one well-formed step after the think
        assert step is not None
        n = int(prompt.rsplit("exactly one step ", 1)[1].split(".", 1)[0])
        assert parse_step(step).number == n
    for t in corpus:
        if "</think>" not in t:
            assert t.startswith("Lore:\n- [")


def test_warmup_think_reads_the_menu_then_names_the_steps_action():
    """The think lists the actions of the prompt's "Moves now:" menu as the menu spells them, in its
    order, then the action the step takes (one of them): the base then samples the expert's move more
    often (the exploration SRL needs)."""
    import re

    samples = [t for t in warmup_corpus(GAME, seed=5, n=80) if "</think>" in t]
    assert samples
    for t in samples:
        prompt, answer = t.rsplit("\n<think>", 1)
        think, step_text = answer.split("</think>\n", 1)
        menu = prompt.rsplit("\nMoves now: ", 1)[1]
        menu_actions = list(dict.fromkeys(re.findall(r"(?:^|; )(\w+)\(", menu)))
        options = think.split(" I can ", 1)[1].split(". I will ", 1)[0].split(", ")
        assert options == menu_actions
        action = parse_step(step_text.strip()).action
        assert think.endswith(f"I will {action}.") and action in menu_actions


def test_tokenizer_is_deterministic_and_sized():
    texts = game_texts(GAME) + warmup_corpus(GAME, 0, 20)
    a, b = build_tokenizer(texts, vocab_size=VOCAB), build_tokenizer(texts, vocab_size=VOCAB)
    assert len(a) == VOCAB and a.get_vocab() == b.get_vocab()
    assert a(STEP)["input_ids"] == b(STEP)["input_ids"]
    with pytest.raises(ValueError):
        build_tokenizer(texts, vocab_size=100)


def test_builtin_tiers_decrease_in_size():
    sizes = [BUILTIN_TIERS[t] for t in ("bronze", "silver", "gold")]
    widths = [s.hidden_size * s.num_layers for s in sizes]
    assert widths == sorted(widths, reverse=True) and len(set(widths)) == 3


def test_warmup_steps_are_legal_where_taken_and_never_reach_the_goal():
    import random

    from srl_pipeline.game.simulator import Simulator
    from srl_pipeline.training.warmup_corpus import _legal_step, _load, _random_state

    rng = random.Random(5)
    for sp in _load(GAME):
        sim = Simulator(sp.ruleset)
        for _ in range(20):
            goal = rng.choice(sorted(sp.ruleset.goals))
            state = _random_state(sp, rng)
            before = dict(state)
            step = _legal_step(sp, sim, state, goal, 1, rng)
            if step is None:
                assert state == before          # stuck: nothing applied
                continue
            parsed = parse_step(step)
            replay = dict(before)
            assert sim.apply(replay, 1, parsed.action, parsed.args_dict, parsed.line, [])   # legal here
            assert replay == state                                                          # and applied
            assert not sim.goal_check(goal).success(state, {})                              # no goal reached


def test_warmup_answers_are_on_the_prompts_move_menu():
    """The answer of a turn sample is one of the calls its ``Moves now:`` line lists (the menu is the
    observation; a stuck walk is drawn again rather than answered with an illegal call)."""
    texts = [t for t in warmup_corpus(GAME, seed=7, n=80) if "\nMoves now: " in t]
    assert len(texts) > 40
    for t in texts:
        menu = t.split("\nMoves now: ", 1)[1].split("\n", 1)[0]
        answer = parse_step(t.rsplit("\n", 1)[1])
        assert f"{answer.action}(" in menu, (menu, answer.action)


def test_tiers_built_side_by_side_equal_the_sequential_build(built, tmp_path):
    """processes=2 warms the tiers up in spawned processes: same losses, same weights, same order."""
    out, infos = built
    side = build_builtin_base_models(GAME, tmp_path / "side", tiers=TINY, seed=0, warmup_steps=6, vocab_size=VOCAB,
                                     settings=FAST, processes=2)
    assert list(side) == list(infos)
    for tier in TINY:
        assert side[tier].losses == infos[tier].losses
        a = load_file(out / tier / "model.safetensors")
        b = load_file(tmp_path / "side" / tier / "model.safetensors")
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_warmup_answers_are_drawn_over_actions_not_calls():
    """A one-call action (no arguments) is about as likely as an action with many argument values:
    the base must explore bargains and secrets, not mostly `move(to=...)`."""
    import random
    from collections import Counter

    from srl_pipeline.game.simulator import Simulator
    from srl_pipeline.training.warmup_corpus import _legal_step, _load

    sp = next(s for s in _load(GAME) if s.species == "vampire")
    sim = Simulator(sp.ruleset)
    state = sim.initial_state({"location": "village", "time": "night", "trust": 2})
    counts = Counter()
    rng = random.Random(0)
    for _ in range(600):
        step = _legal_step(sp, sim, dict(state), "strike_bargain", 1, rng)
        counts[parse_step(step).action] += 1
    # vampire's move has six destinations (five legal from the village), converse four topics
    assert counts["move"] < 2 * counts["intimidate"], counts
    assert counts["converse"] < 2 * counts["request_invitation"], counts


def test_focused_batches_cut_the_previous_steps_and_keep_positions():
    from srl_pipeline.training.base_models import _rows

    corpus = warmup_corpus(GAME, seed=3, n=40)
    tok = build_tokenizer(game_texts(GAME) + corpus, VOCAB)
    row = next(r for r in _rows(corpus, tok) if r.history and r.context)
    full_ids, full_pos, _, _ = row.view(True, 4096)
    ids, pos, start, hole = row.view(True, 4096, skip_history=True)
    b, e = row.history
    assert len(full_ids) - len(ids) == e - b > 0
    assert pos == [p for p in full_pos if not b <= p < e]         # later tokens keep their positions
    assert tok.decode(ids[start:]).startswith("\nSteps so far:\n\nState now: ")
    assert "<think>" in tok.decode(ids[hole[1]:])               # the answer stays supervised


def test_learn_menu_supervises_the_menu_but_not_the_state():
    from srl_pipeline.training.base_models import _collate, _rows

    corpus = [t for t in warmup_corpus(GAME, seed=4, n=30) if "\nMoves now: " in t]
    tok = build_tokenizer(game_texts(GAME) + corpus, VOCAB)
    for learn_menu in (False, True):
        row = _rows(corpus[:1], tok, learn_menu)[0]
        ids, _, _, labels = _collate([row], False, 4096, tok.pad_token_id)
        target = tok.decode([t for t in labels[0].tolist() if t != -100])
        assert "State now:" not in target and "<think>" in target
        assert ("Moves now:" in target) == learn_menu
