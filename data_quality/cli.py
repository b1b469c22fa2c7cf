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


@dq_app.command("run")
def dq_run_cmd(
    suite: list[str] = typer.Option(None, "--suite", "-s", help="Suite name, e.g. raw.payment (repeatable)."),
    layer: str = typer.Option(None, "--layer", help="Only the 'raw' or the 'marts' suites."),
    no_holdback: bool = typer.Option(
        False, "--no-holdback", help="Do not record the night for report hold-back."
    ),
    every: bool = typer.Option(False, "--all", help="List every expectation, not only the failed ones."),
    nightly: bool = typer.Option(
        False,
        "--nightly",
        help="Raw suites check only the rows landed since their last accepted run, as `cww nightly` "
        "and the Dagster nightly job do (default: every live raw row).",
    ),
) -> None:
    """Validate the warehouse (raw + marts suites), store results in dq, publish Data Docs.

    Default (full mode): every live raw row is checked, old rows included.

    --nightly: raw row checks read only the rows landed since each suite's last accepted run.

    Volume, freshness and the duplicated-batch check compare with the whole table in both modes.

    A raw suite that passes becomes the start of the next nightly run. Exits 1 on a blocking failure.
    """
    from data_quality.expectations.report import print_run
    from data_quality.expectations.runner import run_dq, select_suites

    with console.status("validating the warehouse (Great Expectations)…"):
        run = run_dq(
            get_settings(),
            select_suites(suite, layer),
            record_holdback=not no_holdback,
            mode="nightly" if nightly else "full",
        )
    print_run(run, every_expectation=every)
    if not run.passed:
        raise typer.Exit(1)


@dq_app.command("docs")
def dq_docs_cmd() -> None:
    """Print the path of the Data Docs site (static HTML; open index.html in a browser)."""
    from data_quality.expectations.runner import docs_dir

    index = docs_dir(get_settings()) / "index.html"
    if not index.exists():
        console.print(f"  no Data Docs yet at {index}: run `cww dq run` first")
        raise typer.Exit(1)
    print(index)


@dq_app.command("crosscheck")
def dq_crosscheck_cmd(
    as_of: str = typer.Option(None, "--as-of", help="Date to recompute for (default: the source's date)."),
    limit: int = typer.Option(20, "--limit", help="Differences to print."),
) -> None:
    """Recompute "where are my kids" and the indicators from the source with plain SQL; compare.

    Exits 1 on any difference (children missing/extra/different, indicator counts off).
    """
    from datetime import date

    from data_quality.crosscheck import crosscheck

    with console.status("recomputing from the source…"):
        result = crosscheck(get_settings(), as_of=date.fromisoformat(as_of) if as_of else None)
    _print(result.lines(limit))
    if not result.ok:
        raise typer.Exit(1)


@dq_app.command("suites")
def dq_suites_cmd() -> None:
    """List the suites and their expectations (blocking or warning), without a database."""
    from data_quality.expectations.report import print_suites

    print_suites()


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


@app.command("search")
def search_cmd(
    query: str | None = typer.Argument(
        None, help='Free text, e.g. "Smith, Jonathan b. 03/12/2014 Thunder Bay".'
    ),
    max_results: int = typer.Option(10, "--max", "-n", help="How many master persons to show (1–100)."),
    agency: str | None = typer.Option(
        None, "--agency", help="Search as this agency's own login (e.g. CAS-OTT)."
    ),
    refresh: bool = typer.Option(
        False, "--refresh", help="Bring the search tables up to date first (after dedupe + dbt)."
    ),
    full_refresh: bool = typer.Option(
        False, "--full-refresh", help="With --refresh: rebuild every search row, not only what changed."
    ),
) -> None:
    """Find a person across agencies: ranked master persons and their history (reporting.search_person)."""
    import sys

    from rich.console import Console

    from data_quality.search import refresh_search, search_persons
    from data_quality.search.query import hits_table

    settings = get_settings()
    if refresh:
        _print(refresh_search(settings, full=full_refresh).lines())
    if query is None:
        if not refresh:
            raise typer.BadParameter("give a query, e.g. cww search 'jon smyth 2014-03' (or --refresh)")
        return
    hits = search_persons(settings, query, max_results, agency)
    if not hits:
        console.print(f"no person matches {query!r}")
        return
    Console(width=None if sys.stdout.isatty() else 160).print(hits_table(query, hits))
