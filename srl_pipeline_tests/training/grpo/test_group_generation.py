"""One ``generate`` call for all groups: each group samples from its own seed (so its samples do not
depend on the other groups), the Gumbel-max draw follows the warped softmax, and menu-covering groups
hold each row to the action its think names."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from srl_pipeline.training.generation import SeededGroupSampling  # noqa: E402
from srl_pipeline.training.grpo.menu_groups import group_prefixes, prompt_species  # noqa: E402
from srl_pipeline.training.menu_constraint import MenuConstraint  # noqa: E402
from srl_pipeline_tests.tiny_models import PROMPTS, flat_or_varied, make_trainer  # noqa: E402

MENU = "converse(topic=old_wars|the_night); move(to=castle|forest); request_invitation(target=player)"
PROMPT = f"Species: vampire\nLore:\n- v\nGoal: g\nSteps so far:\n(none yet)\nState now: trust=1\nMoves now: {MENU}"


def test_a_groups_samples_do_not_depend_on_the_groups_beside_it(tiny_model_dir, tmp_path):
    trainer = make_trainer(tiny_model_dir, tmp_path, PROMPTS, flat_or_varied, hp={"max_completion_length": 12})
    tok = trainer.processing_class
    a = tok("live 0: the vampire meets a mortal.", add_special_tokens=False)["input_ids"]
    b = tok("flat 3: a quiet crypt, long and longer.", add_special_tokens=False)["input_ids"]
    both = trainer._generate_groups([b] * 4 + [a] * 4, [11, 22], 4)
    alone = trainer._generate_groups([a] * 4, [22], 4)
    assert both[4:] == alone
    assert len({tuple(x) for x in alone}) > 1                     # it samples: the rows of a group differ
    assert trainer._generate_groups([a] * 4, [23], 4) != alone      # another seed, other samples


def test_the_gumbel_max_draw_follows_the_warped_softmax():
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0, -8.0]])
    draws = 4000
    sampler = SeededGroupSampling([0], draws, temperature=1.0, top_p=0.9)
    picks = sampler(torch.zeros((draws, 1), dtype=torch.long), logits.expand(draws, -1).clone()).argmax(dim=1)
    freq = torch.bincount(picks, minlength=5).float() / draws
    kept = torch.softmax(logits[0, :3], dim=0)                     # top_p 0.9 keeps the three most likely
    assert torch.allclose(freq[:3], kept, atol=0.03), freq
    assert freq[3:].sum() == 0
    hot = SeededGroupSampling([0], draws, temperature=2.0)
    picks = hot(torch.zeros((draws, 1), dtype=torch.long), logits.expand(draws, -1).clone()).argmax(dim=1)
    freq = torch.bincount(picks, minlength=5).float() / draws
    assert torch.allclose(freq, torch.softmax(logits[0] / 2.0, dim=0), atol=0.03), freq


def test_menu_groups_cover_the_menu_and_each_row_keeps_to_its_action():
    assert prompt_species(PROMPT) == "vampire"
    rows = group_prefixes(PROMPT, 4, seed=5)
    named = [text.split("I will ", 1)[1].split(".", 1)[0] for text, _ in rows]
    assert set(named) == {"converse", "move", "request_invitation"}      # a menu of three: all of it in a group of four
    for (text, calls), action in zip(rows, named):
        assert text.startswith("\n<think>I am a vampire. I can converse, move, request_invitation. I will ")
        assert text.endswith("</think>\n") and calls and all(c.startswith(f" {action}(") for c in calls)
    assert group_prefixes(PROMPT, 4, seed=5) == rows                     # seeded
    wide = group_prefixes(PROMPT, 2, seed=1)
    assert len({t for t, _ in wide}) == 2                                 # a smaller group: distinct actions
    assert group_prefixes("no menu here", 3, seed=0) == [("", [])] * 3   # nothing to cover: rows sample freely


def test_a_rows_call_is_held_to_its_targets_whatever_the_model_prefers(tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    prompt_ids = tok(PROMPT, add_special_tokens=False)["input_ids"]
    prefix = tok("\n<think>I will move.</think>\n1. **Away**", add_special_tokens=False)["input_ids"]
    ids = prompt_ids + prefix
    targets = [[" move(to=castle) |", " move(to=forest) |"]]
    constraint = MenuConstraint(tok, len(ids), targets, starts=[len(prompt_ids)])
    for seed in range(5):
        gen, row = torch.Generator().manual_seed(seed), list(ids)
        for _ in range(30):
            scores = constraint(torch.tensor([row]), torch.randn(1, len(tok), generator=gen))
            row.append(int(scores.argmax()))
            call = tok.decode(row[len(ids):])
            if " |" in call:
                break
        assert call.split(" |", 1)[0].strip() in {"move(to=castle)", "move(to=forest)"}, call


@pytest.fixture
def trl_calls(monkeypatch) -> list:
    """Counts the calls that reach TRL's own log-prob path (the fallback of the shared one)."""
    from trl import GRPOTrainer

    trl_path = GRPOTrainer._get_per_token_logps_and_entropies
    calls: list = []
    monkeypatch.setattr(GRPOTrainer, "_get_per_token_logps_and_entropies",
                        lambda self, *a, **k: calls.append(1) or trl_path(self, *a, **k))
    return calls


def _assert_shared_path_matches_trls(trainer, ids, mask, completion_mask, chunk: int, calls: list) -> None:
    """Log-probs, entropies and gradients of the shared-prefix path equal TRL's, and the shared path
    did not fall back to TRL's."""
    keep = completion_mask.size(1)
    params = [p for p in trainer.model.parameters() if p.requires_grad]
    results = []
    for share in (True, False):
        trainer.share_group_prompts = share
        calls.clear()
        trainer.model.zero_grad()
        logps, entropy, _ = trainer._get_per_token_logps_and_entropies(trainer.model, ids, mask, keep,
                                                                       batch_size=chunk, compute_entropy=True)
        (logps * completion_mask).sum().backward()
        assert len(calls) == (0 if share else 1)   # the shared path did not fall back to TRL's
        results.append((logps.detach(), entropy, [p.grad.clone() for p in params]))
    (shared, ent_s, grad_s), (full, ent_f, grad_f) = results
    assert torch.allclose(shared, full, atol=1e-5), (shared - full).abs().max()
    assert torch.allclose(ent_s, ent_f, atol=1e-4)
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(grad_s, grad_f))
    assert any(g.abs().sum() > 0 for g in grad_s)


def test_a_groups_prompt_run_once_gives_the_same_logprobs_and_gradients(tiny_model_dir, tmp_path, trl_calls):
    trainer = make_trainer(tiny_model_dir, tmp_path, PROMPTS, flat_or_varied, hp={"max_completion_length": 10})
    trainer.model.train()
    batch = trainer._generate_and_score_completions(
        [{"prompt": p, "target": "1. **T** a() | \"x\""} for p in ("live 0: the vampire meets a mortal.",
                                                                  "live 1: the vampire.") for _ in range(4)])
    order = torch.randperm(8, generator=torch.Generator().manual_seed(0))   # TRL shuffles rows before the loss
    ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], dim=1)[order]
    mask = torch.cat([batch["prompt_mask"], batch["completion_mask"]], dim=1)[order]
    batch["completion_mask"] = batch["completion_mask"][order]
    _assert_shared_path_matches_trls(trainer, ids, mask, batch["completion_mask"], 8, trl_calls)


def test_generation_from_a_shared_prompt_cache_draws_the_same_samples(tiny_model_dir, tmp_path):
    trainer = make_trainer(tiny_model_dir, tmp_path, PROMPTS, flat_or_varied, hp={"max_completion_length": 12})
    tok = trainer.processing_class
    a = tok("live 0: the vampire meets a mortal.", add_special_tokens=False)["input_ids"]
    b = tok("flat 3: a quiet crypt, long and longer, and longer still, with old bones in it.",
            add_special_tokens=False)["input_ids"]
    assert len(b) > len(a) + 5   # the shorter prompt is left-padded: its positions must match generate's
    rows = [b] * 4 + [a] * 4
    trainer.share_group_prompts = True
    shared = trainer._generate_groups(rows, [11, 22], 4)
    trainer.share_group_prompts = False
    assert trainer._generate_groups(rows, [11, 22], 4) == shared


def test_turns_that_share_a_scenarios_beginning_give_the_same_logprobs_and_gradients(tiny_model_dir, tmp_path,
                                                                                      trl_calls):
    """RLVR's rows: turns of one scenario differ after the lore, and a chunk holds two scenarios."""
    trainer = make_trainer(tiny_model_dir, tmp_path, PROMPTS, flat_or_varied, hp={"max_completion_length": 10})
    trainer.model.train()
    tok = trainer.processing_class
    lore = {s: f"Species: {s}\nLore:\n- " + f"the {s} keeps to the night and to its old ways. " * 4
            for s in ("vampire", "ghoul")}
    prompts = [lore[s] + f"Steps so far: {n} steps.\nState now: trust={n * 2}" for s in lore for n in range(3)]
    prompts.append("Species: zombie, alone.")
    g = torch.Generator().manual_seed(1)
    lengths = torch.randint(2, 9, (7,), generator=g).tolist()
    completions = [torch.randint(3, 200, (n,), generator=g).tolist() for n in lengths]
    prompt_ids = [tok(p, add_special_tokens=False)["input_ids"] for p in prompts]
    batch = trainer._rows_batch(prompt_ids, completions, [1.0] * 7)
    ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], dim=1)
    mask = torch.cat([batch["prompt_mask"], batch["completion_mask"]], dim=1)
    _assert_shared_path_matches_trls(trainer, ids, mask, batch["completion_mask"], 7, trl_calls)
