"""StartExecution's name as AWS takes it (peerlab_local/stepfunctions/names.py; Step Functions API reference,
StartExecution `name`): refused characters are InvalidName, more than 80 a ValidationException, nothing started; no
name is a UUID; the same name is the same execution only while it runs with the same input."""

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import wait_for

ROLE = "arn:aws:iam::123456789012:role/any"


@pytest.fixture
def machine(aws):
    sfn = aws.client("stepfunctions")
    arn = sfn.create_state_machine(name="waits", roleArn=ROLE, definition=json.dumps(
        {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 2, "End": True}}}))["stateMachineArn"]
    return sfn, arn


@pytest.mark.parametrize("name", ["two words", "a:b", "a/b", "<b>", "a*", "a\u0007b", "a\u0085b", "a\ufffeb"])
def test_a_name_with_a_character_aws_refuses_is_invalid_and_starts_nothing(machine, name):
    sfn, arn = machine
    with pytest.raises(ClientError) as refused:
        sfn.start_execution(stateMachineArn=arn, name=name, input="{}")
    assert refused.value.response["Error"]["Code"] == "InvalidName"
    assert sfn.list_executions(stateMachineArn=arn)["executions"] == []


def test_a_name_of_81_characters_is_refused_and_80_is_taken(machine):
    sfn, arn = machine
    with pytest.raises(ClientError) as refused:
        sfn.start_execution(stateMachineArn=arn, name="x" * 81, input="{}")
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "length less than or equal to 80" in refused.value.response["Error"]["Message"]
    assert sfn.start_execution(stateMachineArn=arn, name="x" * 80, input="{}")["executionArn"].endswith(":" + "x" * 80)


def test_an_execution_started_without_a_name_is_named_by_a_uuid(machine):
    sfn, arn = machine
    first = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    second = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    assert first != second
    for execution in (first, second):
        uuid.UUID(execution.rsplit(":", 1)[1])  # raises unless the name is a UUID


def test_the_same_name_is_the_same_execution_only_while_it_runs_with_the_same_input(machine):
    sfn, arn = machine
    started = sfn.start_execution(stateMachineArn=arn, name="lab-1", input='{"a": 1}')["executionArn"]
    assert sfn.start_execution(stateMachineArn=arn, name="lab-1", input='{"a": 1}')["executionArn"] == started
    with pytest.raises(ClientError) as other_input:
        sfn.start_execution(stateMachineArn=arn, name="lab-1", input='{"a": 2}')
    assert other_input.value.response["Error"]["Code"] == "ExecutionAlreadyExists"
    wait_for(lambda: sfn.describe_execution(executionArn=started)["status"] == "SUCCEEDED", timeout=15)
    with pytest.raises(ClientError) as closed:
        sfn.start_execution(stateMachineArn=arn, name="lab-1", input='{"a": 1}')
    assert closed.value.response["Error"]["Code"] == "ExecutionAlreadyExists"
