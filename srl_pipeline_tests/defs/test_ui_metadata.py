"""Metadata on the asset pages: the report's table per species (an average row only when it
averages something), the models table with units, the training curves."""

from srl_pipeline.defs.ui_metadata import curve_metadata, models_table, species_table

RESULTS = {"lich": {"base": {"success_greedy": 0.1}, "srl": {"success_greedy": 0.3, "kl_to_base": 0.01234567}},
           "zombie": {"base": {"success_greedy": 0.2}}}


def test_the_species_table_has_percentages_and_an_average_over_the_species_that_have_the_cell():
    table = species_table(RESULTS, ["base", "srl"])
    rows = [r.data for r in table.records]
    assert rows == [{"species": "lich", "Base (%)": 10.0, "SRL (%)": 30.0},
                    {"species": "zombie", "Base (%)": 20.0, "SRL (%)": None},   # an empty cell
                    {"species": "average", "Base (%)": 15.0, "SRL (%)": 30.0}]
    one = species_table({"lich": RESULTS["lich"]}, ["base", "srl"])
    assert [r.data["species"] for r in one.records] == ["lich"]


def test_the_models_table_names_units_and_rounds():
    table = models_table(RESULTS["lich"], ["base", "srl", "sft"])
    rows = [{k: v for k, v in r.data.items() if v is not None} for r in table.records]
    assert rows == [{"model": "Base", "success greedy (%)": 10.0},
                    {"model": "SRL", "success greedy (%)": 30.0, "KL to base (per token)": 0.0123}]
    assert "format errors (% of turns)" in {c.name for c in table.schema.columns}


def test_curves_are_the_reward_and_the_kl_or_the_loss_for_sft():
    srl = {"history": [{"step": 1, "reward_mean": 0.1, "kl": 0.0}, {"step": 2, "reward_mean": 0.2, "kl": 0.03}]}
    assert set(curve_metadata(srl, 0.1)) == {"reward curve", "KL curve"}
    assert "dashed: 0.1" in curve_metadata(srl, 0.1)["KL curve"].value
    sft = {"history": [{"step": 1, "loss": 3.0}, {"step": 2, "loss": 2.0}]}
    assert set(curve_metadata(sft, 0.1)) == {"loss curve"}
