"""Project-wide building blocks with no Dagster: errors that name file/record/field, the one YAML
loader, hashing, atomic writes, the artifact layout, profile loading and the catalogue of tiers
and models."""
