"""The two state machine definitions as the tests read them, and the one transient retrier every Task carries.

The definitions stay hand-written JSON, checked here rather than generated: the files are what SAM deploys
(DefinitionUri), what statelint lints and what Workflow Studio opens, and a reviewer reads the workflow in them
without running anything. What a generator would guarantee — the shared retrier written once — a test guarantees
instead: every Task's copy must equal TRANSIENT_RETRIER exactly, Comment included, so a drifted copy fails."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAB = ROOT / "statemachine" / "peering-lab.asl.json"
BACKSTOP = ROOT / "statemachine" / "backstop.asl.json"
WORKSHOP = ROOT / "statemachine" / "workshop.asl.json"
MACHINES = (LAB, BACKSTOP, WORKSHOP)
# The Tasks that are not a Lambda invoke: the workshop's Map runs each lab as a child execution, to its end, and
# describes a lab of the same name when its name is taken (ExecutionAlreadyExists).
START_LAB = "arn:aws:states:::states:startExecution.sync:2"
DESCRIBE_LAB = "arn:aws:states:::aws-sdk:sfn:describeExecution"

# Lambda's own errors (Step Functions guide, "Handle Lambda service exceptions": Lambda.ServiceException,
# Lambda.AWSLambdaException, Lambda.SdkClientException; Lambda.TooManyRequestsException when Lambda is at its
# concurrency limit; Lambda.Unknown for an unhandled error such as running out of memory), a function past its
# timeout (Sandbox.Timedout), an invoke that never answered within the Task's TimeoutSeconds (States.Timeout) and
# LabError::Throttled, EC2/SSM throttling that outlasted the SDK's own retries. Doubling from 1 s, capped at 20 s:
# 1 + 2 + 4 + 8 + 16 + 20 = 51 s at most before the last attempt fails. EC2 refills an empty token bucket in
# about 5 s (EC2 API reference, "Request throttling": DescribeHosts, 100 tokens at 20 a second), and AWS suggests
# 6 attempts doubling from 2 s for Lambda's service exceptions. Full jitter: these are the waits where many
# callers retry together.
TRANSIENT_RETRIER = {
    "Comment": "Transient: Lambda's own errors, a function past its timeout (Sandbox.Timedout), an invoke that "
               "never answered (States.Timeout) and EC2/SSM throttling after the SDK's own retries (Throttled). "
               "Waits for Lambda to recover or a throttled API's token bucket to refill (about 5 s from empty: EC2 "
               "API reference, 'Request throttling'). Every step is idempotent, so up to 6 retries after 1, 2, 4, "
               "8, 16, 20 s (doubling; MaxDelaySeconds caps the last) = 51 s at most, each wait drawn at random "
               "below its interval (full jitter: throttled callers spread out).",
    "ErrorEquals": [
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
        "Lambda.Unknown",
        "Sandbox.Timedout",
        "States.Timeout",
        "Throttled",
    ],
    "IntervalSeconds": 1,
    "BackoffRate": 2,
    "MaxDelaySeconds": 20,
    "MaxAttempts": 6,
    "JitterStrategy": "FULL",
}


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def states(machine: dict):
    """(name, state) of every state, those inside Parallel branches and Map processors included."""
    for name, state in machine["States"].items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from states(branch)
        for processor in (state.get("ItemProcessor"), state.get("Iterator")):
            if processor:
                yield from states(processor)


def tasks(machine: dict):
    return ((name, state) for name, state in states(machine) if state["Type"] == "Task")


# The child lab's start: only what is raised before the child exists, and safe to repeat (StartExecution returns a
# running execution of the same name and input; a closed one is ExecutionAlreadyExists, caught). Same arithmetic as
# the shared retrier.
START_RETRIER = {
    "Comment": "Transient, before the child exists: too many open executions "
               "(StepFunctions.ExecutionLimitExceededException: 'Running executions must end or be stopped before a "
               "new execution can be started', StartExecution API reference) or StartExecution throttled "
               "(StepFunctions.ThrottlingException: its token bucket refills 300 a second in us-east-1, 150 "
               "elsewhere, 'Step Functions service quotas'). Waits for executions to end or the bucket to refill. "
               "Safe to retry: StartExecution with the same name and input returns the running child rather than "
               "start a second, and a closed one is ExecutionAlreadyExists, caught below (StartExecution API "
               "reference, name). Not retried: States.TaskFailed (the child ended without success; its name can only "
               "meet ExecutionAlreadyExists again) and States.Timeout (TimeoutSeconds is past the child's own: it "
               "has ended). Up to 6 retries after 1, 2, 4, 8, 16, 20 s (doubling; MaxDelaySeconds caps the last) = "
               "51 s at most, each wait drawn at random below its interval (full jitter: many iterations retry "
               "together).",
    "ErrorEquals": ["StepFunctions.ExecutionLimitExceededException", "StepFunctions.ThrottlingException"],
    "IntervalSeconds": 1,
    "BackoffRate": 2,
    "MaxDelaySeconds": 20,
    "MaxAttempts": 6,
    "JitterStrategy": "FULL",
}

# The lab's description after ExecutionAlreadyExists: a read, retried on throttling and on no answer.
FIND_RETRIER = {
    "Comment": "Transient: DescribeExecution throttled (Sfn.ThrottlingException: an AWS SDK integration's error is "
               "the service and the API's exception, 'Learning to use AWS service SDK integrations in Step "
               "Functions') or never answered (States.Timeout). Waits for its token bucket to refill ('Step "
               "Functions service quotas'). A read: up to 6 retries after 1, 2, 4, 8, 16, 20 s (doubling; "
               "MaxDelaySeconds caps the last) = 51 s at most, with full jitter.",
    "ErrorEquals": ["Sfn.ThrottlingException", "States.Timeout"],
    "IntervalSeconds": 1,
    "BackoffRate": 2,
    "MaxDelaySeconds": 20,
    "MaxAttempts": 6,
    "JitterStrategy": "FULL",
}

# Each Task's one transient retrier, by its Resource (the shared one for every Lambda invoke).
RETRIER_OF = {START_LAB: START_RETRIER, DESCRIBE_LAB: FIND_RETRIER}


def transient_retrier(state: dict) -> dict:
    return RETRIER_OF.get(state["Resource"], TRANSIENT_RETRIER)
