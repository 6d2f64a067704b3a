"""Resources: where the game data lives and where artifacts go, configured from the profile."""


from pathlib import Path
from typing import Any, Literal, Optional

import dagster as dg
from pydantic import Field

from ..artifacts import atomic_write_json, read_json
from ..core.catalogue import tier_names
from ..game.names import validate_species_name
from ..game.rules import RuleSet, World
from ..game.scenarios import ScenarioSpec
from ..game.sources import (
    FileGameStateSource, FileLoreSource, GameFiles, GameStateSource, LoreSource,
    PostgresGameStateSource, PostgresLoreSource,
)


class GameDataResource(dg.ConfigurableResource):
    """Lore, rules and live game state: files by default, PostgreSQL tables when configured."""

    root: str = Field(description="Folder of world.yaml, game_state.yaml and species/<name>/{lore,rules}.yaml")
    lore_backend: Literal["files", "postgres"] = "files"
    game_state_backend: Literal["files", "postgres"] = "files"
    postgres_dsn: Optional[str] = Field(default=None, description="Set through EnvVar('SRL_POSTGRES_DSN'); never inline")
    lore_table: str = "srl_lore_passages"
    game_state_table: str = "srl_game_state"

    def files(self) -> GameFiles:
        return GameFiles(Path(self.root))

    def _dsn(self) -> str:
        if not self.postgres_dsn:
            raise ValueError("a postgres backend is configured but SRL_POSTGRES_DSN is not set")
        return self.postgres_dsn

    def lore_source(self) -> LoreSource:
        if self.lore_backend == "postgres":
            return PostgresLoreSource(self._dsn(), self.lore_table)
        return FileLoreSource(self.files())

    def game_state_source(self) -> GameStateSource:
        if self.game_state_backend == "postgres":
            return PostgresGameStateSource(self._dsn(), self.game_state_table)
        return FileGameStateSource(self.files().game_state_path)

    def world(self) -> World:
        return self.files().load_world()

    def rules_in_force(self, species: str) -> RuleSet:
        files = self.files()
        return RuleSet.resolve(files.load_rules(species), self.game_state_source().active_events())


class ScenarioSettings(dg.ConfigurableResource):
    """How many scenarios to make and how to split them (profile: scenarios)."""

    count: int = 120
    seed: int = 0
    test_fraction: float = 0.2
    validation_fraction: float = 0.12
    min_plan_steps: int = 2
    max_plan_steps: int = 6

    def spec(self) -> ScenarioSpec:
        return ScenarioSpec(self.count, self.seed, self.test_fraction, self.validation_fraction,
                            self.min_plan_steps, self.max_plan_steps)


class QualitySettings(dg.ConfigurableResource):
    """Thresholds of the blocking data-quality checks (profile: quality)."""

    min_lore_passages: int = 12
    min_split_sizes: dict[str, int] = Field(default_factory=lambda: {"train": 40, "validation": 5, "test": 10})


class JsonArtifactIOManager(dg.ConfigurableIOManager):
    """Stores each asset partition as one JSON artifact, written atomically (temp + rename).

    Path: <base_dir>/<asset key path>/<species>.json. A run that fails before returning leaves the
    previous artifact untouched.
    """

    base_dir: str

    def _path(self, context: Any) -> Path:
        parts = list(context.asset_key.path)
        if context.has_asset_partitions:
            parts.append(validate_species_name(context.asset_partition_key, "<partition key>"))
        else:
            parts.append("__all__")
        return Path(self.base_dir).joinpath(*parts[:-1], f"{parts[-1]}.json")

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:
            return
        path = self._path(context)
        atomic_write_json(path, obj)
        context.add_output_metadata({"artifact": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext) -> Any:
        path = self._path(context)
        if not path.is_file():
            raise FileNotFoundError(f"artifact {path} has not been materialised yet")
        return read_json(path)


class RoleConfig(dg.Config):
    """One collaboration role: `offline` (default) or `openai` (any OpenAI-compatible endpoint)."""

    backend: Literal["offline", "openai"] = "offline"
    base_url: str = "https://openrouter.ai/api/v1"
    model: str = ""
    temperature: float = 0.7
    max_tokens: int = 1024
    timeout_s: float = 60.0
    max_concurrency: int = 8
    max_retries: int = 4
    usd_per_1k_prompt_tokens: float = 0.0
    usd_per_1k_completion_tokens: float = 0.0


class CollaborationResource(dg.ConfigurableResource):
    """The three-model collaboration (profile: collaboration). The API key comes from
    EnvVar('SRL_LLM_API_KEY') and only when a role uses an endpoint."""

    retriever: RoleConfig = RoleConfig()
    planner: RoleConfig = RoleConfig()
    verifier: RoleConfig = RoleConfig()
    accept_score: float = 0.7
    max_attempts: int = 3
    lore_passages: int = 6
    max_concurrency: int = 16
    seed: int = 0
    cache_dir: str = Field(description="Content-addressed trajectory cache (one folder per species)")
    api_key: Optional[str] = None

    def settings(self):
        from ..collaboration.settings import CollaborationSettings, RoleSettings

        roles = {name: RoleSettings(**getattr(self, name).model_dump()) for name in ("retriever", "planner", "verifier")}
        return CollaborationSettings(**roles, accept_score=self.accept_score, max_attempts=self.max_attempts,
                                     lore_passages=self.lore_passages, max_concurrency=self.max_concurrency, seed=self.seed)

    def build(self, species: str, max_plan_steps: int):
        from ..collaboration.cache import TrajectoryCache
        from ..collaboration.factory import build_collaboration

        cache = TrajectoryCache(Path(self.cache_dir) / validate_species_name(species, "<partition key>"))
        keys = {r: self.api_key for r in ("retriever", "planner", "verifier")} if self.api_key else None
        return build_collaboration(self.settings(), cache, keys, max_plan_steps)


class DatasetSettings(dg.ConfigurableResource):
    """SRL dataset options and the trajectory / dataset quality gates (profile: trajectories)."""

    title_hint: bool = False
    min_steps: int = 1
    max_steps: int = 6
    min_acceptance_rate: float = 0.8
    context_tokens: int = 2048
    min_train_examples: int = 50


class TrainingSettings(dg.ConfigurableResource):
    """Base models per tier and training hyperparameters (profile: training; configs/training/*.yaml)."""

    artifacts_dir: str
    base_models: dict[str, str] = Field(default_factory=lambda: {t: "builtin" for t in tier_names()})
    warmup_steps: int = 400
    builtin_tiers: Optional[dict[str, dict[str, int]]] = Field(
        default=None, description="Override the built-in tiers' sizes (hidden_size, num_layers, ...); tests use tiny ones")
    seed: int = 0
    hyperparameter_profile: str = "local"
    srl_max_steps: int = 20
    rlvr_max_steps: int = 10
    sft_max_steps: int = 20
    checkpoint_every_steps: int = 5
    checkpoint_every_minutes: float = 30.0
    keep_checkpoints: int = 2
    min_reward_gain: float = 0.02
    reward_check_severity: Literal["error", "warn"] = Field(
        default="error", description="error blocks downstream on a failed reward gate; warn reports it only")
    kl_bound: float = 0.1
    rlvr_success_tolerance: float = 0.0  # RLVR's validation plan success may not drop below SRL's by more

    def hyperparameters(self, stage: str) -> dict[str, Any]:
        import yaml

        from ..settings import PROJECT_ROOT

        path = PROJECT_ROOT / "configs" / "training" / f"{stage}.yaml"
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if self.hyperparameter_profile not in data:
            raise ValueError(f"{path}: no hyperparameter profile {self.hyperparameter_profile!r}")
        return dict(data[self.hyperparameter_profile])


class EvaluationSettings(dg.ConfigurableResource):
    """How models are evaluated on the held-out test split (profile: evaluation)."""

    k: int = 4                       # sampled plans per scenario for avg@k
    temperature: float = 1.0
    max_steps: int = 8               # turns per plan
    max_new_tokens: int = 96
    batch_size: int = 32
    step_examples: int = 64          # test-split SRL examples scored for step similarity
    seed: int = 0
    kl_bound: float = 0.1            # the quality target for the evaluated models' KL to the base

    def settings(self):
        from ..evaluation.evaluate import EvalSettings

        return EvalSettings(k=self.k, temperature=self.temperature, max_steps=self.max_steps,
                            max_new_tokens=self.max_new_tokens, batch_size=self.batch_size,
                            step_examples=self.step_examples, seed=self.seed)
