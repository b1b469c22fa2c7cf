"""Expectation suites kept as code (Great Expectations 1.x) and the runner that validates the warehouse.

- ``spec``        — the plain-Python description of a suite (no GX import: 7–11 s);
- ``contract``    — what the raw layer must look like (simulator/schema.sql, extract registry);
- ``raw_suites``  — one suite per raw table: schema, keys, code sets, dates, volume, freshness;
- ``scope``       — which raw rows a run checks: every live row (full) or those landed since the
                    suite's last accepted run (nightly), and the whole-table facts in one scan;
- ``mart_suites`` — the marts dashboards read: placements, payments, indicators;
- ``store``       — the warehouse ``dq`` schema: runs, results, row-count baselines;
- ``runner``      — GX context, add-or-update suites, validate, store, Data Docs, hold-back.
"""
