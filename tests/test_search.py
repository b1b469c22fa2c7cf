"""Person search on the simulator's tiny province: simulate → extract → dedupe → dbt → search refresh,
built once for the module. Queries are made from real person records (and corrupted the way the
migrations corrupt them); the expected answer is that record's master person. Agency separation is
checked under the agencies' own logins, the analysts' login is refused."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest

from cww.postgres import Server
from cww.security import agency_role, analyst_role, data_team_role, role_password
from cww.settings import Settings
from data_quality.search import refresh_search
from data_quality.search.query import conninfo, run_search

AS_OF = date(2025, 6, 30)
SAMPLE = 12


@pytest.fixture(scope="module")
def search_wh(module_settings: Settings) -> Settings:
    from cww.transform import build
    from data_quality.dedupe.warehouse import run_matching
    from extract.api import run_extract
    from simulator.api import init_source

    settings = module_settings
    init_source(settings, "tiny", 7, force=True, as_of=AS_OF)
    run_extract(settings)
    run_matching(settings)
    build(settings)
    first = refresh_search(settings)
    second = refresh_search(settings)  # nothing landed since: an incremental no-op
    assert (first.mode, second.mode, second.touched) == ("full", "incremental", 0)
    assert (second.persons, second.master_persons, second.history_rows) == (
        first.persons,
        first.master_persons,
        first.history_rows,
    )
    assert first.persons > 1000 and first.history_rows > 1000
    return settings


@pytest.fixture(scope="module")
def wh(search_wh: Settings, pg_server: Server) -> Iterator[psycopg.Connection]:
    """The data team's connection (the superuser the pipeline runs as)."""
    with psycopg.connect(pg_server.conninfo(search_wh.warehouse_db), autocommit=True) as conn:
        yield conn


def _sample(conn: psycopg.Connection, extra: str = "true") -> list[dict]:
    """Persons with a full name and birth date, spread over the table, deterministic."""
    rows = conn.execute(
        f"""
        select person_id, master_person_id, given_tokens[1] as given, sur_tokens as surs, birth_date,
               agency_id
        from search.person p
        where cardinality(given_tokens) = 1 and cardinality(sur_tokens) >= 1 and birth_date is not null
          and length(given_tokens[1]) >= 3 and length(sur_tokens[1]) >= 5 and {extra}
        order by hashtext(person_id::text)
        limit {SAMPLE}
        """
    ).fetchall()
    return [
        dict(zip(("person_id", "master", "given", "surs", "birth_date", "agency_id"), r, strict=True))
        for r in rows
    ]


def _rank(conn: psycopg.Connection, query: str, master: int, top: int = 5) -> int | None:
    hits = run_search(conn, query, top)
    return next((h.rank for h in hits if h.master_person_id == master), None)


def _typo(word: str) -> str:
    """Swap two letters in the middle (a transposition: two keystrokes by edit distance)."""
    i = len(word) // 2
    return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]


def _assert_found(conn: psycopg.Connection, cases: list[tuple[str, int]], top: int) -> None:
    misses = [(q, m) for q, m in cases if _rank(conn, q, m, top) is None]
    assert len(cases) >= 8
    assert misses == [], f"{len(misses)}/{len(cases)} not in the top {top}: {misses}"


def test_exact_queries_rank_the_person_first(wh: psycopg.Connection) -> None:
    cases = [(f"{p['given']} {' '.join(p['surs'])} {p['birth_date']}", p["master"]) for p in _sample(wh)]
    _assert_found(wh, cases, top=1)


def test_typo_in_surname_and_given_name(wh: psycopg.Connection) -> None:
    people = _sample(wh)
    cases = [(f"{p['given']} {_typo(p['surs'][0])} {p['birth_date']}", p["master"]) for p in people]
    cases += [(f"{_typo(p['given'])} {p['surs'][0]} {p['birth_date']:%Y-%m}", p["master"]) for p in people]
    _assert_found(wh, cases, top=3)


def test_nickname_queries(wh: psycopg.Connection) -> None:
    people = _sample(
        wh, "exists (select 1 from search.nickname n where n.name = p.given_tokens[1] and n.sim > 0.8)"
    )
    cases = []
    for p in people:
        nick = wh.execute(
            "select related from search.nickname where name = %s and sim > 0.8 order by related limit 1",
            (p["given"],),
        ).fetchone()[0]
        cases.append((f"{nick} {p['surs'][0]} {p['birth_date']}", p["master"]))
    _assert_found(wh, cases, top=3)


def test_swapped_day_and_month(wh: psycopg.Connection) -> None:
    people = _sample(
        wh,
        "extract(day from birth_date) <= 12"
        " and extract(day from birth_date) <> extract(month from birth_date)",
    )
    # The record's date with day and month swapped, written ISO: the record must still be found.
    cases = [(f"{p['given']} {p['surs'][0]} {p['birth_date']:%Y-%d-%m}", p["master"]) for p in people]
    _assert_found(wh, cases, top=3)


def test_missing_birth_date_and_surname_first(wh: psycopg.Connection) -> None:
    # Names alone: several people may share a name, so the person must be among the top five.
    unique = (
        "(select count(*) from search.person q"
        " where q.given_tokens[1] = p.given_tokens[1] and q.sur_tokens = p.sur_tokens) <= 2"
    )
    people = _sample(wh, unique)
    cases = [(f"{p['given']} {' '.join(p['surs'])}", p["master"]) for p in people]
    _assert_found(wh, cases, top=5)
    # "Surname, Given b. dd/mm/yyyy": the comma says which is which; day-first or month-first.
    cases = [
        (f"{' '.join(p['surs']).title()}, {p['given'].title()} b. {p['birth_date']:%d/%m/%Y}", p["master"])
        for p in _sample(wh)
    ]
    _assert_found(wh, cases, top=1)


def test_parse_query(wh: psycopg.Connection) -> None:
    parsed = wh.execute(
        "select names, comma_at, dates, ym, city, postal from search.parse_query(%s)",
        ("Smith, Jonathan b. 03/12/2014 Sioux Lookout P8T 1A1",),
    ).fetchone()
    assert parsed == (
        ["smith", "jonathan"],
        1,
        [date(2014, 12, 3), date(2014, 3, 12)],
        [],
        "sioux lookout",
        "P8T1A1",
    )
    parsed = wh.execute(
        "select names, comma_at, dates, ym, years from search.parse_query('jon smyth 2014-03')"
    ).fetchone()
    assert parsed == (["jon", "smyth"], 0, [], [201403], [])
    parsed = wh.execute(
        "select names, dates from search.parse_query('Élisabeth O''Brien 12 March 2014')"
    ).fetchone()
    assert parsed == (["elisabeth", "obrien"], [date(2014, 3, 12)])
    # A surname that is also a city stays a name when it is one of the first two tokens.
    assert wh.execute("select names, city from search.parse_query('Jonathan Ottawa')").fetchone() == (
        ["jonathan", "ottawa"],
        None,
    )


def _multi_agency_master(conn: psycopg.Connection) -> tuple[int, int, int, dict]:
    """A master person with records and history at two agencies A and B (a query from A's record)."""
    row = conn.execute(
        """
        select p.master_person_id, p.agency_id, h.agency_id, p.given_tokens[1], p.sur_tokens[1], p.birth_date
        from search.person p
        join search.history h on h.master_person_id = p.master_person_id and h.agency_id <> p.agency_id
        where p.birth_date is not null and cardinality(p.given_tokens) >= 1
          and exists (select 1 from search.history o where o.master_person_id = p.master_person_id
                      and o.agency_id = p.agency_id)
        order by p.master_person_id, h.agency_id limit 1
        """
    ).fetchone()
    assert row is not None, "the tiny province has people known to two agencies"
    master, a, b, given, sur, born = row
    return master, a, b, {"query": f"{given} {sur} {born}"}


def _single_agency_master(conn: psycopg.Connection) -> tuple[int, int, int, dict]:
    """A master person whose records and history are all at one agency A, and another agency B."""
    row = conn.execute(
        """
        select p.master_person_id, p.agency_id, (select min(a.agency_id) from search.agency a
                                                 where a.agency_id <> p.agency_id),
               p.given_tokens[1], p.sur_tokens[1], p.birth_date
        from search.person p
        where p.birth_date is not null and cardinality(p.given_tokens) >= 1
          and exists (select 1 from search.history h where h.master_person_id = p.master_person_id)
          and not exists (select 1 from search.history h where h.master_person_id = p.master_person_id
                          and h.agency_id <> p.agency_id)
          and not exists (select 1 from search.person o where o.master_person_id = p.master_person_id
                          and o.agency_id <> p.agency_id)
        order by p.master_person_id limit 1
        """
    ).fetchone()
    master, a, b, given, sur, born = row
    return master, a, b, {"query": f"{given} {sur} {born}"}


def _agency_code(conn: psycopg.Connection, agency_id: int) -> str:
    return conn.execute(
        "select agency_code from search.agency where agency_id = %s", (agency_id,)
    ).fetchone()[0]


def test_agency_sees_other_agencies_only_as_dates(
    wh: psycopg.Connection, search_wh: Settings, pg_server: Server
) -> None:
    master, a, b, q = _multi_agency_master(wh)
    code_a, code_b = _agency_code(wh, a), _agency_code(wh, b)
    # The data team sees everything in full.
    full = next(h for h in run_search(wh, q["query"], 5) if h.master_person_id == master)
    assert {i["agency"] for i in full.history} >= {code_a, code_b}
    assert all("kind" in i for i in full.history)

    with psycopg.connect(conninfo(search_wh, code_a, pg_server)) as conn:
        hit = next(h for h in run_search(conn, q["query"], 5) if h.master_person_id == master)
        assert hit.detail_visible and hit.given_name and hit.birth_date
        own = [i for i in hit.history if i["agency"] == code_a]
        other = [i for i in hit.history if i["agency"] == code_b]
        assert other, "other agencies' involvement is shown"
        assert all(set(i) == {"agency", "agency_name", "start", "end"} for i in other), other
        assert all("kind" in i and "id" in i for i in own)
        assert code_b in (hit.known_to or "")
        # Nothing underneath is readable directly, and another role cannot be claimed.
        for sql_text in ("select count(*) from search.person", "select count(*) from search.history"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql_text)
            conn.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "select * from reporting.search_person_for(%s, 5, %s)",
                (q["query"], agency_role(code_b, search_wh.role_prefix)),
            )
        conn.rollback()


def test_person_known_only_elsewhere_is_found_without_name(
    wh: psycopg.Connection, search_wh: Settings, pg_server: Server
) -> None:
    master, a, b, q = _single_agency_master(wh)
    code_a, code_b = _agency_code(wh, a), _agency_code(wh, b)
    with psycopg.connect(conninfo(search_wh, code_b, pg_server)) as conn:
        hit = next(h for h in run_search(conn, q["query"], 5) if h.master_person_id == master)
    assert not hit.detail_visible
    assert (hit.given_name, hit.middle_name, hit.surname, hit.birth_date, hit.city, hit.postal_code) == (
        None,
    ) * 6
    assert hit.history and all(set(i) == {"agency", "agency_name", "start", "end"} for i in hit.history)
    assert {i["agency"] for i in hit.history} == {code_a} and hit.known_to == code_a


def test_analyst_gets_no_names(search_wh: Settings, pg_server: Server, wh: psycopg.Connection) -> None:
    role = analyst_role(search_wh.role_prefix)
    info = pg_server.conninfo(search_wh.warehouse_db, user=role, password=role_password(role))
    query = _sample(wh)[0]
    with psycopg.connect(info) as conn:
        for stmt, args in (
            ("select * from reporting.search_person(%s)", (f"{query['given']} {query['surs'][0]}",)),
            ("select * from reporting.search_person_for(%s, 5, %s)", ("x", role)),
            ("select * from search.person limit 1", ()),
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(stmt, args)
            conn.rollback()


def test_data_team_member_sees_every_agency(
    search_wh: Settings, pg_server: Server, wh: psycopg.Connection
) -> None:
    master, _, _, q = _multi_agency_master(wh)
    member = f"{search_wh.role_prefix}_dt_{uuid.uuid4().hex[:6]}"
    wh.execute(
        f'create role "{member}" login password \'dt-test\' in role "{data_team_role(search_wh.role_prefix)}"'
    )
    wh.execute(f'grant connect on database "{search_wh.warehouse_db}" to "{member}"')
    try:
        info = pg_server.conninfo(search_wh.warehouse_db, user=member, password="dt-test")
        with psycopg.connect(info) as conn:
            hit = next(h for h in run_search(conn, q["query"], 5) if h.master_person_id == master)
        assert hit.detail_visible and all("kind" in i for i in hit.history)
        assert len({i["agency"] for i in hit.history}) >= 2
    finally:
        wh.execute(f'revoke connect on database "{search_wh.warehouse_db}" from "{member}"')
        wh.execute(f'drop role "{member}"')


def test_search_and_dashboards_share_one_data_team_role(search_wh: Settings, wh: psycopg.Connection) -> None:
    from dashboards.provision import datateam_role

    stored = wh.execute("select value from search.setting where key = 'data_team_role'").fetchone()[0]
    assert stored == data_team_role(search_wh.role_prefix) == datateam_role(search_wh)
    assert wh.execute("select 1 from pg_roles where rolname = %s", (stored,)).fetchone()


def test_cli_prints_ranked_table(
    search_wh: Settings, wh: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    import cww.settings as cs
    from cww.cli import app

    p = _sample(wh)[0]
    monkeypatch.setenv("CWW_WAREHOUSE_DB", search_wh.warehouse_db)
    monkeypatch.setenv("CWW_ROLE_PREFIX", search_wh.role_prefix)
    monkeypatch.setenv("CWW_HOME", str(Path(search_wh.home)))
    cs.get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            app, ["search", f"{p['given']} {p['surs'][0]} {p['birth_date']}", "-n", "3"]
        )
    finally:
        cs.get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "Person search" in result.output and p["surs"][0] in result.output.lower()


def test_demo_step_finds_a_duplicated_person_despite_a_typo(search_wh: Settings) -> None:
    from data_quality.search.demo import demo_step

    lines = demo_step(search_wh)
    assert lines[0].startswith("person search: ")
    found = [line for line in lines if "→ #1" in line]
    assert found, lines
    records = int(found[0].split(" records")[0].rsplit(" ", 1)[1])
    assert records >= 2, found


# Compared as sets of normalised rows: `keys` is built by a UNION, so its element order is not part
# of a row's meaning.
_PERSON_ROWS = """
    select person_id, master_person_id, agency_id, given_name, middle_name, surname, birth_date, city,
           postal_code, given_tokens, middle_tokens, sur_tokens, cities, postals,
           (select array_agg(k order by k) from unnest(keys) k) as keys
    from {}
"""


def test_nightly_refresh_equals_a_full_rebuild(
    search_wh: Settings, pg_server: Server, wh: psycopg.Connection
) -> None:
    """Runs last (it moves the module's province on): two simulated days, a renamed person and a
    removed address, then the nightly path (extract → matching → nightly dbt → incremental search
    refresh) must leave exactly the tables a full rebuild makes."""
    from cww.transform import build
    from data_quality.dedupe.warehouse import run_matching
    from extract.api import run_extract
    from simulator.api import advance

    settings = search_wh
    advance(settings, 2)
    with psycopg.connect(pg_server.conninfo(settings.source_db), autocommit=True) as src:
        renamed = src.execute(
            "update cpin.person set surname = 'Quennevillette', "
            "updated_at = (select max(updated_at) from cpin.person) "
            "where person_id = (select min(person_id) from cpin.person where surname is not null) "
            "returning person_id"
        ).fetchone()[0]
        gone = src.execute(
            "delete from cpin.person_address "
            "where address_id = (select max(address_id) from cpin.person_address) returning person_id"
        ).fetchone()[0]
    run_extract(settings)
    run_matching(settings)
    build(settings, nightly=True)
    nightly = refresh_search(settings)
    assert nightly.mode == "incremental"
    assert nightly.touched is not None and 2 <= nightly.touched < nightly.persons // 2
    for name in ("person", "history", "vocab", "place"):
        wh.execute(f"drop table if exists search._nightly_{name}")
        query = _PERSON_ROWS.format("search.person") if name == "person" else f"select * from search.{name}"
        wh.execute(f"create table search._nightly_{name} as {query}")
    assert wh.execute(
        "select surname from search.person where person_id = %s", (renamed,)
    ).fetchone() == ("Quennevillette",)

    full = refresh_search(settings, full=True)
    assert full.mode == "full" and full.persons == nightly.persons
    for name in ("person", "history", "vocab"):
        rebuilt = _PERSON_ROWS.format("search.person") if name == "person" else f"select * from search.{name}"
        extra = wh.execute(
            f"select count(*) from (select * from search._nightly_{name} except all {rebuilt}) d"
        )
        missing = wh.execute(
            f"select count(*) from ({rebuilt} except all select * from search._nightly_{name}) d"
        )
        assert (name, extra.fetchone()[0], missing.fetchone()[0]) == (name, 0, 0)
    # Places are only ever added by the nightly refresh (a city stays a place).
    assert wh.execute(
        "select count(*) from (select * from search.place except select * from search._nightly_place) d"
    ).fetchone()[0] == 0
    assert gone is not None
    for name in ("person", "history", "vocab", "place"):
        wh.execute(f"drop table search._nightly_{name}")
