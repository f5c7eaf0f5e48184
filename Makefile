# dialcrm — the README's commands. `demo`, `test` and `bench` run `setup` first.
VENV   ?= .venv
PYTHON ?= python3
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.setup-done

.PHONY: setup demo test test-unit test-integration test-browser bench lint \
        asterisk-up asterisk-down asterisk-status clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup.sh
	PYTHON=$(PYTHON) VENV=$(VENV) sh scripts/setup.sh
	touch $(STAMP)

# The demo runs on the sandbox's public secrets: allowed here, and said loudly at start.
demo: setup asterisk-up
	DIALCRM_ALLOW_SANDBOX_SECRETS=1 $(PY) -m web.main demo

test: setup
	$(PY) -m pytest

test-unit: setup
	$(PY) -m pytest tests/unit

test-integration: setup
	$(PY) -m pytest -m integration

test-browser: setup
	$(PY) -m pytest -m browser

bench: setup
	$(PY) bench/run_all.py --quick

lint: setup
	$(VENV)/bin/ruff check ari_app crm predictive web tests bench
	$(VENV)/bin/mypy ari_app crm predictive web

asterisk-up: setup
	$(PY) -m ari_app.sandbox up

asterisk-down:
	$(PYTHON) -m ari_app.sandbox down

asterisk-status:
	$(PYTHON) -m ari_app.sandbox status

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
