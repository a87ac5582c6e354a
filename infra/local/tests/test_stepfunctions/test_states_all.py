"""What States.ALL does not catch (peerlab_local/stepfunctions/errors.py; Step Functions Developer Guide, "Handling
errors", Error names): States.Runtime and States.DataLimitExceeded end the execution FAILED past a Catch or Retry on
States.ALL; States.DataLimitExceeded named explicitly is caught."""

import json

from conftest import wait_for

ROLE = "arn:aws:iam::123456789012:role/any"
BIG = "x" * 140_000  # a child's input and output of this each fit; its DescribeExecution (both) does not


def run(aws, name: str, definition: dict, execution_input: dict):
    sfn = aws.client("stepfunctions")
    machine = sfn.create_state_machine(name=name, roleArn=ROLE, definition=json.dumps(definition))["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, name="run-1", input=json.dumps(execution_input))["executionArn"]
    done = wait_for(lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d,
                    timeout=30, interval=0.1)
    entered = [e["stateEnteredEventDetails"]["name"] for e in sfn.get_execution_history(executionArn=arn)["events"]
               if "stateEnteredEventDetails" in e]
    return done, entered


def task(catch: list[str] | None = None, retry: list[str] | None = None, **fields) -> dict:
    state = {"Type": "Task", "End": True, **fields}
    if catch:
        state["Catch"] = [{"ErrorEquals": catch, "Next": "Caught"}]
    if retry:
        state["Retry"] = [{"ErrorEquals": retry, "IntervalSeconds": 1, "MaxAttempts": 2}]
    return state


def machine(state: dict) -> dict:
    return {"StartAt": "Task", "States": {"Task": state, "Caught": {"Type": "Pass", "End": True}}}


# a JSONPath that finds nothing in a Task's Parameters: States.Runtime (AWS's error for it, e.g. "The JSONPath
# '$.detail.userId' specified for the field 'userId.$' could not be found in the input", as executions report it)
MISSING_PATH: dict = {"Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "never-invoked", "Payload": {"x.$": "$.missing"}}}


def test_a_catch_on_states_all_does_not_catch_states_runtime(aws):
    done, entered = run(aws, "runtime", machine(task(catch=["States.ALL"], **MISSING_PATH)), {})
    assert done["status"] == "FAILED", done
    assert done["error"] == "States.Runtime"
    assert "Caught" not in entered


def test_a_retry_on_states_all_does_not_retry_states_runtime(aws):
    done, _ = run(aws, "runtime-retry", machine(task(retry=["States.ALL"], **MISSING_PATH)), {})
    assert done["status"] == "FAILED" and done["error"] == "States.Runtime", done
    history = aws.client("stepfunctions").get_execution_history(executionArn=done["executionArn"])["events"]
    assert len([e for e in history if e["type"] == "TaskFailed"]) == 1  # no retry


def sync_parent(catch: list[str]) -> dict:
    """A parent whose `.sync:2` Task gets back the child's DescribeExecution: input and output, 2 x 140 kB."""
    return machine(task(catch=catch, Resource="arn:aws:states:::states:startExecution.sync:2",
                        Parameters={"StateMachineArn.$": "$.child", "Input": {"big.$": "$.big"}}))


def child(aws) -> str:
    return aws.client("stepfunctions").create_state_machine(name="child", roleArn=ROLE, definition=json.dumps(
        {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}))["stateMachineArn"]


def test_a_catch_on_states_all_does_not_catch_a_task_result_over_the_quota(aws):
    done, entered = run(aws, "parent", sync_parent(["States.ALL"]), {"child": child(aws), "big": BIG})
    assert done["status"] == "FAILED", done
    assert done["error"] == "States.DataLimitExceeded"
    assert "returned a result with a size exceeding the maximum number of bytes service limit" in done["cause"]
    assert "Caught" not in entered


def test_states_data_limit_exceeded_named_explicitly_is_caught(aws):
    done, entered = run(aws, "parent", sync_parent(["States.DataLimitExceeded"]), {"child": child(aws), "big": BIG})
    assert done["status"] == "SUCCEEDED", done
    assert entered[-1] == "Caught"
    assert json.loads(done["output"])["Error"] == "States.DataLimitExceeded"


def test_states_all_still_catches_the_other_errors(aws):
    done, entered = run(aws, "timeout", machine(task(catch=["States.ALL"], Resource="arn:aws:states:::lambda:invoke",
                                                      Parameters={"FunctionName": "absent"})), {})
    assert done["status"] == "SUCCEEDED", done
    assert entered[-1] == "Caught"
