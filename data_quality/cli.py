"""`cww dq …`, `cww dedupe …` and `cww search`: data quality, duplicate persons, person search.

Heavy libraries (Splink/DuckDB, Great Expectations) are imported inside the commands so that
`cww --help` stays instant.
"""

from __future__ import annotations

from pathlib import Path

import typer

from cww.console import console
from cww.settings import get_settings

app = typer.Typer(help="Data quality, duplicate persons and person search.", no_args_is_help=True)
dq_app = typer.Typer(help="Data-quality expectation suites (Great Expectations).", no_args_is_help=True)
dedupe_app = typer.Typer(
    help="Duplicate persons (Splink): match, evaluate, screen a CSV.", no_args_is_help=True
)
app.add_typer(dq_app, name="dq")
app.add_typer(dedupe_app, name="dedupe")


def _print(lines: list[str]) -> None:
    for line in lines:
        console.print(f"  {line}")


@dedupe_app.command("file")
def dedupe_file_cmd(
    input_csv: Path = typer.Argument(..., help="CSV of person records (see README for columns)."),
    out: Path = typer.Option(..., "--out", help="Where to write record_id → cluster_id."),
    pairs: Path | None = typer.Option(None, "--pairs", help="Also write the scored candidate pairs."),
    model: Path | None = typer.Option(None, "--model", help="A person_match_v*.json (default: newest)."),
    train: bool = typer.Option(False, "--train", help="Re-estimate the model on this file (≥ 200 rows)."),
    encoding: str = typer.Option("utf-8-sig", "--encoding", help="Text encoding of the file."),
    month_first: bool = typer.Option(False, "--month-first", help="Slashed dates are MM/DD/YYYY."),
) -> None:
    """Find duplicates in a CSV before migrating it (same model as the warehouse)."""
    from data_quality.dedupe.screening import dedupe_file

    _print(dedupe_file(input_csv, out, pairs, model, train, encoding, month_first))


@dedupe_app.command("run")
def dedupe_run_cmd(
    full: bool = typer.Option(False, "--full", help="Re-cluster everyone (default: only new/changed)."),
    train: bool = typer.Option(False, "--train", help="Re-estimate the model and save a new version."),
) -> None:
    """Match persons in the warehouse; write dedupe.person_match_pairs and dedupe.master_person."""
    from data_quality.dedupe.warehouse import run_dedupe

    _print(run_dedupe(get_settings(), full=full, retrain=train))


@dedupe_app.command("evaluate")
def dedupe_evaluate_cmd() -> None:
    """Pairwise precision / recall / F1 of master_person against the simulator's truth."""
    from data_quality.dedupe.warehouse import evaluate_against_truth

    _print(evaluate_against_truth(get_settings()).lines())
