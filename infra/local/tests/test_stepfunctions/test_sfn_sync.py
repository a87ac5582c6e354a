"""A state machine that starts another and waits for it (`states:startExecution.sync:2`), as the workshop runs each
lab: the child gets the Task's Name and Input, and the parent gets the child's DescribeExecution in the integration's
PascalCase, its output as JSON; a failed child fails the Task with States.TaskFailed and that DescribeExecution as
the cause (peerlab_local/stepfunctions/sync.py)."""

import json

from conftest import wait_for

ROLE = "arn:aws:iam::123456789012:role/any"


def machine(sfn, name, states, start):
    return sfn.create_state_machine(name=name, roleArn=ROLE, definition=json.dumps(
        {"StartAt": start, "States": states}))["stateMachineArn"]


def parent(sfn, name, child):
    return machine(sfn, name, {"Run": {
        "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
        "Parameters": {"StateMachineArn": child, "Name.$": "$.name",
                       "Input.$": "States.JsonMerge($.input, $.by, false)"},
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}],
        "ResultSelector": {"arn.$": "$.ExecutionArn", "status.$": "$.Status", "output.$": "$.Output"},
        "End": True},
        "Caught": {"Type": "Pass", "End": True}}, "Run")


def finished(sfn, arn):
    return wait_for(lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d,
                    timeout=30)


def test_a_child_runs_to_its_end_and_its_output_comes_back_as_json(aws):
    sfn = aws.client("stepfunctions")
    child = machine(sfn, "child", {"Echo": {"Type": "Pass", "Parameters": {"got.$": "$"}, "End": True}}, "Echo")
    top = parent(sfn, "parent", child)
    run = sfn.start_execution(stateMachineArn=top, name="p", input=json.dumps(
        {"name": "p-1", "input": {"lab_id": "p-1"}, "by": {"AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": "x"}}))
    done = finished(sfn, run["executionArn"])
    assert done["status"] == "SUCCEEDED", done
    out = json.loads(done["output"])
    child_arn = child.replace(":stateMachine:", ":execution:") + ":p-1"
    assert out == {"arn": child_arn, "status": "SUCCEEDED",
                   "output": {"got": {"lab_id": "p-1", "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": "x"}}}
    (listed,) = sfn.list_executions(stateMachineArn=child)["executions"]
    assert listed["name"] == "p-1"


def test_a_failed_child_fails_the_task_with_its_description_as_the_cause(aws):
    sfn = aws.client("stepfunctions")
    child = machine(sfn, "failing", {"Boom": {"Type": "Fail", "Error": "PingFailed", "Cause": "blocked"}}, "Boom")
    top = parent(sfn, "parent2", child)
    run = sfn.start_execution(stateMachineArn=top, name="q", input=json.dumps(
        {"name": "q-1", "input": {}, "by": {}}))
    done = finished(sfn, run["executionArn"])
    assert done["status"] == "SUCCEEDED", done  # caught
    error = json.loads(done["output"])["error"]
    assert error["Error"] == "States.TaskFailed"
    cause = json.loads(error["Cause"])
    assert (cause["Status"], cause["Error"], cause["Cause"]) == ("FAILED", "PingFailed", "blocked")
    assert cause["ExecutionArn"].endswith(":failing:q-1")
