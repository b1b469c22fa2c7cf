"""Suites for the marts the dashboards and CSV reports read.

Blocking: every child in care has exactly one current placement and a placement address (the
"where are my kids" dashboard), payments are never negative (spend dashboards), indicator
percentages lie in 0–100. Warning: a payment above its category's limit (a real one-off
exception is possible; finance should look), a rate indicator below zero.
"""

from __future__ import annotations

from psycopg import sql

from data_quality.expectations.spec import Check, Suite

# Upper limit of one payment by category (CAD). PDM is a per-diem: the limit applies per day of
# service (the most expensive treatment resources cost about 1,500 a day).
CATEGORY_LIMITS: dict[str, float] = {
    "PDM": 1500.0,
    "CLO": 1000.0,
    "EDU": 2500.0,
    "MED": 5000.0,
    "TRN": 1000.0,
    "REC": 1000.0,
    "OTH": 2500.0,
}
PER_DAY = {"PDM"}

_CHILDREN_IN_CARE = """
select c.child_id, c.agency_code, c.placement_type_code, c.address, c.postal_code,
       -- on the run there is no placement address to show; everywhere else there must be one
       case when c.placement_type_code = 'RUN' then '(on the run)' else c.address end as placement_address,
       (select count(*) from marts.fct_placements p where p.child_id = c.child_id and p.is_current)
           as current_placements
from marts.children_in_care_current as c
"""

_INDICATORS = "select * from marts.fct_indicators where unit = 'percent'"


def _payments_query() -> str:
    limits = sql.SQL(", ").join(
        sql.SQL("({}, {}::numeric, {})").format(
            sql.Literal(code), sql.Literal(limit), sql.Literal(code in PER_DAY)
        )
        for code, limit in CATEGORY_LIMITS.items()
    )
    return (
        sql.SQL(
            "select p.payment_id, p.agency_id, p.payment_category_code, p.amount, "
            "case when l.per_day then p.amount / greatest(p.service_to - p.service_from + 1, 1)"
            " else p.amount end"
            " - l.max_amount as amount_above_category_limit "
            "from marts.fct_payments as p left join (values {}) as l (code, max_amount, per_day) "
            "on l.code = p.payment_category_code"
        )
        .format(limits)
        .as_string(None)
    )


def mart_suites() -> list[Suite]:
    return [
        Suite(
            name="marts.children_in_care_current",
            relation="marts.children_in_care_current",
            query=_CHILDREN_IN_CARE,
            asset_key=("marts", "children_in_care_current"),
            also_guards=(("reporting", "rpt_children_in_care_current"), ("reporting", "rpt_placements")),
            checks=[
                Check("ExpectColumnValuesToBeUnique", {"column": "child_id"}, True, "one row per child"),
                Check(
                    "ExpectColumnValuesToBeBetween",
                    {"column": "current_placements", "min_value": 1, "max_value": 1},
                    True,
                    "exactly one current placement (marts.fct_placements.is_current)",
                ),
                Check(
                    "ExpectColumnValuesToNotBeNull", {"column": "placement_address"}, True, "has an address"
                ),
                Check(
                    "ExpectColumnValuesToNotBeNull",
                    {"column": "postal_code", "mostly": 0.95},
                    False,
                    "postal code",
                ),
            ],
        ),
        Suite(
            name="marts.fct_payments",
            relation="marts.fct_payments",
            query=_payments_query(),
            asset_key=("marts", "fct_payments"),
            also_guards=(
                ("reporting", "rpt_payments"),
                ("reporting", "rpt_monthly_spend"),
                ("reporting", "rpt_cost_per_day_of_care"),
            ),
            checks=[
                Check("ExpectColumnValuesToNotBeNull", {"column": "amount"}, True, "amount filled"),
                Check(
                    "ExpectColumnValuesToBeBetween",
                    {"column": "amount", "min_value": 0},
                    True,
                    "non-negative",
                ),
                Check(
                    "ExpectColumnValuesToBeInSet",
                    {"column": "payment_category_code", "value_set": list(CATEGORY_LIMITS)},
                    True,
                    "known category",
                ),
                Check(
                    "ExpectColumnValuesToBeBetween",
                    {"column": "amount_above_category_limit", "max_value": 0},
                    False,
                    "within the category limit (per day for per diems)",
                ),
            ],
        ),
        Suite(
            name="marts.fct_indicators",
            relation="marts.fct_indicators",
            query=_INDICATORS,
            asset_key=("marts", "fct_indicators"),
            also_guards=(("reporting", "rpt_indicators"),),
            checks=[
                Check(
                    "ExpectColumnValuesToBeBetween",
                    {"column": "value", "min_value": 0, "max_value": 100},
                    True,
                    "percentages within 0–100 %",
                ),
                Check(
                    "ExpectColumnPairValuesAToBeGreaterThanB",
                    {
                        "column_A": "denominator",
                        "column_B": "numerator",
                        "or_equal": True,
                        "ignore_row_if": "either_value_is_missing",
                    },
                    True,
                    "numerator never exceeds the denominator",
                ),
            ],
        ),
    ]
