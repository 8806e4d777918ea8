# The two commands of the README: `make run` (the shop, sandbox by default) and `make test`.
# requirements.txt is what production runs; `make run` adds requirements-local.txt, `make test` and
# `make lint` requirements-dev.txt (which includes both).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
LOCAL_STAMP := $(VENV)/.installed-local
DEV_STAMP := $(VENV)/.installed-dev

# The compiled translations: built from the committed .po files (bin/compile_messages.py, with polib from
# requirements.txt), never committed.
MO_FILES := $(patsubst %.po,%.mo,$(wildcard locale/*/LC_MESSAGES/django.po))

.PHONY: run test test-fast lint audit setup clean messages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(LOCAL_STAMP): requirements.txt requirements-local.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-local.txt
	touch $@

# The dev requirements include the local ones: installing them satisfies both.
$(DEV_STAMP): requirements.txt requirements-local.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(LOCAL_STAMP)

# polib comes with either stamp (requirements.txt); the dev stamp also touches the local one.
locale/%/LC_MESSAGES/django.mo: locale/%/LC_MESSAGES/django.po | $(LOCAL_STAMP)
	$(BIN)/python bin/compile_messages.py $<

messages: $(MO_FILES)

setup: $(DEV_STAMP) messages

run: $(LOCAL_STAMP) messages
	$(BIN)/python bin/run.py

# The tests in parallel (pytest-xdist): each worker has its own test database, Celery queues, cache prefix and
# ports (tests/conftest.py). The tests wait on the network, the worker and Chromium more than on the CPU, so
# more workers than cores pays (README, Development). worksteal: an idle worker takes tests queued on a busy
# one, so one slow file does not end the run alone. TEST_WORKERS=0 runs them in this process, one by one.
TEST_WORKERS ?= 3
XDIST = -n $(TEST_WORKERS) --dist worksteal

test: $(DEV_STAMP) messages
	$(BIN)/python bin/with_redis.py $(BIN)/pytest $(XDIST) $(PYTEST_ARGS)

# The edit-test loop: the unit tier only, no live server, worker, local server, other process or browser
# (tests/tiers.py).
test-fast: $(DEV_STAMP) messages
	$(BIN)/python bin/with_redis.py $(BIN)/pytest $(XDIST) -m "unit" $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Known advisories for the pinned packages and what they pull in (bin/audit.py); needs the network, and
# only warns when the advisory service cannot be reached. Not part of `make test`.
AUDIT_REQUIREMENTS ?= requirements.txt
audit: $(DEV_STAMP)
	$(BIN)/python bin/audit.py $(AUDIT_REQUIREMENTS)

clean:
	rm -rf $(VENV) var staticfiles $(MO_FILES)
