"""The game domain: lore, its index, the rules in force and the scenarios, with their checks."""

import dagster as dg

from ...core.profiles import Profile
from .assets import GAME_ASSETS
from .checks import GAME_CHECKS
from .resources import GameDataResource, QualitySettings, ScenarioSettings

defs = dg.Definitions(assets=GAME_ASSETS, asset_checks=GAME_CHECKS)


def resources(profile: Profile) -> dict:
    game = profile.section("game")
    uses_postgres = "postgres" in (game.get("lore_backend"), game.get("game_state_backend"))
    return {
        "game_data": GameDataResource(
            root=profile.path(game.get("root", "configs/game")),
            lore_backend=game.get("lore_backend", "files"),
            game_state_backend=game.get("game_state_backend", "files"),
            lore_table=game.get("lore_table", "srl_lore_passages"),
            game_state_table=game.get("game_state_table", "srl_game_state"),
            postgres_dsn=dg.EnvVar("SRL_POSTGRES_DSN") if uses_postgres else None,
        ),
        "scenario_settings": ScenarioSettings(**profile.section("scenarios")),
        "quality": QualitySettings(**profile.section("quality")),
    }
