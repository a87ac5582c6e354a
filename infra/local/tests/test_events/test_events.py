"""EventBridge as the deployed stack uses it: an execution's end is a status-change event; a rule whose pattern
matches starts its state machine target with the event as input."""

import json

from conftest import wait_for

ROLE = "arn:aws:iam::123456789012:role/any"


def machine(sfn, name, states, start):
    return sfn.create_state_machine(name=name, roleArn=ROLE, definition=json.dumps(
        {"StartAt": start, "States": states}))["stateMachineArn"]


def test_an_execution_that_fails_starts_the_rules_target_with_the_event(aws):
    sfn, events = aws.client("stepfunctions"), aws.client("events")
    failing = machine(sfn, "failing", {"Boom": {"Type": "Fail", "Error": "Boom", "Cause": "on purpose"}}, "Boom")
    fine = machine(sfn, "fine", {"Done": {"Type": "Succeed"}}, "Done")
    catcher = machine(sfn, "catcher", {"Echo": {"Type": "Pass", "End": True}}, "Echo")
    events.put_rule(Name="ended", EventPattern=json.dumps({
        "source": ["aws.states"], "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"status": ["FAILED", "TIMED_OUT", "ABORTED"], "stateMachineArn": [failing]}}))
    events.put_targets(Rule="ended", Targets=[{"Id": "catcher", "Arn": catcher, "RoleArn": ROLE}])

    sfn.start_execution(stateMachineArn=fine, name="ok", input="{}")  # SUCCEEDED, another machine: no match
    sfn.start_execution(stateMachineArn=failing, name="bad", input='{"lab_id": "x"}')
    caught = wait_for(lambda: sfn.list_executions(stateMachineArn=catcher)["executions"])
    assert len(caught) == 1
    done = wait_for(lambda: (d := sfn.describe_execution(executionArn=caught[0]["executionArn"]))["status"] != "RUNNING"
                    and d)
    event = json.loads(done["output"])
    assert event["detail-type"] == "Step Functions Execution Status Change" and event["source"] == "aws.states"
    detail = event["detail"]
    assert (detail["name"], detail["status"], detail["stateMachineArn"]) == ("bad", "FAILED", failing)
    assert json.loads(detail["input"]) == {"lab_id": "x"}
    assert detail["error"] == "Boom" and detail["startDate"] <= detail["stopDate"]
    # the catcher's own end matches nothing: still one
    assert len(sfn.list_executions(stateMachineArn=catcher)["executions"]) == 1
