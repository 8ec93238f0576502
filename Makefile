# conveyor: `make demo` runs the end-to-end demo, `make test` the whole test suite.
# Both create .venv on first use and install what they need into it.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python

.PHONY: demo test lint typecheck format bench docs install install-dev clean browser containers wrk

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(PY) pyproject.toml
	$(PY) -m pip install --quiet -e '.[demo]'
	touch $@

$(VENV)/.installed-dev: $(PY) pyproject.toml
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: $(VENV)/.installed
	$(BIN)/conveyor demo

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports --no-cache

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

format: $(VENV)/.installed-dev
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

# The browser tests drive Debian's headless Chromium (never a downloaded browser).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo -n ); \
		$$SUDO apt-get update -q && $$SUDO apt-get install -y -q --no-install-recommends chromium chromium-driver; \
	} || echo "chromium could not be installed: the browser tests will fail"

# The image tests build with buildah on a base made by debootstrap (no registry is reached).
containers:
	@{ command -v buildah >/dev/null 2>&1 && command -v debootstrap >/dev/null 2>&1; } || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo -n ); \
		$$SUDO apt-get update -q && $$SUDO apt-get install -y -q --no-install-recommends buildah debootstrap; \
	} || echo "buildah/debootstrap could not be installed: the image tests will fail"

# The serving benchmarks measure every server with wrk too (Debian's package).
wrk:
	@command -v wrk >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo -n ); \
		$$SUDO apt-get update -q && $$SUDO apt-get install -y -q --no-install-recommends wrk; \
	} || echo "wrk could not be installed: the benchmarks' wrk columns will be empty"

test: lint typecheck browser containers
	$(BIN)/pytest -n 2 --dist loadgroup --durations=25

bench: $(VENV)/.installed-dev wrk
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .import_linter_cache

docs: $(VENV)/.installed-dev
	$(PY) -m typer conveyor.cli._app utils docs --name conveyor --title "CLI reference" --output docs/cli.md
