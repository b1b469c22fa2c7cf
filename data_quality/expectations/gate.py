"""What dbt should leave out tonight: the downstream of raw tables whose blocking suite failed.

dagster-dbt exempts the dbt step from blocking checks on the raw assets (the step owns its own
source-test checks on them), and inside one `dbt build` Dagster cannot skip single models. The
gate therefore lives in the dbt invocation: ``dbt build --exclude <these selectors>`` rebuilds
everything except what reads a broken table, so unrelated marts stay fresh and broken ones keep
yesterday's good state.
"""

from __future__ import annotations

import psycopg

_FAILED_RAW = """
with latest as (
    select distinct on (suite) suite, run_id
    from dq.expectation_result
    where suite like 'raw.%%'
    order by suite, run_at desc
)
select l.suite
from latest as l
where exists (
    select 1 from dq.expectation_result as e
    where e.run_id = l.run_id and e.suite = l.suite and e.blocking and not e.passed
)
order by l.suite
"""


def dbt_exclusions(conn: psycopg.Connection) -> list[str]:
    """``source:cpin.<table>+`` for each raw table whose latest suite run failed a blocking check."""
    if conn.execute("select to_regclass('dq.expectation_result') is null").fetchone()[0]:
        return []
    return [f"source:cpin.{suite.split('.', 1)[1]}+" for (suite,) in conn.execute(_FAILED_RAW)]
