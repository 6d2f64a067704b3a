"""The registry in PostgreSQL: one row per version (the record as JSONB beside its keys).

For a deployment whose Dagster instance already lives in PostgreSQL: the registry is then shared by
every machine of it. The DSN comes from ``$SRL_POSTGRES_DSN`` (never a profile); the project
creates its table. A version number is taken under a row lock of the species' tier, so two
registrations at once cannot get the same number.
"""

from __future__ import annotations

import json

from .backend import ModelRegistry, now_iso
from .records import Candidate, ModelVersion

DDL = """CREATE TABLE IF NOT EXISTS {table} (
    species TEXT NOT NULL,
    tier TEXT NOT NULL,
    version INTEGER NOT NULL,
    status TEXT NOT NULL,
    record JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (species, tier, version)
)"""


def _table(name: str):
    from psycopg2 import sql

    parts = name.split(".")
    if not 1 <= len(parts) <= 2 or not all(p.isidentifier() for p in parts):
        raise ValueError(f"invalid registry table name {name!r}")
    return sql.SQL(".").join(sql.Identifier(p) for p in parts)


class PostgresRegistry(ModelRegistry):
    def __init__(self, dsn: str, table: str = "srl_model_registry"):
        self.dsn = dsn
        self.table = table
        self.label = f"postgresql registry table {table}"
        self._ready = False

    def _run(self, query: str, params: tuple = (), fetch: bool = True) -> list[tuple]:
        import psycopg2
        from psycopg2 import sql

        conn = psycopg2.connect(self.dsn)
        try:
            with conn, conn.cursor() as cur:
                if not self._ready:
                    cur.execute(sql.SQL(DDL).format(table=_table(self.table)))
                    self._ready = True
                cur.execute(sql.SQL(query).format(table=_table(self.table)), params)
                return cur.fetchall() if fetch else []
        finally:
            conn.close()

    def versions(self, species: str, tier: str) -> list[ModelVersion]:
        rows = self._run("SELECT record FROM {table} WHERE species = %s AND tier = %s ORDER BY version",
                         (species, tier))
        return [ModelVersion.from_dict(r if isinstance(r, dict) else json.loads(r)) for (r,) in rows]

    def _create(self, candidate: Candidate, status: str, note: str) -> ModelVersion:
        import psycopg2
        from psycopg2 import sql

        self._run("SELECT 1", fetch=True)  # the table exists before the lock below
        conn = psycopg2.connect(self.dsn)
        try:
            with conn, conn.cursor() as cur:
                # one registration at a time per species' tier: the advisory lock is the row lock
                cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{self.table}:{candidate.species}:{candidate.tier}",))
                cur.execute(sql.SQL("SELECT COALESCE(MAX(version), 0) FROM {table} WHERE species = %s AND tier = %s")
                            .format(table=_table(self.table)), (candidate.species, candidate.tier))
                number = int(cur.fetchone()[0]) + 1
                new = ModelVersion.from_candidate(candidate, number, status, now_iso(), note)
                cur.execute(sql.SQL("INSERT INTO {table} (species, tier, version, status, record) VALUES (%s, %s, %s, %s, %s)")
                            .format(table=_table(self.table)),
                            (new.species, new.tier, new.version, new.status, json.dumps(new.to_dict())))
        finally:
            conn.close()
        return new

    def _set_status(self, version: ModelVersion, status: str, note: str) -> ModelVersion:
        changed = ModelVersion.from_dict({**self.version(version.species, version.tier, version.version).to_dict(),
                                          "status": status, "note": note})
        self._run("UPDATE {table} SET status = %s, record = %s WHERE species = %s AND tier = %s AND version = %s",
                  (status, json.dumps(changed.to_dict()), version.species, version.tier, version.version), fetch=False)
        return changed

    def groups(self) -> list[tuple[str, str]]:
        return [(s, t) for s, t in self._run("SELECT DISTINCT species, tier FROM {table} ORDER BY species, tier")]

    def drop(self) -> None:
        """Remove the table (tests)."""
        self._run("DROP TABLE IF EXISTS {table}", fetch=False)
        self._ready = False
