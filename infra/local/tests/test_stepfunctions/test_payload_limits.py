"""The 256 KiB payload quota (peerlab_local/stepfunctions/limits.py; Step Functions Developer Guide, "Step Functions
service quotas": 256 KiB of data as a UTF-8 encoded string, for a task, a state and an execution): StartExecution
refuses a larger input; inside an execution a state's output or a Task's input after Parameters over it is
States.DataLimitExceeded; exactly 262,144 bytes pass."""

import json

import pytest
from botocore.exceptions import ClientError

from conftest import wait_for

ROLE = "arn:aws:iam::123456789012:role/any"
QUOTA = 262_144
PASS = {"StartAt": "Pass", "States": {"Pass": {"Type": "Pass", "End": True}}}


def payload(size: int, char: str = "x") -> str:
    """Compact JSON `{"s":"…"}` of exactly `size` UTF-8 bytes (`char` 1 or 2 bytes; size - 8 divisible by it)."""
    width = len(char.encode())
    assert (size - 8) % width == 0
    text = json.dumps({"s": char * ((size - 8) // width)}, ensure_ascii=False, separators=(",", ":"))
    assert len(text.encode()) == size
    return text


def machine(aws, definition: dict, name: str = "limits") -> tuple:
    sfn = aws.client("stepfunctions")
    return sfn, sfn.create_state_machine(name=name, roleArn=ROLE, definition=json.dumps(definition))["stateMachineArn"]


def ended(sfn, arn: str) -> dict:
    return wait_for(lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d,
                    timeout=30, interval=0.1)


@pytest.mark.parametrize("char", ["x", "é"])
def test_an_input_of_exactly_256_kib_runs_to_its_end(aws, char):
    sfn, arn = machine(aws, PASS)
    execution = sfn.start_execution(stateMachineArn=arn, name="at-quota", input=payload(QUOTA, char))["executionArn"]
    done = ended(sfn, execution)
    assert done["status"] == "SUCCEEDED", (done["status"], done.get("error"), done.get("cause"))


@pytest.mark.parametrize("size,char", [(QUOTA + 2, "x"), (QUOTA + 2, "é")])
def test_a_larger_input_is_refused_and_starts_nothing(aws, size, char):
    sfn, arn = machine(aws, PASS)
    with pytest.raises(ClientError) as refused:
        sfn.start_execution(stateMachineArn=arn, name="over-quota", input=payload(size, char))
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert refused.value.response["Error"]["Message"] == (
        "1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have size less "
        "than or equal to 262144 bytes in UTF-8 encoding")
    assert sfn.list_executions(stateMachineArn=arn)["executions"] == []


def test_a_state_output_over_the_quota_fails_the_execution(aws):
    """Within the input quota (each half 140,000 characters of 2 bytes), doubled by a Pass's Parameters."""
    sfn, arn = machine(aws, {"StartAt": "Double", "States": {"Double": {
        "Type": "Pass", "Parameters": {"a.$": "$.s", "b.$": "$.s"}, "End": True}}})
    execution = sfn.start_execution(stateMachineArn=arn, name="doubled",
                                    input=json.dumps({"s": "é" * 70_000}, ensure_ascii=False))["executionArn"]
    done = ended(sfn, execution)
    assert done["status"] == "FAILED" and done["error"] == "States.DataLimitExceeded", done
    assert "The state/task 'Double' returned a result with a size exceeding" in done["cause"]


def test_a_task_input_over_the_quota_after_parameters_fails_before_anything_is_invoked(aws):
    sfn, arn = machine(aws, {"StartAt": "Invoke", "States": {"Invoke": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "never-invoked", "Payload": {"a.$": "$.s", "b.$": "$.s"}},
        "Catch": [{"ErrorEquals": ["States.DataLimitExceeded"], "Next": "Caught"}], "End": True},
        "Caught": {"Type": "Pass", "End": True}}})
    execution = sfn.start_execution(stateMachineArn=arn, name="big-parameters",
                                    input=json.dumps({"s": "x" * 140_000}))["executionArn"]
    done = ended(sfn, execution)
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"])["Error"] == "States.DataLimitExceeded"
    events = sfn.get_execution_history(executionArn=execution)["events"]
    assert not [e for e in events if e["type"] in ("TaskScheduled", "TaskStarted")]
