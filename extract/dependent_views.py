"""Widening a raw column under the views that read it (dbt's staging views, analysts' views).

PostgreSQL refuses ``ALTER COLUMN … TYPE`` on a column a view uses ("cannot alter type of a column
used by a view or rule"), so in a real warehouse — where dbt's staging views read every raw table —
a widening drift would stop the table every night. The fix PostgreSQL leaves to us: inside the
same transaction, remember every view that depends on the table (transitively), drop them, alter
the column, and create them again with the same definition, options (``security_invoker`` …),
owner, comments and grants. Materialised views are not handled (the alter then fails as before,
with its message).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg
from psycopg import sql


@dataclass
class _View:
    schema: str
    name: str
    depth: int
    definition: str
    options: list[str]
    owner: str
    comment: str | None
    column_comments: list[tuple[str, str]] = field(default_factory=list)
    grants: list[tuple[str, str, bool]] = field(default_factory=list)  # grantee, privilege, grantable

    @property
    def ident(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)


_DEPENDENTS = """
with recursive deps (oid, depth) as (
    select r.ev_class, 1
    from pg_depend as d join pg_rewrite as r on r.oid = d.objid
    where d.classid = 'pg_rewrite'::regclass and d.refobjid = %(table)s::regclass
      and r.ev_class <> %(table)s::regclass
    union
    select r.ev_class, deps.depth + 1
    from deps
    join pg_depend as d on d.refobjid = deps.oid and d.classid = 'pg_rewrite'::regclass
    join pg_rewrite as r on r.oid = d.objid
    where r.ev_class <> deps.oid and deps.depth < 50
)
select c.oid, n.nspname, c.relname, c.relkind, max(deps.depth), pg_get_viewdef(c.oid),
       coalesce(c.reloptions, '{}'), pg_get_userbyid(c.relowner), obj_description(c.oid, 'pg_class')
from deps join pg_class as c on c.oid = deps.oid join pg_namespace as n on n.oid = c.relnamespace
group by c.oid, n.nspname, c.relname, c.relkind
order by max(deps.depth), n.nspname, c.relname
"""


def dependent_views(conn: psycopg.Connection, table: sql.Composable) -> list[_View]:
    """Views reading ``table`` directly or through other views, dependencies first."""
    qualified = table.as_string(conn)
    views: list[_View] = []
    for oid, schema, name, kind, depth, definition, options, owner, comment in conn.execute(
        _DEPENDENTS, {"table": qualified}
    ):
        if kind != "v":
            continue  # a materialised view: leave it, the ALTER will say why it cannot proceed
        v = _View(schema, name, depth, definition, list(options), owner, comment)
        v.column_comments = [
            (r[0], r[1])
            for r in conn.execute(
                """select a.attname, d.description from pg_description as d
                   join pg_attribute as a on a.attrelid = d.objoid and a.attnum = d.objsubid
                   where d.objoid = %s and d.classoid = 'pg_class'::regclass and d.objsubid > 0""",
                (oid,),
            )
        ]
        v.grants = [
            (r[0], r[1], r[2])
            for r in conn.execute(
                """select coalesce(pg_get_userbyid(nullif(a.grantee, 0)), 'PUBLIC'), a.privilege_type,
                          a.is_grantable
                   from pg_class as c, aclexplode(c.relacl) as a
                   where c.oid = %s and a.grantee <> c.relowner""",
                (oid,),
            )
        ]
        views.append(v)
    # A view reached at several depths must be created after all of its inputs: keep its deepest.
    return sorted(views, key=lambda v: v.depth)


def _recreate(conn: psycopg.Connection, v: _View) -> None:
    with_options = (
        sql.SQL(" with ({})").format(sql.SQL(", ").join(sql.SQL(o) for o in v.options))
        if v.options
        else sql.SQL("")
    )
    conn.execute(
        sql.SQL("create view {}{} as {}").format(v.ident, with_options, sql.SQL(v.definition.rstrip(";")))
    )
    conn.execute(sql.SQL("alter view {} owner to {}").format(v.ident, sql.Identifier(v.owner)))
    if v.comment is not None:
        conn.execute(sql.SQL("comment on view {} is {}").format(v.ident, sql.Literal(v.comment)))
    for column, text in v.column_comments:
        conn.execute(
            sql.SQL("comment on column {}.{} is {}").format(
                v.ident, sql.Identifier(column), sql.Literal(text)
            )
        )
    for grantee, privilege, grantable in v.grants:
        who = sql.SQL("public") if grantee == "PUBLIC" else sql.Identifier(grantee)
        conn.execute(
            sql.SQL("grant {} on {} to {}{}").format(
                sql.SQL(privilege), v.ident, who, sql.SQL(" with grant option" if grantable else "")
            )
        )


@contextmanager
def views_set_aside(conn: psycopg.Connection, table: sql.Composable) -> Iterator[list[str]]:
    """Drop the views that read ``table`` for the duration of the block, then create them again.

    Run inside the caller's transaction: if anything fails, the rollback restores the views too.
    Yields the qualified names of the views set aside (for the run's warnings).
    """
    views = dependent_views(conn, table)
    for v in reversed(views):
        conn.execute(sql.SQL("drop view {}").format(v.ident))
    yield [f"{v.schema}.{v.name}" for v in views]
    for v in views:
        _recreate(conn, v)
