"""Game resources: where lore, rules and live game state come from, and the data-quality thresholds."""

from pathlib import Path
from typing import Literal, Optional

import dagster as dg
from pydantic import Field

from ...core.errors import ConfigError, InputError
from ...game.lore import SpeciesLore
from ...game.rules import RuleSet, World, check_events
from ...game.scenarios import ScenarioSpec
from ...game.sources import (
    FileGameStateSource, FileLoreSource, GameFiles, GameStateSource, LoreSource,
    PostgresGameStateSource, PostgresLoreSource,
)
from ..settings_resource import config_class


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
            raise ConfigError.single("<environment>", "SRL_POSTGRES_DSN", "SRL_POSTGRES_DSN",
                                     "a postgres backend is configured but SRL_POSTGRES_DSN is not set")
        return self.postgres_dsn

    def lore_source(self) -> LoreSource:
        if self.lore_backend == "postgres":
            return PostgresLoreSource(self._dsn(), self.lore_table)
        return FileLoreSource(self.files())

    def game_state_source(self) -> GameStateSource:
        if self.game_state_backend == "postgres":
            return PostgresGameStateSource(self._dsn(), self.game_state_table)
        return self.files().game_state()

    def world(self) -> World:
        return self.files().load_world()

    def rules_if_valid(self, species: str) -> RuleSet | None:
        """The rules in force, or None when they do not load (game_rules reports why)."""
        try:
            return self.rules_in_force(species)
        except InputError:
            return None

    def lore_if_valid(self, species: str) -> SpeciesLore | None:
        """The species' lore, or None when it does not load (monster_lore reports why)."""
        try:
            return self.lore_source().load(species)
        except InputError:
            return None

    def rules_in_force(self, species: str) -> RuleSet:
        files = self.files()
        world = files.load_world()
        source = self.game_state_source()
        events = check_events(source.active_events(), world, source.label)
        return RuleSet.resolve(files.load_rules(species, world), events)


ScenarioSettings = config_class(
    ScenarioSpec, dg.ConfigurableResource, name="ScenarioSettings",
    doc="How many scenarios to make and how to split them (profile: scenarios); fields of game.scenarios.ScenarioSpec.")


class QualitySettings(dg.ConfigurableResource):
    """Thresholds of the blocking data-quality checks (profile: quality)."""

    min_lore_passages: int = 12
    min_split_sizes: dict[str, int] = Field(default_factory=lambda: {"train": 40, "validation": 5, "test": 10})
