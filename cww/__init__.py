"""Child Welfare Warehouse: shared settings, PostgreSQL management and the `cww` CLI."""
