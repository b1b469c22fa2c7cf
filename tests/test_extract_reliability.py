"""Extraction under failure: SIGKILL mid-load, unreachable source, concurrent runs, drift, rejects,
late updates, hard deletes. Real PostgreSQL, small hand-made data (see conftest EXTRACT_SEED_SQL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cww.postgres import Server
from cww.settings import PROJECT_ROOT, Settings
from extract.api import reconcile, run_extract
from extract.connect import SourceUnavailableError
from extract.meta import ExtractBusyError
from extract.options import ExtractOptions

WAIT = ExtractOptions(lock_wait_seconds=15)  # a killed run's backend may take a moment to go away


def _env(s: Settings, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        CWW_PG_URL=s.pg_url or "",
        CWW_SOURCE_DB=s.source_db,
        CWW_WAREHOUSE_DB=s.warehouse_db,
        CWW_SOURCE_READER_ROLE=s.source_reader_role,
        CWW_SOURCE_READER_PASSWORD=s.source_reader_password,
        CWW_HOME=str(s.home),
        COLUMNS="200",
    )
    if not s.pg_url:
        env.pop("CWW_PG_URL")
    env.update(extra)
    return env


def _start_paused(s: Settings, point: str, tmp_path: Path, *args: str) -> subprocess.Popen[bytes]:
    """Start `cww extract` in a subprocess and wait until it sleeps at the named pause point."""
    marker = tmp_path / f"paused-{point}"
    marker.unlink(missing_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "cww.cli", "extract", *args],
        cwd=PROJECT_ROOT,
        env=_env(s, CWW_EXTRACT_PAUSE_AT=point, CWW_EXTRACT_PAUSE_FILE=str(marker)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(f"extract ended before {point}: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        assert time.monotonic() < deadline, f"never reached {point}"
        time.sleep(0.05)
    return proc


def _kill(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def _change_source(server: Server, s: Settings) -> None:
    with server.connect(s.source_db) as conn:
        conn.execute(
            "update cpin.person set surname = 'Roy', updated_at = '2026-01-06 08:00+00' "
            "where person_id = 1002"
        )
        conn.execute(
            "insert into cpin.contact_note (contact_note_id, agency_id, case_id, contact_at, "
            "contact_type_code, "
            "created_at, updated_at) values (99999, 1, 5000, '2026-01-06 09:00+00', 'PHN', "
            "'2026-01-06 09:00+00', '2026-01-06 09:00+00')"
        )
        conn.execute("delete from cpin.case_participant where case_id = 5001 and person_id = 1002")
        conn.execute("insert into cpin.postal_region values ('K2P', 'Ottawa', 'East')")


def _assert_consistent(server: Server, s: Settings) -> None:
    """Reconcile is exact, and each watermark equals what raw actually holds."""
    report = reconcile(s)
    assert report.ok, [d.describe() for d in report.tables if not d.ok]
    with server.connect(s.warehouse_db) as conn:
        for table, wm in conn.execute("select table_name, watermark from extract_meta.watermarks").fetchall():
            if table == "postal_region":
                assert wm is None
                continue
            top = conn.execute(f'select max(updated_at) from raw."{table}"').fetchone()[0]
            assert wm == top, table
        running = conn.execute(
            "select count(*) from extract_meta.batches where status = 'running'"
        ).fetchone()[0]
        assert running == 0


@pytest.mark.parametrize("point", ["after_lock", "mid_copy", "after_merge", "after_commit"])
def test_sigkill_during_incremental_then_rerun_is_exact(
    pg_server: Server, extract_source: Settings, tmp_path: Path, point: str
) -> None:
    s = extract_source
    assert run_extract(s).ok
    _change_source(pg_server, s)
    proc = _start_paused(s, point, tmp_path)
    with pg_server.connect(s.warehouse_db) as conn:
        before = dict(conn.execute("select table_name, watermark from extract_meta.watermarks").fetchall())
    _kill(proc)
    summary = run_extract(s, options=WAIT)
    assert summary.ok
    # Every change lands exactly once, whichever table the kill interrupted.
    with pg_server.connect(s.warehouse_db) as conn:
        assert conn.execute("select surname from raw.person where person_id = 1002").fetchone() == ("Roy",)
        assert conn.execute(
            "select count(*) from raw.contact_note where contact_note_id = 99999"
        ).fetchone() == (1,)
        assert conn.execute(
            "select _deleted from raw.case_participant where case_id = 5001 and person_id = 1002"
        ).fetchone() == (True,)
        statuses = [r[0] for r in conn.execute("select status from extract_meta.batches order by batch_id")]
        # Killed before its batch opened (after_lock) there is nothing to mark; later, the batch
        # stays 'running' until the next run, holding the lock, marks it abandoned.
        killed = [] if point == "after_lock" else ["abandoned"]
        assert statuses == ["succeeded", *killed, "succeeded"]
        after = dict(conn.execute("select table_name, watermark from extract_meta.watermarks").fetchall())
    assert after["person"] > before["person"]
    _assert_consistent(pg_server, s)


def test_sigkill_mid_first_load_leaves_nothing_half_done(
    pg_server: Server, extract_source: Settings, tmp_path: Path
) -> None:
    s = extract_source
    proc = _start_paused(s, "mid_copy", tmp_path)
    _kill(proc)
    with pg_server.connect(s.warehouse_db) as conn:
        # The first table's transaction never committed: no raw table, no watermark.
        assert conn.execute("select count(*) from extract_meta.watermarks").fetchone() == (0,)
        assert conn.execute("select to_regclass('raw.agency')").fetchone() == (None,)
    assert run_extract(s, options=WAIT).ok
    _assert_consistent(pg_server, s)


def test_unreachable_source_is_a_clear_error_and_moves_nothing(
    pg_server: Server, extract_source: Settings
) -> None:
    s = extract_source
    run_extract(s)
    _change_source(pg_server, s)
    with pg_server.connect(s.warehouse_db) as conn:
        before = conn.execute(
            "select table_name, watermark from extract_meta.watermarks order by 1"
        ).fetchall()
    options = ExtractOptions(
        source_pg_url="postgresql://127.0.0.1:1", connect_attempts=3, connect_backoff_seconds=0.1
    )
    start = time.monotonic()
    with pytest.raises(SourceUnavailableError) as err:
        run_extract(s, options=options)
    assert time.monotonic() - start >= 0.3  # two back-offs: 0.1 s then 0.2 s
    message = str(err.value)
    assert "after 3 attempts" in message and s.source_db in message and "Fix:" in message
    assert "no watermark moved" in message and s.source_reader_password not in message
    with pg_server.connect(s.warehouse_db) as conn:
        after = conn.execute(
            "select table_name, watermark from extract_meta.watermarks order by 1"
        ).fetchall()
        assert conn.execute("select surname from raw.person where person_id = 1002").fetchone() == ("Singh",)
    assert after == before


def test_second_run_exits_cleanly_or_waits_for_the_first(
    pg_server: Server, extract_source: Settings, tmp_path: Path
) -> None:
    s = extract_source
    holder = _start_paused(s, "after_lock", tmp_path)
    try:
        start = time.monotonic()
        with pytest.raises(ExtractBusyError) as err:
            run_extract(s, options=ExtractOptions(lock_wait_seconds=0.5))
        assert 0.5 <= time.monotonic() - start < 10
        assert "another extract run" in str(err.value) and "server pid" in str(err.value)
        with pg_server.connect(s.warehouse_db) as conn:
            assert conn.execute("select count(*) from extract_meta.batches").fetchone() == (0,)
    finally:
        _kill(holder)
    # Once the holder is gone, a waiting run proceeds.
    assert run_extract(s, options=WAIT).ok


def test_cli_extract_and_reconcile_exit_codes(pg_server: Server, extract_source: Settings) -> None:
    s = extract_source
    cli = [sys.executable, "-m", "cww.cli"]
    done = subprocess.run([*cli, "extract"], env=_env(s), cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "contact_note" in done.stderr and "total" in done.stderr
    ok = subprocess.run([*cli, "reconcile"], env=_env(s), cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert ok.returncode == 0 and "source and warehouse match" in ok.stderr
    with pg_server.connect(s.source_db) as conn:
        conn.execute("delete from cpin.postal_region where fsa = 'P3A'")
    bad = subprocess.run([*cli, "reconcile"], env=_env(s), cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert bad.returncode == 1 and "postal_region" in bad.stderr and "(P3A)" in bad.stderr
