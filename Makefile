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
# make run's local AWS unless LOCAL_ARGS says otherwise: AWS's timings (tails, agent hibernation, zones, eventual
# consistency), Step Functions' waits included, fast-forwarded 50 times (infra/local/README.md).
RUN_LOCAL_ARGS := $(or $(LOCAL_ARGS),--profile realistic --time-scale 0.02)
INPUT ?= tests/events/tutorial.json
# Nothing started from here may ask instance metadata (169.254.169.254) for a region or credentials.
export AWS_EC2_METADATA_DISABLED := true

# Deploying to AWS (make build / deploy / start / logs / destroy): your credentials, your region.
SAM_VENV ?= .venv-sam
ARCH ?= arm64
STACK ?= peerlab
FUNCTIONS := $(filter-out lab-core,$(notdir $(wildcard functions/*)))
# SAM CLI: no telemetry, no version check against PyPI (its config lives in the SAM virtualenv).
SAM := env SAM_CLI_TELEMETRY=0 __SAM_CLI_APP_DIR=$(CURDIR)/$(SAM_VENV)/config $(SAM_VENV)/bin/sam
# Linting is offline: where the sandbox allows it, run the linters in a network namespace of their own.
OFFLINE := $(shell unshare -rn true 2>/dev/null && echo unshare -rn)
# The real AWS targets may use instance metadata for credentials (Cloud9, an EC2 box): undo the export above.
ON_AWS := env -u AWS_EC2_METADATA_DISABLED
AWS := $(ON_AWS) $(VENV)/bin/aws
STACK_OUTPUT = $(AWS) cloudformation describe-stacks --stack-name $(STACK) --output text \
	--query "Stacks[0].Outputs[?OutputKey=='$(1)'].OutputValue"

.PHONY: help venv venv-sam build-functions run workshop test test-rust lint-rust lint-python lint-asl lint-template test-template \
	test-local-aws test-e2e local-aws resources watch clean-venv build deploy schedule schedule-at start logs destroy bench

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

venv: $(VENV)/.installed ## create the project virtualenv (moto, awscli, cargo-lambda, linters), pinned

$(VENV)/.installed: infra/local/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/local/requirements.txt
	touch $@

venv-sam: $(SAM_VENV)/.installed ## the AWS SAM CLI's own virtualenv (pinned; its pins clash with awscli's)

$(SAM_VENV)/.installed: infra/requirements-sam.txt
	python3 -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/requirements-sam.txt
	mkdir -p $(SAM_VENV)/config
	echo '{"telemetryEnabled": false, "lastVersionCheck": 4102444800.0}' > $(SAM_VENV)/config/metadata.json
	touch $@

build-functions: ## build every step Lambda (debug) for the local AWS, and the peerlab CLI
	cargo build --workspace --bins

run: venv build-functions ## a whole lab on the local AWS (realistic x 0.02) with the peerlab CLI (INPUT=tests/events/x.json, LOCAL_ARGS="--profile instant")
	PEERLAB_PYTHON=$(CURDIR)/$(PY) $(TARGET_DIR)/debug/peerlab run --local --input $(INPUT) --lambda-dir $(TARGET_DIR)/debug \
		--report run-report.json --timeline run-timeline.svg --local-args "$(RUN_LOCAL_ARGS)"

LABS ?= 2
# make workshop: an account whose running On-Demand standard vCPU quota holds the labs (4 vCPUs a t3.micro lab; AWS's
# default for a new account is 5, one lab: README, "Workshops")
workshop: venv build-functions ## a workshop of LABS labs (default 2) on a private local AWS (realistic x 0.02), live, with its summary
	PEERLAB_PYTHON=$(CURDIR)/$(PY) $(TARGET_DIR)/debug/peerlab workshop --labs $(LABS) --local --input $(INPUT) \
		--lambda-dir $(TARGET_DIR)/debug --report workshop-report.json --timeline workshop-timeline.svg \
		--local-args "$(RUN_LOCAL_ARGS) --quota ec2/L-1216C47A=$$(( 4 * $(LABS) ))"

test: venv test-rust lint-rust lint-python lint-asl lint-template test-template test-local-aws test-e2e ## everything: unit, lint, the local AWS's tests, end to end

test-rust: ## Rust unit, SDK-mock, handler and CLI tests (those needing the local AWS run in test-e2e)
	cargo test --workspace --exclude e2e -- --skip on_the_local_aws

lint-rust: ## rustfmt (check only) and clippy with warnings as errors
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

lint-python: venv ## ruff and mypy on infra/ and bench/ (pyproject.toml), offline
	$(OFFLINE) $(VENV)/bin/ruff check --no-cache
	$(OFFLINE) $(VENV)/bin/mypy --cache-dir /dev/null

lint-asl: venv ## statelint on the state machines (integer BackoffRate allowed)
	$(VENV)/bin/statelint --ignore=FLOAT statemachine/*.asl.json

lint-template: venv venv-sam ## cfn-lint (both templates), sam validate --lint and SAM's translation of infra/template.yaml (offline)
	$(OFFLINE) $(VENV)/bin/cfn-lint infra/template.yaml infra/peer-account.yaml
	AWS_ACCESS_KEY_ID=lint AWS_SECRET_ACCESS_KEY=lint $(OFFLINE) $(SAM) validate --lint --region us-east-1 --template-file infra/template.yaml
	AWS_ACCESS_KEY_ID=lint AWS_SECRET_ACCESS_KEY=lint $(OFFLINE) $(SAM) validate --region us-east-1 --template-file infra/template.yaml

test-template: venv ## the template against the code (substitutions, crates, IAM vs calls); the bench's arithmetic
	$(PY) -m pytest infra/tests bench/tests -q

test-local-aws: venv build-functions ## the local AWS's pytest suite (starts its own servers on free ports)
	PEERLAB_LAMBDA_DIR=$(TARGET_DIR)/debug PEERLAB_PYTHON=$(abspath $(PY)) $(PY) -m pytest infra/local/tests -q -n 3

test-e2e: venv build-functions ## the real state machine, functions and CLI on local AWSs started per test
	@# --workspace (not -p): the same features as test-rust's build, so aws-sdk-ec2 is not compiled once more
	PEERLAB_LAMBDA_DIR=$(TARGET_DIR)/debug cargo test --workspace --test lab
	PEERLAB_LAMBDA_DIR=$(TARGET_DIR)/debug PEERLAB_PYTHON=$(CURDIR)/$(PY) cargo test --workspace --test cli on_the_local_aws

local-aws: venv ## run the local AWS in the foreground on 127.0.0.1:PORT (default 4566; PROFILE=instant|realistic)
	PEERLAB_LAMBDA_DIR=$(TARGET_DIR)/debug infra/local/start --port $(PORT) --profile $(PROFILE) $(LOCAL_ARGS)

watch: venv ## serve every step under `cargo lambda watch` on 127.0.0.1:9000 (invoke: cargo lambda invoke NAME -F FILE -A 127.0.0.1)
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH AWS_REGION=us-east-1 cargo lambda watch -A 127.0.0.1 -P 9000

resources: ## list every live resource of a running local AWS on PORT, with tags
	@curl -s http://127.0.0.1:$(PORT)/peerlab/resources

clean-venv: ## remove the virtualenvs
	rm -rf $(VENV) $(SAM_VENV)

bench: venv build-functions ## benchmarks (not part of test): per step vs boto3, sizes, end to end, 1/10/50 labs -> bench/report.md
	@# build-functions: the debug peerlab CLI runs the end-to-end lab (bench/run.py --cli)
	$(MAKE) build ARCH=$(if $(filter aarch64 arm64,$(shell uname -m)),arm64,x86_64)
	$(PY) bench/run.py $(BENCH_ARGS)

# ---- deploying to AWS -----------------------------------------------------------------------------------------

build: venv ## release Lambda zips in build/lambda/<function>/ (ARCH=arm64, the default, or x86_64)
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH cargo lambda build --release --output-format zip --lambda-dir build/lambda \
		$(if $(filter x86_64,$(ARCH)),--x86-64 --compiler cargo,--arm64) $(addprefix -p ,$(FUNCTIONS))
	@ls -l build/lambda/*/bootstrap.zip

# With ENDPOINT=URL, deploy onto the local AWS at URL instead (python -m peerlab_local.tools.stack: sam deploy's steps,
# non-interactive). Without it, sam deploy onto AWS. Both: PARAMETERS="Key=Value ..." sets template parameters
# (e.g. PeerAccountIds=111122223333 for labs whose side B is in that account); sam keeps the others' previous values.
ENDPOINT ?=
PARAMETERS ?=
deploy: $(if $(ENDPOINT),venv build-functions,venv-sam) ## sam deploy the stack STACK (guided the first time; saves samconfig.toml); run make build first. ENDPOINT=URL: onto a running local AWS
ifneq ($(ENDPOINT),)
	PYTHONPATH=$(CURDIR)/infra/local $(PY) -m peerlab_local.tools.stack deploy --endpoint $(ENDPOINT) --stack $(STACK) \
		--lambda-dir $(TARGET_DIR)/debug $(addprefix --parameter ,$(PARAMETERS))
else
	@for f in $(FUNCTIONS); do test -f build/lambda/$$f/bootstrap.zip || { echo "build/lambda/$$f/bootstrap.zip is missing: run make build" >&2; exit 1; }; done
	if [ -f samconfig.toml ]; then \
		$(ON_AWS) $(SAM) deploy --config-file $(CURDIR)/samconfig.toml --template-file infra/template.yaml --parameter-overrides Architecture=$(ARCH) $(PARAMETERS); \
	else \
		$(ON_AWS) $(SAM) deploy --guided --config-file $(CURDIR)/samconfig.toml --template-file infra/template.yaml --stack-name $(STACK) \
			--capabilities CAPABILITY_IAM --resolve-s3 --parameter-overrides Architecture=$(ARCH) $(PARAMETERS); \
	fi
endif

AT ?=
schedule-at:
	@test -n "$(AT)" || { echo "make schedule: say when, e.g. AT=+15m or AT=2026-12-01T09:00:00Z" >&2; exit 2; }

schedule: schedule-at venv build-functions ## a lab EventBridge Scheduler starts at AT (+15m, or 2026-12-01T09:00:00Z) on the stack; ENDPOINT=URL: on a running local AWS
ifneq ($(ENDPOINT),)
	PEERLAB_PYTHON=$(CURDIR)/$(PY) $(TARGET_DIR)/debug/peerlab --endpoint $(ENDPOINT) --stack $(STACK) schedule --at '$(AT)' --input $(INPUT)
else
	arn=$$($(call STACK_OUTPUT,StateMachineArn)); role=$$($(call STACK_OUTPUT,SchedulerRoleArn)); \
	$(ON_AWS) $(TARGET_DIR)/debug/peerlab schedule --state-machine-arn "$$arn" --role-arn "$$role" --at '$(AT)' --input $(INPUT)
endif

start: venv build-functions ## a lab on the deployed stack, followed live by the peerlab CLI (INPUT=tests/events/tutorial.json)
	arn=$$($(call STACK_OUTPUT,StateMachineArn)); \
	$(ON_AWS) $(TARGET_DIR)/debug/peerlab run --state-machine-arn "$$arn" --input $(INPUT) --timeline run-timeline.svg

logs: venv-sam ## follow every log group of the stack (functions and state machines)
	groups=$$($(AWS) cloudformation describe-stack-resources --stack-name $(STACK) --output text \
		--query "StackResources[?ResourceType=='AWS::Logs::LogGroup'].PhysicalResourceId"); \
	$(ON_AWS) $(SAM) logs --tail $$(printf -- '--cw-log-group %s ' $$groups)

destroy: venv-sam ## delete the stack, after checking no lab is still running (it would lose its teardown)
	arn=$$($(call STACK_OUTPUT,StateMachineArn)); \
	running=$$($(AWS) stepfunctions list-executions --state-machine-arn "$$arn" --status-filter RUNNING \
		--query 'executions[].name' --output text); \
	if [ -n "$$running" ]; then echo "labs still running: $$running — wait for them, or stop them and let the backstop tear them down, then retry" >&2; exit 1; fi
	$(ON_AWS) $(SAM) delete --stack-name $(STACK) --no-prompts
