"""SRL step-wise examples: one per expert step, previous steps in the prompt, splits kept."""

from srl_pipeline.collaboration.offline_roles import LexicalRetriever, RuleBasedVerifier, SearchPlanner
from srl_pipeline.collaboration.orchestrator import Orchestrator
from srl_pipeline.collaboration.settings import CollaborationSettings
from srl_pipeline.training.srl_dataset import SRLDatasetSpec, approx_tokens, build_srl_examples
from srl_pipeline_tests.collaboration.helpers import jobs_for, species_context


def _examples(title_hint: bool):
    ctx = species_context("zombie")
    jobs = jobs_for(ctx, 20)
    results = Orchestrator(CollaborationSettings(), LexicalRetriever(), SearchPlanner(), RuleBasedVerifier()).run(jobs)
    records = [r.to_record() for r in results]
    scenarios = {j.scenario.id: j.scenario for j in jobs}
    lore = {p.id: p.to_dict() for p in ctx.lore.passages}
    return records, scenarios, build_srl_examples(records, scenarios, ctx.ruleset, lore, SRLDatasetSpec(title_hint))


def test_one_example_per_step_with_the_previous_steps_as_context():
    records, scenarios, examples = _examples(False)
    accepted = [r for r in records if r["accepted"]]
    assert len(examples) == sum(len(r["steps"]) for r in accepted)
    for r in accepted:
        mine = [e for e in examples if e["scenario_id"] == r["scenario_id"]]
        assert [e["step"] for e in mine] == list(range(1, len(r["steps"]) + 1))
        for e in mine:
            assert e["target"] == r["steps"][e["step"] - 1]
            assert all(prev in e["prompt"] for prev in r["steps"][: e["step"] - 1])
            assert all(later not in e["prompt"] for later in r["steps"][e["step"] - 1:])
            assert e["split"] == scenarios[e["scenario_id"]].split
            assert "Hint:" not in e["prompt"] and "<think>" in e["prompt"]
            assert e["prompt_tokens"] == approx_tokens(e["prompt"])


def test_title_hint_option_adds_the_next_steps_title():
    _, _, examples = _examples(True)
    for e in examples:
        title = e["target"].split("**")[1]
        assert f'Hint: the next step is titled "{title}".' in e["prompt"]
