"""The ASL's error names and the Rust error vocabulary checked against each other (issue 14, item 2): every name in
an `ErrorEquals` of either state machine is one Step Functions or Lambda defines, or a `LabError::error_type()`
(functions/lab-core/src/error.rs); and every error_type is accounted for here: retried by name, or caught by
`States.ALL`. A misspelt name in the ASL never matches and silently turns a wait into a failure: it fails here."""

from __future__ import annotations

import re

from asl import DESCRIBE_LAB, MACHINES, ROOT, START_LAB, WORKSHOP, load, states, tasks

ERROR_RS = ROOT / "functions" / "lab-core" / "src" / "error.rs"

# The names this workflow may match that are not its own: Step Functions' predefined errors (Step Functions guide,
# "Error handling in Step Functions", error names), what the lambda:invoke integration reports (Lambda's Invoke
# API exceptions as Lambda.<Exception>, "Handle Lambda service exceptions"; Lambda.Unknown for an unhandled error),
# and Sandbox.Timedout, Lambda's error type for a function that ran past its timeout.
STATES = {"States.ALL", "States.BranchFailed", "States.DataLimitExceeded", "States.ExceedToleratedFailureThreshold",
          "States.HeartbeatTimeout", "States.Http.Socket", "States.IntrinsicFailure", "States.ItemReaderFailed",
          "States.NoChoiceMatched", "States.ParameterPathFailure", "States.Permissions", "States.QueryEvaluationError",
          "States.ResultPathMatchFailure", "States.ResultWriterFailed", "States.Runtime", "States.TaskFailed",
          "States.Timeout"}
# What the workshop's two other integrations raise. The states integration (startExecution.sync:2): a refused
# StartExecution as StepFunctions.<API error>Exception (LocalStack's engine, built on AWS-recorded snapshots, names
# it so; public workflows catch StepFunctions.ExecutionAlreadyExistsException): ExecutionLimitExceeded,
# ExecutionAlreadyExists and throttling (the API's ThrottlingException, the suffix not doubled). An AWS SDK
# integration's error is "ServiceName.ErrorName", with the Exception suffix (Step Functions guide, "Learning to use
# AWS service SDK integrations in Step Functions"): Sfn.ThrottlingException for aws-sdk:sfn:describeExecution.
STEP_FUNCTIONS = {"StepFunctions.ExecutionLimitExceededException", "StepFunctions.ExecutionAlreadyExistsException",
                  "StepFunctions.ThrottlingException", "Sfn.ThrottlingException"}
LAMBDA = {"Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
          "Lambda.ClientExecutionTimeoutException", "Lambda.TooManyRequestsException", "Lambda.Unknown",
          "Sandbox.Timedout"}

# What the workflow does with each LabError. Retried by name: the two that mean "not yet" —
RETRIED = {
    "NotReady": "a precondition not true yet: the state machine waits (each budget in test_budgets.py)",
    "Throttled": "AWS throttling past the SDK's retries: the shared transient retrier, with jitter",
}
# — and the rest end the step: the failure the user reads. States.ALL catches them into "Tear down after a failure"
# (or, from "Validate the input", fails the execution before anything exists); retrying them only delays that.
CAUGHT_BY_STATES_ALL = {"InvalidInput", "PeeringFailed", "RouteConflict", "PingFailed", "ExerciseFailed",
                        "ControlReachable", "ResourceConflict", "AwsError"}
# — and those that end a workshop before anything exists: the preflight's refusal fails the workshop at once (its
# state has no Catch; no lab has started).
ENDS_THE_WORKSHOP = {"QuotaExceeded": "the workshop's labs need more than the quotas leave free: refused up front"}


def error_types() -> set[str]:
    """The strings `LabError::error_type()` returns, read from its match arms, each variant of the enum with one."""
    source = ERROR_RS.read_text()
    found = re.search(r"pub enum LabError \{(.*?)\n\}", source, re.S)
    assert found, "error.rs: no pub enum LabError"
    enum = found.group(1)
    variants = set(re.findall(r"^    ([A-Z]\w*)\b", enum, re.M))
    found = re.search(r"pub fn error_type\(&self\) -> &'static str \{(.*?)\n    \}", source, re.S)
    assert found, "error.rs: no fn error_type"
    body = found.group(1)
    arms = dict(re.findall(r"(?:LabError|Self)::(\w+)\s*(?:\([^)]*\)|\{[^}]*\})?\s*=>\s*\"([^\"]+)\"", body))
    assert variants and set(arms) == variants, f"error.rs: variants {sorted(variants)}, error_type arms {sorted(arms)}"
    return set(arms.values())


def named(kind: str) -> dict[str, set[str]]:
    """Each name in the ErrorEquals of every `kind` ("Retry" or "Catch") of either machine -> the states naming it."""
    found: dict[str, set[str]] = {}
    for path in MACHINES:
        for name, state in states(load(path)):
            for rule in state.get(kind, []):
                for error in rule["ErrorEquals"]:
                    found.setdefault(error, set()).add(name)
    return found


def test_every_error_the_asl_names_exists():
    ours = error_types()
    for kind in ("Retry", "Catch"):
        for error, where in named(kind).items():
            assert error in STATES | STEP_FUNCTIONS | LAMBDA | ours, \
                f"{kind} in {sorted(where)}: {error!r} is neither a Step Functions/Lambda error nor a LabError " \
                f"error_type {sorted(ours)}"


def test_every_lab_error_is_retried_or_caught():
    # a new LabError variant fails here until someone decides what the workflow does with it
    assert error_types() == set(RETRIED) | CAUGHT_BY_STATES_ALL | set(ENDS_THE_WORKSHOP)
    retried = named("Retry")
    for error in ENDS_THE_WORKSHOP:
        assert error not in retried, f"{error}: {ENDS_THE_WORKSHOP[error]}"
    workshop = dict(states(load(WORKSHOP)))
    assert "Catch" not in workshop["Check the quotas"], "the preflight's refusal fails the workshop before any lab"
    assert workshop["Check the quotas"]["Parameters"]["FunctionName"] == "${PreflightFunctionArn}"
    for error in RETRIED:
        assert error in retried, f"{error}: {RETRIED[error]}; no Retry names it"
    for error in CAUGHT_BY_STATES_ALL:
        assert error not in retried, f"{error} ends the step; retrying it only delays the teardown"
    # throttling can hit any step's calls: every Task retries it (the workshop's child start and lab lookup under
    # their integrations' names: asl.py's START_RETRIER and FIND_RETRIER)
    for path in MACHINES:
        for name, state in tasks(load(path)):
            throttled = {START_LAB: "StepFunctions.ThrottlingException", DESCRIBE_LAB: "Sfn.ThrottlingException"}.get(
                state["Resource"], "Throttled")
            assert any(throttled in r["ErrorEquals"] for r in state.get("Retry", [])), name


def test_the_terminal_errors_reach_a_catch_all():
    # what is not retried by name is caught: every Catch the lab and workshop machines have ends in States.ALL (in
    # the workshop: whatever ended a lab becomes its record, never the workshop's failure); the one rule before it
    # is the child start's ExecutionAlreadyExists, which looks the lab of that name up
    for path in (MACHINES[0], WORKSHOP):
        for name, state in states(load(path)):
            catch = state.get("Catch", [])
            if not catch:
                continue
            assert catch[-1]["ErrorEquals"] == ["States.ALL"], f"{name}: a Catch narrower than States.ALL"
            before = [rule["ErrorEquals"] for rule in catch[:-1]]
            if state.get("Resource") == START_LAB:
                assert before == [["StepFunctions.ExecutionAlreadyExistsException"]], name
            else:
                assert before == [], f"{name}: a Catch narrower than States.ALL"
