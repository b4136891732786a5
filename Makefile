# vsr - the README's commands (`make run`, `make test`) and their parts.
# Works on a fresh Debian bookworm machine: installs apt packages, a venv and builds the simulator.

PYTHON   ?= python3
VENV     := .venv
BIN      := $(VENV)/bin
BUILD    := build
SIM_BIN  := $(BUILD)/vsr-sim
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
GOVMOMI  := /usr/share/gocode/src/github.com/vmware/govmomi
SIM_SRC  := $(shell find sim -name '*.go' 2>/dev/null)
PYTEST_ARGS ?=
PYTEST_JOBS ?= 2

.PHONY: all deps venv sim simtest test unit integration typecheck run clean schema bench bench-large mutation

all: venv sim

## deps: Debian packages (Go toolchain and govmomi's simulator library, python venv support; chromium when the
## registry has it, for the headless HTML report tests)
deps: $(BUILD)/.deps
$(BUILD)/.deps:
	@mkdir -p $(BUILD)
	@if ! command -v go >/dev/null || [ ! -d $(GOVMOMI)/simulator ] || ! $(PYTHON) -c 'import ensurepip' 2>/dev/null; then \
	  echo ">> installing Debian packages"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq golang-go golang-github-vmware-govmomi-dev python3-venv openssl >/dev/null; \
	fi
	@# chromium renders the HTML report in tests/unit/report/test_html.py; optional: only where the registry has it
	@if [ ! -x /usr/bin/chromium ] && apt-cache policy chromium 2>/dev/null | grep -q 'Candidate: [^(]'; then \
	  echo ">> installing chromium (headless HTML report tests)"; \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null || echo ">> chromium not installed: its tests are skipped"; \
	fi
	@touch $@

## venv: the project and its test extra in .venv
venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml | $(BUILD)/.deps
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

## sim: the project's vCenter simulator (Go, GOPATH mode on Debian's govmomi)
sim: $(SIM_BIN)
$(SIM_BIN): $(SIM_SRC) sim/build.sh | $(BUILD)/.deps
	sim/build.sh $(SIM_BIN)

## simtest: go vet and the simulator's Go tests (part of `make test`)
simtest: | $(BUILD)/.deps
	sim/build.sh --test

## test: everything CI runs: the type checker first, then the tests
## (test files are spread over PYTEST_JOBS workers, whole files per worker so module-scoped simulators are shared;
## PYTEST_JOBS=0 runs them in one process)
test: venv sim simtest typecheck
	VSR_SIM_BIN=$(CURDIR)/$(SIM_BIN) $(BIN)/pytest -n $(PYTEST_JOBS) --dist loadfile $(PYTEST_ARGS)

## typecheck: mypy strict on engine, controllers, vsphere, daemon ([tool.mypy] in pyproject.toml; mypy comes with
## the test extra)
typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

integration: venv sim
	VSR_SIM_BIN=$(CURDIR)/$(SIM_BIN) $(BIN)/pytest -m integration $(PYTEST_ARGS)

## run: the daemon on the bundled simulator with the quickstart spec
run: venv sim
	VSR_SIM_BIN=$(CURDIR)/$(SIM_BIN) $(BIN)/python scripts/quickstart.py

schema: venv
	$(BIN)/vsr schema --write specs/schema

## bench: every bench/ script at a size that fits 10 minutes on 2 cores (figures printed, never asserted; see
## docs/operations.md "Measured figures"); bench-large: the large sizes (16,000 VMs, the vCenter maximum)
BENCH_ENV := VSR_SIM_BIN=$(CURDIR)/$(SIM_BIN) PYTHONPATH=$(CURDIR)
bench: venv sim
	$(BENCH_ENV) $(BIN)/python bench/startup.py --runs 5
	$(BENCH_ENV) $(BIN)/python bench/sim_start.py --cluster 4 --host 16 --vm-per-host 30
	$(BENCH_ENV) $(BIN)/python bench/plan.py
	$(BENCH_ENV) $(BIN)/python bench/apply.py --with-vms --delay 5
	$(BENCH_ENV) $(BIN)/python bench/drift_latency.py --trials 20
	$(BENCH_ENV) $(BIN)/python bench/esxcli_reads.py --sizes 64,1000

bench-large: venv sim
	$(BENCH_ENV) $(BIN)/python bench/plan.py --vms 250 --repeat 1
	$(BENCH_ENV) $(BIN)/python bench/sim_start.py --cluster 50 --host 50 --vm-per-host 16
	$(BENCH_ENV) $(BIN)/python bench/apply.py --clusters 16 --hosts 16 --delay 5
	$(BENCH_ENV) $(BIN)/python bench/daemon_scale.py --sizes 64,1000,2500

## mutation: mutation score of the safety-critical modules (mutmut, one module at a time; not part of `test`)
MUTATION_ARGS ?=
mutation: venv sim
	@$(BIN)/python -c 'import mutmut' 2>/dev/null || $(BIN)/pip install -q -e '.[mutation]'
	VSR_SIM_BIN=$(CURDIR)/$(SIM_BIN) $(BIN)/python scripts/mutation.py $(MUTATION_ARGS)

clean:
	rm -rf $(BUILD) $(VENV) .pytest_cache
