"""The catalogue of tiers and models: the names, labels, adapter assets and table order every
other part reads."""

from __future__ import annotations

import dataclasses

import pytest

from srl_pipeline.core import catalogue
from srl_pipeline.core.catalogue import MODELS, STAGES, TIERS


def test_tiers_largest_first():
    assert catalogue.tier_names() == ("bronze", "silver", "gold")
    assert [t.label for t in TIERS] == ["Bronze", "Silver", "Gold"]
    assert catalogue.tier("silver") is TIERS[1]


def test_models_in_the_table_order():
    assert catalogue.model_names() == ("base", "sft", "rlvr_only", "srl", "srl_rlvr", "silver", "gold")
    assert {m.name: m.label for m in MODELS} == {
        "base": "Base", "sft": "SFT", "rlvr_only": "RLVR-only", "srl": "SRL", "srl_rlvr": "SRL→RLVR",
        "silver": "Silver", "gold": "Gold"}
    assert {m.name: m.adapter_asset for m in MODELS} == {
        "base": None, "sft": "sft_adapter", "rlvr_only": "rlvr_only_adapter", "srl": "srl_adapter",
        "srl_rlvr": "rlvr_adapter", "silver": "silver_adapter", "gold": "gold_adapter"}
    assert {m.name: m.stage for m in MODELS} == {
        "base": None, "sft": "sft", "rlvr_only": "rlvr", "srl": "srl", "srl_rlvr": "rlvr",
        "silver": "distill", "gold": "distill"}
    assert {m.name: m.tier for m in MODELS if m.stage == "distill"} == {"silver": "silver", "gold": "gold"}
    assert [m.name for m in catalogue.production_models()] == ["base", "srl", "srl_rlvr", "silver", "gold"]
    assert catalogue.TIER_MODELS == {"bronze": "srl_rlvr", "silver": "silver", "gold": "gold"}
    assert [m.name for m in catalogue.experiment_models()] == ["sft", "rlvr_only"]


def test_every_model_is_consistent():
    tiers = set(catalogue.tier_names())
    assets = [m.adapter_asset for m in MODELS if m.adapter_asset]
    assert len(set(assets)) == len(assets)
    for m in MODELS:
        assert m.tier in tiers
        assert (m.stage is None) == (m.adapter_asset is None), m
        assert m.stage is None or m.stage in STAGES


def test_lookups():
    assert catalogue.model("srl_rlvr").adapter_asset == "rlvr_adapter"
    assert catalogue.label("rlvr_only") == "RLVR-only" and catalogue.label("solver") == "Solver"
    assert catalogue.label("nope") == "nope"
    assert catalogue.table_columns() == ("random_legal", *catalogue.model_names(), "solver")
    with pytest.raises(KeyError, match="unknown model 'nope'; known: base, sft"):
        catalogue.model("nope")
    with pytest.raises(KeyError, match="unknown tier 'tin'"):
        catalogue.tier("tin")
    with pytest.raises(dataclasses.FrozenInstanceError):
        MODELS[0].label = "x"  # type: ignore[misc]


def test_builtin_base_models_cover_the_tiers():
    from srl_pipeline.training.base_models import BUILTIN_TIERS

    assert tuple(BUILTIN_TIERS) == catalogue.tier_names()
