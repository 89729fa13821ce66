# Every target sets up what it needs: a fresh clone runs `make demo` or `make test` directly.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_PORT ?= 8765
DEMO_TOKEN := demo-token-not-secret
DEMO_FILE ?= sample_files/stock-export.xlsx

.PHONY: install demo test bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

# Start the sandbox on loopback, sync the sample workbook against it, stop the sandbox.
# The demo keeps its journal in .demo-state, new on every run, so it never
# touches a real job's history or lock and can be run again. The sample file
# is as old as the checkout, so the stale-file guard is overridden.
# The answer options make the sandbox answer three sample SKUs the way e-CROSS
# sometimes does, so the report shows each kind of warning.
demo: $(STAMP)
	@ECROSS_SANDBOX_TOKEN=$(DEMO_TOKEN) $(BIN)/batch-sync sandbox --host 127.0.0.1 --port $(DEMO_PORT) \
		--catalog sample_files/catalog.csv --stored-quantity 0614=3 --omit-integration-date 007 \
		--returned-orders 000123=2 2>demo-sandbox.log & echo $$! > .demo-sandbox.pid; \
	trap 'kill $$(cat .demo-sandbox.pid) 2>/dev/null; rm -f .demo-sandbox.pid' EXIT; \
	for i in $$(seq 50); do \
		$(BIN)/python -c "import httpx,sys; httpx.get('http://127.0.0.1:$(DEMO_PORT)/_sandbox/health')" 2>/dev/null && break; \
		sleep 0.2; \
	done; \
	rm -rf .demo-state; \
	ECROSS_TOKEN=$(DEMO_TOKEN) BATCH_SYNC_STATE_DIR=.demo-state $(BIN)/batch-sync sync $(DEMO_FILE) \
		--base-url http://127.0.0.1:$(DEMO_PORT) --report-dir reports --verify --allow-old-file 2>demo-sync.log; \
	status=$$?; \
	echo "sync exit status: $$status (1 means some rows are invalid or failed, as the sample file intends)"; \
	echo "logs: demo-sync.log, demo-sandbox.log"; \
	test $$status -le 1

test: $(STAMP)
	$(BIN)/python -m pytest -q

# Measure the upload against its bounds and references; the results table goes
# to stdout, and docs/benchmarks.md records a run. Generated files go to bench-data/.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) reports demo-*.log .demo-state .pytest_cache
