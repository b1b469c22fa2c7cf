# Two commands matter: `make demo` (the nightly job end to end, locally) and `make test`.
# Both bootstrap everything from nothing but Python 3.11: uv (via pip), the locked environment,
# and a private PostgreSQL cluster when CWW_PG_URL is not set.

UV := python3 -m uv
PYTEST_ARGS ?=

.PHONY: demo test env lint bench clean

env:
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv \
		|| python3 -m pip install --quiet --user --break-system-packages uv
	@$(UV) sync --frozen --quiet

demo: env
	@$(UV) run --frozen cww demo

# The whole suite: the soak week (tests/test_soak.py: seven nightly runs on its own private cluster
# and ports, mostly waiting on runs, restarts and retry back-offs) runs beside the rest, which keeps
# the suite inside CI's 30 minutes on 2 cores; its output follows the rest's. The dbt manifest both
# halves' Dagster definitions read is written once, before either starts. With PYTEST_ARGS (a file,
# -k …) it is one ordinary pytest run.
test: env
ifeq ($(strip $(PYTEST_ARGS)),)
	@$(UV) run --frozen cww dbt parse >/dev/null
	@log=$$(mktemp); \
	$(UV) run --frozen pytest tests/test_soak.py -p no:cacheprovider >"$$log" 2>&1 & soak=$$!; \
	$(UV) run --frozen pytest --ignore=tests/test_soak.py; rest=$$?; \
	wait $$soak; soak_rc=$$?; \
	echo "── tests/test_soak.py (ran alongside the rest) ──"; cat "$$log"; rm -f "$$log"; \
	test $$rest -eq 0 && test $$soak_rc -eq 0
else
	@$(UV) run --frozen pytest $(PYTEST_ARGS)
endif

lint: env
	@$(UV) run --frozen ruff check .

# One benchmark: make bench B=extract (see README "Benchmarks"); BENCH_ARGS passes options.
B ?= extract
BENCH_ARGS ?=
bench: env
	@$(UV) run --frozen --group bench python bench/$(B).py $(BENCH_ARGS)

clean:
	-@$(UV) run --frozen cww db down
	rm -rf .cww
