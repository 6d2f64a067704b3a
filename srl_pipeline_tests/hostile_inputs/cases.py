"""The hostile-input corpus: one bad file per class, each run through the command a user runs
(``srl_pipeline_tests/test_hostile_inputs.py``). Every case must end in exit status 2 (or a failed
Dagster step) with each ``expect`` line present as ``<file>: record <record>: field <field>: ...<says>...``
(a ``*`` in a record matches anything), no traceback, and for ``dagster`` cases every artifact
byte-identical to the previous good run.

- ``command``: ``validate_data`` | ``profile`` | ``hyperparameters`` | ``eval``
- ``file``: the bad file (relative to this folder), or ``generate``: a case the test builds
  (too big to keep, or a symlink)
- ``target``: where it goes: a path in a copy of ``configs/game``, or a stage name
- ``dagster``: also materialise the game-data assets of ``species`` (default ghoul) with the file in
  place; that asset's step must fail, nothing downstream of it is materialised
- ``secret``: a value that must appear in no output
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Case:
    id: str
    command: str
    expect: list[tuple[str, str, str]]
    file: str | None = None
    generate: str | None = None
    target: str | None = None
    dagster: str | None = None
    species: str = "ghoul"
    also: tuple[str, ...] = ()
    secret: str | None = None
    dagster_expect: list[tuple[str, str, str]] | None = None  # when the Dagster step words it differently

    @property
    def path(self) -> Path:
        return HERE / self.file


def _v(id, file, target, expect, **kw) -> Case:
    return Case(id, "validate_data", expect, file=file, target=target, **kw)


CASES: list[Case] = [
    # -- world.yaml -----------------------------------------------------------------------------
    _v("world_truncated", "game/world_truncated.yaml", "world.yaml", [("line 4", "<syntax>", "invalid YAML: expected ',' or '}'")]),
    _v("world_wrong_types", "game/world_wrong_types.yaml", "world.yaml", [
        ("<world>", "state", "expected a mapping, got list"), ("<world>", "events", "expected a mapping, got str"),
        ("<world>", "reactions", "expected list, got dict"), ("<world>", "goal_types", "expected list, got str")]),
    _v("world_missing_goal_types", "game/world_missing_goal_types.yaml", "world.yaml",
       [("<world>", "goal_types", "missing required field")]),
    _v("world_reaction_unknown_variable", "game/world_reaction_unknown_variable.yaml", "world.yaml", [
        ("reactions[0] (player_panics)", "when.player_sanity", "unknown state variable 'player_sanity'"),
        ("reactions[0] (player_panics)", "effects[0].set", "unknown state variable 'player_mood'")], dagster="game_rules"),
    _v("world_default_outside_enum", "game/world_default_outside_enum.yaml", "world.yaml", [
        ("<world>", "state.time.default", "default 'noon' is not a valid enum"),
        ("<world>", "state.player_items.default", "is not a valid set")]),
    _v("world_unknown_key", "game/world_unknown_key.yaml", "world.yaml", [
        ("<world>", "state.time.defualt", "unknown field (did you mean 'default'?)"),
        ("<world>", "goal_typs", "unknown field (did you mean 'goal_types'?)")]),
    _v("world_alias_bomb", "game/world_alias_bomb.yaml", "world.yaml", [("line 4", "<syntax>", "aliases (*c) repeat more than 10000 nodes")]),
    _v("world_python_tag", "game/world_python_tag.yaml", "world.yaml", [("line 1", "<syntax>", "could not determine a constructor for the tag")]),
    _v("world_deep_nesting", "game/world_deep_nesting.yaml", "world.yaml", [("line 1", "<syntax>", "nesting deeper than 32 levels")]),
    _v("world_not_a_mapping", "game/world_not_a_mapping.yaml", "world.yaml", [("<file>", "<content>", "expected a mapping at top level, got list")]),
    # -- game_state.yaml ------------------------------------------------------------------------
    _v("game_state_empty", "game/game_state_empty.yaml", "game_state.yaml", [("<file>", "<content>", "file is empty")]),
    _v("game_state_not_yaml", "game/game_state_not_yaml.yaml", "game_state.yaml", [("line 2", "<syntax>", "invalid YAML")]),
    _v("game_state_list", "game/game_state_list.yaml", "game_state.yaml", [("<file>", "<content>", "expected a mapping at top level, got list")]),
    _v("game_state_events_not_a_list", "game/game_state_events_not_a_list.yaml", "game_state.yaml",
       [("<file>", "events", "expected list, got str")]),
    _v("game_state_unknown_event", "game/game_state_unknown_event.yaml", "game_state.yaml",
       [("events[0]", "events", "unknown world event 'blood_mon' (did you mean 'blood_moon'?)")], dagster="game_rules"),
    _v("game_state_unknown_key", "game/game_state_unknown_key.yaml", "game_state.yaml",
       [("<file>", "evnets", "unknown field (did you mean 'events'?)")]),
    _v("game_state_duplicate_key", "game/game_state_duplicate_key.yaml", "game_state.yaml",
       [("line 2", "<syntax>", "duplicate key 'events' (first on line 1)")]),
    # -- species/<name>/lore.yaml ---------------------------------------------------------------
    _v("lore_unknown_field", "game/lore_unknown_field.yaml", "species/ghoul/lore.yaml", [
        ("passages[0] (ghoul-trait-01)", "titel", "unknown field (did you mean 'title'?)"),
        ("passages[0] (ghoul-trait-01)", "title", "missing required field")], dagster="monster_lore"),
    _v("lore_duplicate_key", "game/lore_duplicate_key.yaml", "species/ghoul/lore.yaml",
       [("line 7", "<syntax>", "duplicate key 'text' (first on line 6)")]),
    _v("lore_wrong_types", "game/lore_wrong_types.yaml", "species/ghoul/lore.yaml", [
        ("passages[0] (ghoul-trait-01)", "title", "expected str, got int"),
        ("passages[0] (ghoul-trait-01)", "text", "expected str, got list"),
        ("passages[0] (ghoul-trait-01)", "actions", "expected list, got str")]),
    _v("lore_invalid_utf8", "game/lore_invalid_utf8.yaml", "species/ghoul/lore.yaml", [("line 3", "<encoding>", "invalid UTF-8 at byte")]),
    _v("lore_alias_bomb", "game/lore_alias_bomb.yaml", "species/ghoul/lore.yaml",
       [("line 6", "<syntax>", "repeat more than 10000 nodes")], dagster="monster_lore"),
    _v("lore_huge_integer", "game/lore_huge_integer.yaml", "species/ghoul/lore.yaml", [("<file>", "<syntax>", "a number too long to read")]),
    _v("lore_megabyte_passage", None, "species/ghoul/lore.yaml", [("passages[3] (*)", "text", "at most 2000 characters")],
       generate="megabyte_passage", dagster="monster_lore"),
    _v("lore_oversized_file", None, "species/ghoul/lore.yaml", [("<file>", "<size>", "larger than the 1048576 byte limit")],
       generate="oversized_file"),
    _v("lore_unknown_action", None, "species/ghoul/lore.yaml", [("passages[5] (*)", "actions", "unknown action(s) ['fly_to_the_moon']")],
       generate="unknown_action", dagster="monster_lore"),
    # -- species/<name>/rules.yaml --------------------------------------------------------------
    _v("rules_enormous_int_bound", "game/rules_enormous_int_bound.yaml", "species/ghoul/rules.yaml", [
        ("<file>", "state.hunger", "an int variable spans at most 1000 values"),
        ("<file>", "state.grudges.min", "greater than or equal to -1000000")], dagster="game_rules"),
    _v("rules_parameter_explosion", "game/rules_parameter_explosion.yaml", "species/ghoul/rules.yaml",
       [("actions[0] (mutter)", "params", "the parameters allow 10000 calls")]),
    _v("rules_misspelt_key", "game/rules_misspelt_key.yaml", "species/ghoul/rules.yaml", [
        ("actions[0] (devour)", "precondition", "unknown field (did you mean 'preconditions'?)"),
        ("constraints[0] (no_feeding_in_daylight)", "whn", "unknown field (did you mean 'when'?)")], dagster="game_rules"),
    _v("rules_not_a_mapping", "game/rules_not_a_mapping.yaml", "species/ghoul/rules.yaml",
       [("<file>", "<content>", "expected a mapping at top level, got str")]),
    # -- species folders ------------------------------------------------------------------------
    _v("species_folder_symlink_escape", None, "species/escapee", [("'escapee'", "<path>", "resolves outside the data root")],
       generate="species_symlink", dagster="monster_lore", species="escapee",
       dagster_expect=[("<file>", "<path>", "resolves outside the data root")]),
    _v("lore_file_symlink_escape", None, "species/ghoul/lore.yaml", [("'ghoul'", "<path>", "resolves outside the data root")],
       generate="lore_symlink", dagster="monster_lore", dagster_expect=[("<file>", "<path>", "resolves outside the data root")]),
    _v("species_folder_bad_name", None, "species/Bad-Name", [("'Bad-Name'", "species", "folder name is not a plain identifier")],
       generate="bad_folder_name"),
    # -- profiles (loading the Dagster definitions with SRL_PROFILE) ----------------------------
    Case("profile_not_yaml", "profile", [("line 3", "<syntax>", "invalid YAML")], file="profiles/not_yaml.yaml"),
    Case("profile_wrong_types", "profile", [
        ("scenarios", "count", "expected int, got str"), ("scenarios", "test_fraction", "less than or equal to 1"),
        ("training", "base_models", "expected a mapping, got str")], file="profiles/wrong_types.yaml"),
    Case("profile_extends_cycle", "profile", [("extends", "extends", "profile cycle: cycle_a -> cycle_b -> cycle_a")],
         file="profiles/cycle_a.yaml", also=("profiles/cycle_b.yaml",)),
    Case("profile_dsn_with_password", "profile", [("game", "postgres_dsn", "set the environment variable SRL_POSTGRES_DSN")],
         file="profiles/dsn_in_profile.yaml", secret="hunter2"),
    Case("profile_api_key", "profile", [("collaboration", "api_key", "set the environment variable SRL_LLM_API_KEY")],
         file="profiles/api_key_in_profile.yaml", secret="sk-live-0123456789abcdefABCDEF"),
    Case("profile_password", "profile", [("training_backend", "env.DAGSTER_PG_PASSWORD",
                                          "set the environment variable DAGSTER_PG_PASSWORD")],
         file="profiles/password_in_env.yaml", secret="hunter2"),
    Case("profile_url_with_password", "profile", [("collaboration", "planner.base_url", "is a URL or DSN carrying a password")],
         file="profiles/url_with_password.yaml", secret="s3cret"),
    Case("profile_unknown_keys", "profile", [("<file>", "trainng", "did you mean 'training'?"),
                                             ("scenarios", "cuont", "did you mean 'count'?")], file="profiles/unknown_keys.yaml"),
    Case("profile_negative_steps", "profile", [
        ("training", "srl_max_steps", "greater than or equal to 0"), ("training", "checkpoint_every_steps", "greater than or equal to 1"),
        ("evaluation", "k", "greater than or equal to 0")], file="profiles/negative_steps.yaml"),
    Case("profile_not_finite", "profile", [("evaluation", "kl_bound", "finite number"), ("training", "kl_bound", "finite number")],
         file="profiles/not_finite.yaml"),
    Case("profile_alias_bomb", "profile", [("line 4", "<syntax>", "repeat more than")], file="profiles/alias_bomb.yaml"),
    Case("profile_duplicate_key", "profile", [("line 3", "<syntax>", "duplicate key 'scenarios'")], file="profiles/duplicate_key.yaml"),
    Case("profile_top_level_list", "profile", [("<file>", "<content>", "expected a mapping at top level")],
         file="profiles/top_level_list.yaml"),
    # -- hyperparameter files (configs/training/<stage>.yaml, as the training resource reads them)
    Case("hyperparameters_secret", "hyperparameters", [("local", "hub_token", "looks like a secret")],
         file="hyperparameters/secret.yaml", target="srl", secret="hf_abcdefghijklmnopqrstuvwxyz0123"),
    Case("hyperparameters_not_finite", "hyperparameters", [("local", "learning_rate", "expected a finite number")],
         file="hyperparameters/not_finite.yaml", target="srl"),
    Case("hyperparameters_profile_not_a_mapping", "hyperparameters", [("local", "<profile>", "expected a mapping, got list")],
         file="hyperparameters/profile_not_a_mapping.yaml", target="srl"),
    Case("hyperparameters_duplicate_key", "hyperparameters", [("line 3", "<syntax>", "duplicate key 'learning_rate'")],
         file="hyperparameters/duplicate_key.yaml", target="srl"),
    Case("hyperparameters_nested_value", "hyperparameters", [
        ("local", "learning_rate", "expected a number, string, bool or a list of them, got dict")],
         file="hyperparameters/nested_value.yaml", target="srl"),
    # -- encounter files (srl-pipeline eval --scenarios) ----------------------------------------
    Case("encounters_misspelt_field", "eval", [("line 2", "expert_step", "unknown field (did you mean 'expert_steps'?)")],
         file="encounters/misspelt_field.jsonl"),
    Case("encounters_invalid_utf8", "eval", [("line 2", "<encoding>", "invalid UTF-8 at byte")], file="encounters/invalid_utf8.jsonl"),
    Case("encounters_lone_surrogate", "eval", [("line 1", "<encoding>", "lone surrogate")], file="encounters/lone_surrogate.jsonl"),
    Case("encounters_wrong_types", "eval", [("line 1", "id", "expected str, got int"), ("line 1", "state", "expected dict, got list")],
         file="encounters/wrong_types.jsonl"),
    Case("encounters_huge_number", "eval", [("line 1", "<json>", "a number too long to read")], file="encounters/huge_number.jsonl"),
    Case("encounters_deep_nesting", "eval", [("line 1", "<json>", "nested too deeply")], file="encounters/deep_nesting.jsonl"),
    Case("encounters_too_many_steps", "eval", [("line 1", "expert_steps", "40 steps; at most 32")],
         file="encounters/too_many_steps.jsonl"),
]


def by_command(command: str) -> list[Case]:
    return [c for c in CASES if c.command == command]
