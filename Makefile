# Two commands on a fresh machine: `make bench-db` and `make test`. Both bootstrap what
# is missing (system packages, the runner's environment) and skip what is there.
PYTHON ?= python3
VENV := .venvs/runner
AUDIT := .venvs/audit
DOCS := .venvs/docs
DBBENCH := $(VENV)/bin/dbbench
ARGS ?=

.PHONY: docs docs-env lock test-fast latency open-loop pooler cost-tools bench-cost environments lessons bench-db bench-scenarios bench-stacks bench-parity bench-quick bench-all bench-seed db-up db-down test lint audit system browser proxy setup clean

bench-db: setup
	$(DBBENCH) run $(ARGS)

# Every scenario (by-id, by-username, page, edit, user-posts, feed, queries, mix) on the default
# cells, one run each: 8 x 200 s budgets, about 28 minutes in all once every scenario's pools are
# tuned (the first time, each scenario tunes its cells' pools first: about 5 minutes more each).
# Prints a matrix and an ORM-tax table per scenario.
bench-scenarios: setup
	@echo "bench-scenarios: 8 scenarios, about 28 minutes"
	$(DBBENCH) run --scenario all --budget 200 $(ARGS)

# The stacks a FastAPI team weighs in 2026 (apps/presets.toml, preset stacks): 16 cells and the
# price of each choice (driver, ORM, server, framework, sync or async), each a paired ratio with its
# interval, on the cheapest request (by-id) and on the workload (mix), then on the mix behind
# PgBouncer in transaction mode. Three runs into one
# directory, then `dbbench prices` renders the table across them into its prices.md. It uses the
# pools `dbbench tune --preset stacks` recorded, else the rule, and each run's report says which.
# ARGS go to every run: ARGS="--db-latency 2" prices the same choices across a network.
STACKS_BUDGET ?= 300
bench-stacks: setup pooler
	@echo "bench-stacks: 16 cells on by-id and mix, then on mix behind PgBouncer: about 16 minutes"
	@out=results/stacks-$$(date -u +%Y-%m-%dT%H-%M-%SZ) && \
	  $(DBBENCH) run --preset stacks --scenario by-id,mix --budget $(STACKS_BUDGET) --out $$out $(ARGS) && \
	  $(DBBENCH) run --preset stacks --scenario mix --pooler pgbouncer --budget $(STACKS_BUDGET) --out $$out $(ARGS) && \
	  $(DBBENCH) prices $$out > $$out/.prices.md && mv $$out/.prices.md $$out/prices.md && \
	  cat $$out/prices.md && echo "prices: $$out/prices.md"

# Every cell with a minimal app (apps/minimal/minimal.toml) against it, paired, each pair in a group
# of its own; published to docs/parity/, which every report's method section cites. Committed code only.
bench-parity: setup
	@echo "bench-parity: 21 cells, each against its minimal app: about 40 minutes"
	$(DBBENCH) parity --publish $(ARGS)

# What a request costs the CPU, in instructions (valgrind's callgrind): the default cells, each
# server counted over a few and then many sequential requests, the difference per request,
# three repeats; published to docs/cost/, which every run's report states beside its throughput.
# The host's noise does not move an instruction count (it moves the PostgreSQL CPU time beside
# it); instructions do not count waiting or the kernel. Committed code only.
# ARGS="--preset stacks" counts the stacks preset's cells instead, into docs/cost/stacks/ (about 25 minutes),
# so that each stack price is stated in instructions too.
bench-cost: setup cost-tools
	@echo "bench-cost: the 7 default cells under callgrind (about 9 minutes; the stacks' 16, about 25)"
	$(DBBENCH) cost --publish $(ARGS)
	$(DBBENCH) docs

bench-quick: setup
	$(DBBENCH) run --quick $(ARGS)

bench-all: setup
	$(DBBENCH) run --all $(ARGS)

# Latency as users see it: constant-rate steps up to each cell's peak, and with --slo the
# highest rate that meets an objective, e.g. make latency ARGS="--slo p99=50ms".
latency: open-loop setup
	$(DBBENCH) latency $(ARGS)

# How long the default seed takes here, 100,000 users and about a million posts (a
# measurement, not a test); ARGS="--users N" times another size.
bench-seed: setup
	time $(DBBENCH) db seed --users 100000 $(ARGS)

# Lessons (docs/lessons): each target measures its experiment again and renders the page.
LESSONS := event-loop where-time-goes littles-law what-asyncio-buys pool-size processes orm-tax orm-tax-page-edit n-plus-one
lessons: $(addprefix lesson-,$(LESSONS))
	$(DBBENCH) lesson --index

lesson-%: setup proxy
	$(DBBENCH) lesson $* --measure
	$(DBBENCH) docs

db-up: setup
	$(DBBENCH) db up $(ARGS)

db-down: setup
	$(DBBENCH) db down

# The tests also open the HTML report in a headless Chromium, put toxiproxy between cells and
# PostgreSQL, drive cells at a constant rate with oha, and run the cluster commands over SSH
# between network namespaces: the bootstrap installs Chromium and OpenSSH and builds toxiproxy
# (about 45 s) and oha (cargo, about 6 minutes on two cores), and installs PgBouncer. Then the cells' environments are
# built (uv, about 25 s for the four), where the tests would build them one by one at first use. One
# after the other, because each build uses both cores: side by side (make -j2) was no faster in
# the one timing of each made here, which cannot tell them apart.
test: browser proxy pooler open-loop cost-tools environments docs-env
	$(VENV)/bin/python -m pytest $(ARGS)

# For contributors: the tests that need neither the session's database nor a tool the bootstrap
# builds or installs apart (oha, toxiproxy, valgrind, Chromium, SSH), and one real run of two
# cells (fastapi/raw and gin/raw) end to end, with its report; no all-cells verification. On a
# checkout whose environments are built, about two minutes. `make test` stays the whole suite CI runs.
test-fast: setup docs-env
	$(VENV)/bin/python -m pytest --fast $(ARGS)

# The docs site: the generated pages written again from their sources (README.md's findings,
# docs/findings.md, docs/stacks/prices.md, docs/cli.md), then MkDocs builds site/ with --strict (a broken link or
# anchor fails it). Its own environment, from runner/docs.lock, like the audit's.
docs: $(VENV)/.ready docs-env
	$(DBBENCH) docs
	NO_MKDOCS_2_WARNING=1 $(DOCS)/bin/mkdocs build --strict
	@echo "docs: site/index.html"

docs-env: $(DOCS)/.ready

$(DOCS)/.ready: runner/docs.lock $(VENV)/.ready
	rm -rf $(DOCS)
	$(PYTHON) -m venv $(DOCS)
	$(VENV)/bin/uv pip install --quiet --python $(DOCS)/bin/python -r runner/docs.lock
	touch $@

# A stack's lock file, apps/stacks/NAME.txt, compiled by uv from NAME.in (its top-level pins) for
# Python 3.11 on Linux, keeping the lock's other pins where the .in allows; never edited by hand. Then `dbbench env build NAME` and `dbbench verify` its cells.
lock: $(VENV)/.ready
	@test -n "$(STACK)" && test -f apps/stacks/$(STACK).in || \
		{ echo "make lock: STACK= one of: $$(cd apps/stacks && ls *.in | sed 's/\.in$$//' | tr '\n' ' ')" >&2; exit 2; }
	@cp apps/stacks/$(STACK).txt apps/stacks/$(STACK).txt.new  # uv keeps these pins where the .in allows them
	$(VENV)/bin/uv pip compile --quiet --python-version 3.11 --python-platform linux --no-header --no-annotate \
		apps/stacks/$(STACK).in -o apps/stacks/$(STACK).txt.new || { rm -f apps/stacks/$(STACK).txt.new; exit 1; }
	{ sed -n '/^# Top-level pins/q;p' apps/stacks/$(STACK).in; \
	  echo "# Compiled from $(STACK).in by 'make lock STACK=$(STACK)'; every pin exact."; \
	  grep -v '^#' apps/stacks/$(STACK).txt.new; } > apps/stacks/$(STACK).txt && rm apps/stacks/$(STACK).txt.new
	@echo "lock: apps/stacks/$(STACK).txt; now: $(DBBENCH) env build $(STACK) && $(DBBENCH) verify --all"

environments: $(VENV)/.ready
	$(DBBENCH) env build

# ruff with bandit's rules (S, configured in pyproject.toml): needs nothing but the runner's
# environment, so it passes or fails on the code alone, on any machine.
lint: $(VENV)/.ready
	$(VENV)/bin/ruff check runner apps tests

# pip-audit over every lock file, apart from lint: it needs a vulnerability service. --strict: a
# package that could not be audited fails the audit instead of passing it unchecked, so this never
# says "no known vulnerabilities" where nothing was audited.
audit: $(AUDIT)/.ready
	@for lock in runner/requirements.lock runner/audit.lock runner/docs.lock apps/stacks/*.txt; do \
		echo "pip-audit $$lock"; \
		$(AUDIT)/bin/pip-audit --strict --no-deps --disable-pip --progress-spinner off -r $$lock || \
			{ echo "dbbench: $$lock: not clean, or not audited (is a vulnerability service reachable?)" >&2; exit 1; }; \
	done

$(AUDIT)/.ready: runner/audit.lock
	rm -rf $(AUDIT)
	$(PYTHON) -m venv $(AUDIT)
	$(AUDIT)/bin/pip install --quiet --disable-pip-version-check -r runner/audit.lock
	touch $@

setup: system $(VENV)/.ready

system:
	@bash runner/bootstrap.sh

browser:
	@bash runner/bootstrap.sh --browser --ssh

# toxiproxy (--db-latency, --fault, the lessons across a network, the tests): built once; a run
# that needs it and finds none builds it first.
proxy:
	@bash runner/bootstrap.sh --proxy

open-loop:
	@bash runner/bootstrap.sh --open-loop

# valgrind (dbbench cost, the tests): Debian's package.
cost-tools:
	@bash runner/bootstrap.sh --cost

# PgBouncer (--pooler pgbouncer, the tests): Debian's package. Where systemd runs, the package also
# starts its own service on port 6432; the runs never use it (each starts its own, on a free port).
pooler:
	@bash runner/bootstrap.sh --pooler

# pip installs only uv (pinned in the lock), and uv installs the rest: it downloads in parallel and
# compiles on every core, 15 s for this lock where pip took 57 s (one timing each, here).
$(VENV)/.ready: pyproject.toml runner/requirements.lock
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check $$(grep -x 'uv==[0-9.]*' runner/requirements.lock)
	$(VENV)/bin/uv pip install --quiet --python $(VENV)/bin/python --compile-bytecode -r runner/requirements.lock
	$(VENV)/bin/uv pip install --quiet --python $(VENV)/bin/python --compile-bytecode --no-deps -e .
	touch $@

clean:
	-$(DBBENCH) db down
	rm -rf .dbbench .venvs site
