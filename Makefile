# Flightdeck: `make run` starts the platform, `make test` runs every test.
# Both create .venv and install from constraints.txt on first use; `make test` also builds
# .venv-openclip (see test-openclip below).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PIP := $(BIN)/python -m pip --disable-pip-version-check -q
SRC := src tests bench examples hatch_build.py

.PHONY: run test test-main test-openclip check lint imports lint-deploy format typecheck bench \
	bench-gateway bench-media bench-cache bench-clip-gpu lock clean

$(STAMP): pyproject.toml constraints.txt hatch_build.py src/flightdeck/telemetry/_speedups.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first, pinned to the CPU build, so nothing pulls the CUDA wheels.
	$(PIP) install -c constraints.txt torch==2.13.0
	$(PIP) install -c constraints.txt -e '.[local,dev,media]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/flightdeck up

test: test-main test-openclip

test-main: $(STAMP) tools-chromium tools-ocr tools-nginx tools-kubectl
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The open_clip path of `media ingest --model WEIGHTS --model-arch ...` needs torchvision, which
# has no build for the CPU torch in .venv, so its tests run in a second env: constraints.txt
# without its torch line, plus the pins in constraints-openclip.txt (torch 2.14.1 from PyPI,
# torchvision, open_clip_torch). In .venv those tests skip.
OPENCLIP_VENV := .venv-openclip
OPENCLIP_BIN := $(OPENCLIP_VENV)/bin
OPENCLIP_STAMP := $(OPENCLIP_VENV)/.installed-stamp

$(OPENCLIP_STAMP): pyproject.toml constraints.txt constraints-openclip.txt
	test -x $(OPENCLIP_BIN)/python || $(PYTHON) -m venv $(OPENCLIP_VENV)
	grep -v '^torch==' constraints.txt | cat - constraints-openclip.txt \
	  > $(OPENCLIP_VENV)/constraints.txt
	$(OPENCLIP_BIN)/python -m pip --disable-pip-version-check -q install \
	  -c $(OPENCLIP_VENV)/constraints.txt torch torchvision open_clip_torch -e '.[local,dev,media]'
	touch $(OPENCLIP_STAMP)

test-openclip: $(OPENCLIP_STAMP)
	$(OPENCLIP_BIN)/python -m pytest tests/media/test_open_clip.py

lint: $(STAMP) imports
	$(BIN)/ruff format --check $(SRC)
	$(BIN)/ruff check $(SRC)

# The layers (pyproject's [tool.importlinter] contracts, the map in docs/architecture.md).
imports: $(STAMP)
	PYTHONPATH=src $(BIN)/lint-imports --no-cache

format: $(STAMP)
	$(BIN)/ruff format $(SRC)
	$(BIN)/ruff check --fix $(SRC)

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint lint-deploy typecheck test

# Deployment files: the Dockerfile (hadolint), and each Kustomize overlay rendered by kubectl
# and validated against the Kubernetes 1.25 and 1.37 schemas (strict). The ServiceMonitor (a
# CRD), the compose file and nginx.conf are checked by tests/deploy in `make test`.
K8S_OVERLAYS := dev prod
lint-deploy: $(STAMP) tools-kubectl
	$(BIN)/hadolint Dockerfile
	mkdir -p build/k8s
	for overlay in $(K8S_OVERLAYS); do \
	  kubectl kustomize deploy/k8s/overlays/$$overlay > build/k8s/$$overlay.yaml 2>build/k8s/$$overlay.err \
	    || { cat build/k8s/$$overlay.err; exit 1; }; \
	  for version in 1.25.0 1.37.0; do \
	    $(BIN)/python -m kubernetes_validate --strict --quiet -k $$version build/k8s/$$overlay.yaml \
	      || exit 1; \
	  done; \
	done

bench: bench-gateway bench-media bench-cache bench-assistant

bench-gateway: $(STAMP)
	$(BIN)/python -m bench.gateway.run $(BENCH_ARGS)
	$(BIN)/python -m bench.gateway.side_by_side

lock: $(STAMP)
	$(PIP) freeze --exclude-editable | sed 's/+cpu$$//' \
	  | (echo "# Pinned versions for every install path (make, CI, bench). Regenerate: make lock"; cat) > constraints.txt

clean:
	rm -rf $(VENV) $(OPENCLIP_VENV) .pytest_cache .mypy_cache .ruff_cache

bench-media: $(STAMP)
	$(BIN)/python -m bench.media.run $(BENCH_ARGS)

# Response cache: hits beside misses through the server, semantic lookup at 100,000 prompts,
# and the false-hit table when the paraphrase data (STS-B, MRPC; never committed) is in
# PARAPHRASE.
PARAPHRASE ?= /work/shared/data/paraphrase
bench-cache: $(STAMP)
	$(BIN)/python -m bench.cache.gateway $(BENCH_ARGS)
	$(BIN)/python -m bench.cache.run lookup --entries 100000
	@if [ -f "$(PARAPHRASE)/stsb-sts-train.csv" ]; then \
	  $(BIN)/python -m bench.cache.run quality \
	    --tune $(PARAPHRASE)/stsb-sts-train.csv $(PARAPHRASE)/stsb-sts-dev.csv \
	    --eval $(PARAPHRASE)/stsb-sts-test.csv $(PARAPHRASE)/msr_paraphrase_test.txt; \
	else echo "bench-cache: no paraphrase data in $(PARAPHRASE): false-hit table skipped"; fi

# CLIP features on a CUDA GPU against the CPU (open_clip, so .venv-openclip); not part of `bench`.
bench-clip-gpu: $(OPENCLIP_STAMP)
	$(OPENCLIP_BIN)/python -m bench.media.clip_gpu $(BENCH_ARGS)

# Real Chromium for the e2e tests, from Debian (as root on a fresh machine; sudo otherwise).
.PHONY: tools-chromium tools-nginx tools-kubectl bench-assistant
tools-chromium:
	@test -x /usr/bin/chromium || { \
	  SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
	  $$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium chromium-driver; }

# Real nginx for the e2e tests of deploy/nginx.conf, from Debian (as root; sudo otherwise).
tools-nginx:
	@test -x /usr/sbin/nginx || { \
	  SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
	  $$SUDO apt-get update -q && $$SUDO apt-get install -y -q nginx; }

# kubectl renders deploy/k8s with its built-in kustomize; Debian's kubernetes-client (kubectl
# 1.20, kustomize v2.0.3) is enough, and any newer kubectl already installed is used instead.
tools-kubectl:
	@command -v kubectl > /dev/null || { \
	  SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
	  $$SUDO apt-get update -q && $$SUDO apt-get install -y -q kubernetes-client; }

# Tesseract for the assistant's OCR of scanned PDF pages (optional at run time; the OCR test
# skips without it).
.PHONY: tools-ocr bench-answers
tools-ocr:
	@test -x /usr/bin/tesseract || { \
	  SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
	  $$SUDO apt-get update -q && $$SUDO apt-get install -y -q tesseract-ocr; }

bench-assistant: $(STAMP)
	$(BIN)/python -m bench.assistant.run $(BENCH_ARGS)

bench-answers: $(STAMP)
	$(BIN)/python -m bench.assistant.answers $(BENCH_ARGS)

# Main-text extraction on trafilatura's public evaluation set, beside trafilatura, readability
# and jusText (data: bench/assistant/extraction_data.sh; EXTRACTION_DATA to point elsewhere).
EXTRACTION_DATA ?= /work/shared/data/extraction/trafilatura-eval
.PHONY: bench-extraction
bench-extraction: $(STAMP)
	$(BIN)/pip install -q readability-lxml==0.9  # a peer in the table, not a dependency
	$(BIN)/python -m bench.assistant.extraction --data $(EXTRACTION_DATA) $(BENCH_ARGS)
