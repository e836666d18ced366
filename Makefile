# Profiteer: `make up` runs the whole local stack, `make test` runs every test.
PYTHON ?= python3.11
VENV := .venv
UV := $(VENV)/bin/uv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export DO_NOT_TRACK := 1
MINDSDB_VENV ?= $(or $(PROFITEER_MINDSDB_VENV),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/profiteer/mindsdb-25.14.1)
SOURCE_FILE_VENV ?= $(or $(PROFITEER_SOURCE_FILE_VENV),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/profiteer/source-file-0.5.39)

.PHONY: up down status test test-fast test-faults lint validate format bench venv mindsdb source-file lock clean

up: venv mindsdb source-file ## start the stack, run the main job, keep running (Ctrl-C stops everything)
	$(BIN)/profiteer up

down:
	$(BIN)/profiteer down

status:
	$(BIN)/profiteer status

test: venv mindsdb source-file validate ## the whole suite, fault tests included
	$(BIN)/python -m pytest -m "not faults"
	$(BIN)/python -m pytest -m faults

test-fast: venv source-file ## everything that needs neither MindsDB nor a browser
	$(BIN)/python -m pytest -m "not mindsdb and not browser and not faults"

lint: venv validate
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The code location loads and its definitions are valid (what `dg check defs` checks).
# Run outside the clone: a temporary instance would otherwise read the stack's ./dagster.yaml.
validate: venv
	@d=$$(mktemp -d); cd "$$d" && env -u DAGSTER_HOME $(CURDIR)/$(BIN)/dagster definitions validate \
		-w $(CURDIR)/workspace.yaml; rc=$$?; rm -rf "$$d"; exit $$rc

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: venv mindsdb source-file
	$(BIN)/python benchmarks/report.py

venv: $(VENV)/.synced

# The pipeline's environment, installed from the hashed lock file.
$(VENV)/.synced: requirements/pipeline.lock.txt pyproject.toml
	@test -x $(UV) || { $(PYTHON) -m venv $(VENV) && $(VENV)/bin/pip install -q uv==0.8.24; }
	@start=$$(date +%s); \
	$(UV) pip sync -q --python $(BIN)/python requirements/pipeline.lock.txt && \
	$(UV) pip install -q --python $(BIN)/python --no-deps -e . && \
	echo "pipeline environment ready in $$(( $$(date +%s) - start ))s ($$(du -sh $(VENV) | cut -f1))"
	@touch $@

# MindsDB lives in its own environment, outside the clone, shared by later runs and CI.
# The marker holds the lock's hash: an interrupted or outdated install is synced again.
mindsdb: venv
	@lock=$$(sha256sum requirements/mindsdb.lock.txt | cut -c1-64); \
	if [ "$$(cat $(MINDSDB_VENV)/.profiteer-installed 2>/dev/null)" = "$$lock" ]; then exit 0; fi; \
	echo "installing MindsDB 25.14.1 into $(MINDSDB_VENV) (once; several GB)"; start=$$(date +%s); \
	rm -f $(MINDSDB_VENV)/.profiteer-installed; \
	{ test -x $(MINDSDB_VENV)/bin/python || $(UV) venv -q --python $(PYTHON) $(MINDSDB_VENV); } && \
	$(UV) pip sync -q --python $(MINDSDB_VENV)/bin/python requirements/mindsdb.lock.txt && \
	echo "$$lock" > $(MINDSDB_VENV)/.profiteer-installed && \
	echo "MindsDB environment ready in $$(( $$(date +%s) - start ))s ($$(du -sh $(MINDSDB_VENV) | cut -f1))"

# Airbyte's File source (airbyte-source-file) pins airbyte-cdk 0.x, pydantic 1 and pyarrow 14, so it
# cannot share the pipeline's environment: its own, outside the clone, hash-marked like MindsDB's.
source-file: venv
	@lock=$$(sha256sum requirements/source-file.lock.txt | cut -c1-64); \
	if [ "$$(cat $(SOURCE_FILE_VENV)/.profiteer-installed 2>/dev/null)" = "$$lock" ]; then exit 0; fi; \
	echo "installing Airbyte's File source into $(SOURCE_FILE_VENV) (once)"; start=$$(date +%s); \
	rm -f $(SOURCE_FILE_VENV)/.profiteer-installed; \
	{ test -x $(SOURCE_FILE_VENV)/bin/python || $(UV) venv -q --python $(PYTHON) $(SOURCE_FILE_VENV); } && \
	$(UV) pip sync -q --python $(SOURCE_FILE_VENV)/bin/python requirements/source-file.lock.txt && \
	echo "$$lock" > $(SOURCE_FILE_VENV)/.profiteer-installed && \
	echo "File source environment ready in $$(( $$(date +%s) - start ))s ($$(du -sh $(SOURCE_FILE_VENV) | cut -f1))"

# Re-resolve the lock files (needs the registry).
lock: venv
	$(UV) pip compile -q --python-version 3.11 --python-platform x86_64-manylinux_2_28 pyproject.toml \
		--extra dev --generate-hashes --no-header -o requirements/pipeline.lock.txt
	$(UV) pip compile -q --python-version 3.11 --python-platform x86_64-manylinux_2_28 requirements/mindsdb.in \
		--no-header -o requirements/mindsdb.lock.txt
	$(UV) pip compile -q --python-version 3.11 --python-platform x86_64-manylinux_2_28 requirements/source-file.in \
		--generate-hashes --no-header -o requirements/source-file.lock.txt

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
