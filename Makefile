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

test: env
	@$(UV) run --frozen pytest $(PYTEST_ARGS)

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
