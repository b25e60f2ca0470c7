# Flightdeck: `make run` starts the platform, `make test` runs every test.
# Both create .venv and install from constraints.txt on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PIP := $(BIN)/python -m pip --disable-pip-version-check -q
SRC := src tests bench

.PHONY: run test check lint format typecheck bench bench-gateway bench-media lock clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first, pinned to the CPU build, so nothing pulls the CUDA wheels.
	$(PIP) install -c constraints.txt torch==2.13.0
	$(PIP) install -c constraints.txt -e '.[local,dev,media]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/flightdeck up

test: $(STAMP) tools-chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff format --check $(SRC)
	$(BIN)/ruff check $(SRC)

format: $(STAMP)
	$(BIN)/ruff format $(SRC)
	$(BIN)/ruff check --fix $(SRC)

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

bench: bench-gateway bench-media

bench-gateway: $(STAMP)
	$(BIN)/python -m bench.gateway.run $(BENCH_ARGS)

lock: $(STAMP)
	$(PIP) freeze --exclude-editable | sed 's/+cpu$$//' \
	  | (echo "# Pinned versions for every install path (make, CI, bench). Regenerate: make lock"; cat) > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

bench-media: $(STAMP)
	$(BIN)/python -m bench.media.run $(BENCH_ARGS)

# Real Chromium for the e2e tests, from Debian (as root on a fresh machine; sudo otherwise).
.PHONY: tools-chromium bench-assistant
tools-chromium:
	@test -x /usr/bin/chromium || { \
	  SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
	  $$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium chromium-driver; }

bench-assistant: $(STAMP)
	$(BIN)/python -m bench.assistant.run $(BENCH_ARGS)
