"""The generic (SQLAlchemy) path, with a SQLite source holding loosely typed values."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from cww.postgres import Server
from cww.settings import Settings
from extract.api import run_extract
from extract.options import ExtractOptions

REGISTRY = """
source_schema: null
defaults:
  change_tracking: {mode: watermark, column: updated_at, lookback: 1 day}
  soft_delete_column: is_deleted
  hard_deletes: {every: run}
tables:
  client:
    key: [client_id]
    rejects:
      - {rule: date_range, column: birth_date, min: 1900-01-01, max: 2100-01-01}
  visit: {key: [client_id, visit_no]}
  region:
    key: [code]
    change_tracking: {mode: snapshot}
    soft_delete_column: null
"""

DDL = """
create table client (client_id integer primary key, name text, birth_date date,
                     balance numeric(10, 2),
                     active boolean, updated_at datetime not null, is_deleted boolean not null default 0);
create table visit (client_id integer not null, visit_no integer not null, note text,
                    updated_at datetime not null,
                    is_deleted boolean not null default 0, primary key (client_id, visit_no));
create table region (code text primary key, name text not null);
insert into client values
  (1, 'Ada', '2015-04-02', 12.50, 1, '2026-01-02 10:00:00', 0),
  (2, 'Bob', 'not-a-date', 0, 0, '2026-01-02 11:00:00', 0),
  (3, 'Cy', '1800-01-01', 3, 1, '2026-01-02 12:00:00', 0),
  (4, 'Di', null, 'lots', 1, '2026-01-02 13:00:00', 0);
insert into visit values (1, 1, 'first', '2026-01-02 10:00:00', 0),
                         (1, 2, 'second', '2026-01-02 10:30:00', 0);
insert into region values ('K1A', 'Ottawa'), ('M5H', 'Toronto');
"""


def test_sqlite_source_lands_typed_rows_and_rejects_unparseable_values(
    pg_server: Server, cww_settings: Settings, tmp_path: Path
) -> None:
    s = cww_settings
    db = tmp_path / "legacy.db"
    with sqlite3.connect(db) as lite:
        lite.executescript(DDL)
    registry = tmp_path / "legacy.yml"
    registry.write_text(REGISTRY)
    options = ExtractOptions(source_url=f"sqlite:///{db}")

    first = run_extract(s, registry=registry, options=options)
    assert first.ok, [t.error for t in first.failed]
    client = first.table("client")
    assert client.path == "generic-direct"
    assert (client.rows_read, client.inserted, client.rejected) == (4, 1, 3)
    assert first.table("visit").inserted == 2 and first.table("region").inserted == 2
    with pg_server.connect(s.warehouse_db) as conn:
        reasons = dict(
            conn.execute(
                "select key ->> 'client_id', reason from extract_meta.rejected_rows "
                "where table_name = 'client'"
            ).fetchall()
        )
        assert reasons == {
            "2": "unparseable value 'not-a-date' in birth_date (expected date)",
            "3": "birth_date outside [1900-01-01, 2100-01-01]",
            "4": "unparseable value 'lots' in balance (expected numeric(10,2))",
        }
        row = conn.execute(
            "select name, birth_date, balance, active, _source_updated_at from raw.client where client_id = 1"
        ).fetchone()
        assert str(row[1]) == "2015-04-02" and str(row[2]) == "12.50" and row[3] is True
        assert row[4].isoformat() == "2026-01-02T10:00:00+00:00"
        types = dict(
            conn.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'raw' and table_name = 'client'"
            ).fetchall()
        )
        assert types["birth_date"] == "date" and types["balance"] == "numeric"

    with sqlite3.connect(db) as lite:
        lite.execute(
            "update client set birth_date = '2016-05-05', updated_at = '2026-01-03 09:00:00' "
            "where client_id = 2"
        )
        lite.execute(
            "update visit set note = 'edited', updated_at = '2026-01-03 09:00:00' where visit_no = 1"
        )
        lite.execute("delete from visit where visit_no = 2")
        lite.execute("insert into region values ('P3A', 'Sudbury')")
    second = run_extract(s, registry=registry, options=options)
    assert second.ok
    assert second.table("client").inserted == 1  # fixed at the source: lands
    visit = second.table("visit")
    assert (visit.updated, visit.deleted) == (1, 1)
    assert second.table("region").inserted == 1
    with pg_server.connect(s.warehouse_db) as conn:
        assert conn.execute("select count(*) from raw.client where not _deleted").fetchone() == (2,)
        assert conn.execute("select note from raw.visit where visit_no = 1").fetchone() == ("edited",)
