"""Matching the simulator's tiny province, scored against its truth schema; twins never merged."""

from __future__ import annotations

import psycopg

from cww.postgres import Server
from cww.settings import Settings
from data_quality.dedupe.warehouse import evaluate_against_truth, run_matching


def test_tiny_province_against_truth(cww_settings: Settings, pg_server: Server) -> None:
    from extract.api import run_extract
    from simulator.api import init_source

    init_source(cww_settings, "tiny", seed=3, force=True)
    run_extract(cww_settings, tables=["person", "person_address", "person_relationship"])
    summary = run_matching(cww_settings)
    assert summary.mode == "full" and summary.persons > 1000
    score = evaluate_against_truth(cww_settings)
    assert score.true_pairs > 100
    assert score.precision >= 0.98 and score.recall >= 0.93, score.lines()
    with psycopg.connect(pg_server.conninfo(cww_settings.source_db)) as src:
        twins = src.execute(
            "select person_id, true_person_id from truth.person_identity where is_twin"
        ).fetchall()
    with psycopg.connect(pg_server.conninfo(cww_settings.warehouse_db)) as wh:
        master = dict(
            wh.execute("select person_id, master_person_id from data_quality.master_person").fetchall()
        )
    humans_per_master: dict[int, set[int]] = {}
    for pid, human in twins:
        humans_per_master.setdefault(master[pid], set()).add(human)
    assert len(twins) > 20
    merged_twins = [m for m, humans in humans_per_master.items() if len(humans) > 1]
    assert merged_twins == [], merged_twins
