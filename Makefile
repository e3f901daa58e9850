# Two commands: `make demo` (the main job) and `make test` (ruff lint + format check, then the
# whole suite). Both create .venv when it is absent and install the pinned requirements plus the
# package in editable mode; the install is skipped while requirements.txt and setup.py are
# unchanged.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install reproduce benchmark clean

install: $(STAMP)

$(STAMP): requirements.txt setup.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q tests

demo: $(STAMP)
	$(BIN)/python tools/demo.py

reproduce: $(STAMP)
	$(BIN)/python tools/reproduce.py

clean:
	rm -rf output/demo
