"""The `cww demo` step for person search: refresh, then show one search as the demo would type it."""

from __future__ import annotations

import psycopg

from cww.settings import Settings
from data_quality.search.install import refresh_search
from data_quality.search.query import conninfo, run_search

# A person with several records (a migration duplicate), searched with a typo in the surname.
_EXAMPLE_SQL = """
select p.given_name, p.surname, p.birth_date
from search.person p
where p.birth_date is not null and length(p.surname) >= 5 and p.given_name is not null
  and p.master_person_id in (select master_person_id from search.person group by 1 having count(*) > 1)
order by p.master_person_id
limit 1
"""


def demo_step(settings: Settings) -> list[str]:
    """Refresh the search tables; search for a duplicated person with a typo; say how to try it."""
    lines = refresh_search(settings).lines()
    with psycopg.connect(conninfo(settings)) as conn:
        row = conn.execute(_EXAMPLE_SQL).fetchone()
        if row is None:
            return lines
        given, surname, born = row
        query = f"{given} {surname[:2]}{surname[3]}{surname[2]}{surname[4:]} {born:%Y-%m}"
        hits = run_search(conn, query, 3)
    if hits:
        top = hits[0]
        lines.append(
            f"search {query!r} → #1 {top.display_name()} (score {top.score:.2f}), born {top.birth_date}, "
            f"{top.records} records, known to {top.known_to}"
        )
    lines.append("try: cww search 'Smith, Jonathan b. 03/12/2014 Ottawa' [--agency CAS-OTT]")
    return lines
