# peerlab: build, test and run the two-VPC peering lab. `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
# Builds go to CARGO_TARGET_DIR when set (CI points it at a cache outside the clone), else ./target.
TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)
PORT ?= 4566
PROFILE ?= instant
LOCAL_ARGS ?=
INPUT ?= tests/events/tutorial.json
# Nothing started from here may ask instance metadata (169.254.169.254) for a region or credentials.
export AWS_EC2_METADATA_DISABLED := true

.PHONY: help venv build-functions run test test-rust lint-rust lint-asl test-local-aws test-e2e local-aws resources watch clean-venv

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

venv: $(VENV)/.installed ## create the project virtualenv (moto, awscli, cargo-lambda, linters), pinned

$(VENV)/.installed: infra/local/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/local/requirements.txt
	touch $@

build-functions: ## build every step Lambda (debug) for the local AWS
	cargo build --workspace --bins

run: venv build-functions ## a whole lab on the local AWS (INPUT=tests/events/x.json, LOCAL_ARGS="--profile realistic --time-scale 0.05")
	PYTHONPATH=infra/local $(PY) -m peerlab_local.run --input $(INPUT) --lambda-dir $(TARGET_DIR)/debug \
		--report run-report.json --local-args "$(LOCAL_ARGS)"

test: venv test-rust lint-rust lint-asl test-local-aws test-e2e ## everything: unit, lint, the local AWS's tests, end to end

test-rust: ## Rust unit, SDK-mock and handler tests
	cargo test --workspace --exclude e2e

lint-rust: ## clippy with warnings as errors
	cargo clippy --workspace --all-targets -- -D warnings

lint-asl: venv ## statelint on the state machine (integer BackoffRate allowed)
	$(VENV)/bin/statelint --ignore=FLOAT statemachine/peering-lab.asl.json

test-local-aws: venv build-functions ## the local AWS's pytest suite (starts its own servers on free ports)
	PEERLAB_LAMBDA_DIR=$(TARGET_DIR)/debug $(PY) -m pytest infra/local/tests -q

test-e2e: venv build-functions ## the real state machine and functions on local AWSs started per test (tests/lab.rs)
	PEERLAB_LAMBDA_DIR=$(TARGET_DIR)/debug cargo test -p e2e

local-aws: venv ## run the local AWS in the foreground on 127.0.0.1:PORT (default 4566; PROFILE=instant|realistic)
	PEERLAB_LAMBDA_DIR=$(TARGET_DIR)/debug infra/local/start --port $(PORT) --profile $(PROFILE) $(LOCAL_ARGS)

watch: venv ## serve every step under `cargo lambda watch` on 127.0.0.1:9000 (invoke: cargo lambda invoke NAME -F FILE -A 127.0.0.1)
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH AWS_REGION=us-east-1 cargo lambda watch -A 127.0.0.1 -P 9000

resources: ## list every live resource of a running local AWS on PORT, with tags
	@curl -s http://127.0.0.1:$(PORT)/peerlab/resources

clean-venv: ## remove the virtualenv
	rm -rf $(VENV)
