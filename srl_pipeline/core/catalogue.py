"""The catalogue of tiers and models (DESIGN.md §5): the one place that names them.

- **Tiers**, largest first: Bronze (SRL -> RLVR trains it), Silver, Gold (smallest, real-time).
- **Models** of a species, in the paper's Table 1 order (arXiv 2510.25992), which is also the
  order of every results table: the base, the paper's baselines SFT and RLVR-only (experiments,
  not on the production path), SRL and SRL -> RLVR (production, Bronze), then the distilled
  Silver and Gold students of the cascade. Each names the stage that trains
  it, the tier whose base model it adapts and the asset its adapter is stored under
  (``artifacts/<adapter_asset>/<species>/``; the base has none).

Plain frozen dataclasses, no Dagster: the CLI, the evaluation, the report and the Dagster layer
all read them from here.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "MODELS", "REFERENCES", "STAGES", "TEACHERS", "TIERS", "TIER_MODELS", "Model", "Tier", "experiment_models", "label", "model", "model_names",
    "production_models", "table_columns", "tier", "tier_names",
]

STAGES = ("srl", "rlvr", "sft", "distill")


@dataclass(frozen=True)
class Tier:
    name: str     # "bronze": asset keys (base_models/<name>), profile keys, CLI choices
    label: str    # as printed


@dataclass(frozen=True)
class Model:
    name: str                  # "srl_rlvr": result keys, CLI choices
    label: str                 # as printed in tables ("SRL→RLVR")
    stage: str | None          # the training stage that produced it (one of STAGES); None for the base
    tier: str                  # whose base model it adapts
    adapter_asset: str | None  # artifacts/<adapter_asset>/<species>/; None for the base
    production: bool           # on the production path (False: an experiment, one of the paper's baselines)


# Largest first.
TIERS: tuple[Tier, ...] = (
    Tier("bronze", "Bronze"),
    Tier("silver", "Silver"),
    Tier("gold", "Gold"),
)

# The table order (the paper's Table 1).
MODELS: tuple[Model, ...] = (
    Model("base", "Base", stage=None, tier="bronze", adapter_asset=None, production=True),
    Model("sft", "SFT", stage="sft", tier="bronze", adapter_asset="sft_adapter", production=False),
    Model("rlvr_only", "RLVR-only", stage="rlvr", tier="bronze", adapter_asset="rlvr_only_adapter", production=False),
    Model("srl", "SRL", stage="srl", tier="bronze", adapter_asset="srl_adapter", production=True),
    Model("srl_rlvr", "SRL→RLVR", stage="rlvr", tier="bronze", adapter_asset="rlvr_adapter", production=True),
    # The cascade: distilled from the tier above (Bronze's SRL→RLVR teaches Silver, Silver teaches Gold).
    Model("silver", "Silver", stage="distill", tier="silver", adapter_asset="silver_adapter", production=True),
    Model("gold", "Gold", stage="distill", tier="gold", adapter_asset="gold_adapter", production=True),
)

# The model each tier serves (what the registry registers per species and tier) and its teacher.
TIER_MODELS: dict[str, str] = {"bronze": "srl_rlvr", "silver": "silver", "gold": "gold"}
TEACHERS: dict[str, str] = {"silver": "bronze", "gold": "silver"}

# Reference rows that calibrate every table (no model: a policy over the simulator), around the
# models: a random legal policy (the floor of knowing the rules) first, the solver (the ceiling) last.
REFERENCES: dict[str, str] = {"random_legal": "Random legal", "solver": "Solver"}

_TIERS = {t.name: t for t in TIERS}
_MODELS = {m.name: m for m in MODELS}


def tier(name: str) -> Tier:
    """The tier called ``name`` (KeyError naming the known ones otherwise)."""
    try:
        return _TIERS[name]
    except KeyError:
        raise KeyError(f"unknown tier {name!r}; known: {', '.join(_TIERS)}") from None


def model(name: str) -> Model:
    """The model called ``name`` (KeyError naming the known ones otherwise)."""
    try:
        return _MODELS[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(_MODELS)}") from None


def tier_names() -> tuple[str, ...]:
    """Every tier's name, largest first."""
    return tuple(t.name for t in TIERS)


def model_names() -> tuple[str, ...]:
    """Every model's name in the table order."""
    return tuple(m.name for m in MODELS)


def table_columns() -> tuple[str, ...]:
    """The columns of a results table: the floor reference, the models in table order, the ceiling."""
    return ("random_legal", *model_names(), "solver")


def production_models() -> tuple[Model, ...]:
    """The models on the production path, in the table order."""
    return tuple(m for m in MODELS if m.production)


def experiment_models() -> tuple[Model, ...]:
    """The paper's baselines (experiments), in the table order."""
    return tuple(m for m in MODELS if not m.production)


def label(name: str) -> str:
    """A model's label as printed in tables; an unknown name is printed as it is."""
    m = _MODELS.get(name)
    return m.label if m is not None else REFERENCES.get(name, name)
