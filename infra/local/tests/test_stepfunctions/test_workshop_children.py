"""A workshop's lab is neither run twice nor recorded wrongly (issue 23, item 4): the workshop's Map iteration
(statemachine/workshop.asl.json, "Run the lab" and what follows) against a stand-in lab machine, with a lab of the
same name already there.

StartExecution (Step Functions API reference, `name`): the same name and input while the execution runs returns it;
a closed execution of that name, or another input, is ExecutionAlreadyExists, which the states integration raises
as StepFunctions.ExecutionAlreadyExistsException. The iteration then describes the lab of that name
(`aws-sdk:sfn:describeExecution`, PascalCase: peerlab_local/stepfunctions/sync.py) and records how this workshop's
own lab really ended; a lab of that name that is not this workshop's keeps the ExecutionAlreadyExists."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import wait_for

ROOT = Path(__file__).resolve().parents[4]
ROLE = "arn:aws:iam::123456789012:role/any"
STARTED_BY = "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"
REPORT = {"ping": {"reachable": True, "received": 3, "transmitted": 3},
          "teardown": {"deleted": ["vpc-1", "vpc-2"], "remaining": []}}
DIGEST = {"ping": {"reachable": True, "received": 3, "transmitted": 3}, "teardown": {"deleted": 2, "remaining": []}}

# The lab stand-in: waits `wait` seconds, then fails PingFailed when asked to, else ends with a report's fields.
LAB = {"StartAt": "Hold", "States": {
    "Hold": {"Type": "Wait", "SecondsPath": "$.wait", "Next": "Fail?"},
    "Fail?": {"Type": "Choice", "Choices": [{"Variable": "$.fail", "BooleanEquals": True, "Next": "Boom"}],
              "Default": "Report"},
    "Boom": {"Type": "Fail", "Error": "PingFailed", "Cause": "B did not answer"},
    "Report": {"Type": "Pass", "Result": REPORT, "End": True}}}


def iteration(lab_arn: str) -> dict:
    """The workshop's Map iteration as a machine of its own, its placeholders as the template substitutes them."""
    workshop = json.loads((ROOT / "statemachine" / "workshop.asl.json").read_text())
    processor = workshop["States"]["Run every lab"]["ItemProcessor"]
    text = json.dumps({"StartAt": processor["StartAt"], "States": processor["States"]})
    text = text.replace("${LabStateMachineArn}", lab_arn)
    text = text.replace("${LabExecutionArnPrefix}", lab_arn.replace(":stateMachine:", ":execution:"))
    return json.loads(text)


def finished(sfn, arn: str) -> dict:
    return wait_for(lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d, timeout=60)


class Workshop:
    def __init__(self, aws):
        self.sfn = aws.client("stepfunctions")
        self.lab = self.sfn.create_state_machine(name="lab", roleArn=ROLE, definition=json.dumps(LAB))[
            "stateMachineArn"]
        self.machine = self.sfn.create_state_machine(name="workshop-iteration", roleArn=ROLE,
                                                     definition=json.dumps(iteration(self.lab)))["stateMachineArn"]

    def arn(self, name: str) -> str:
        return self.machine.replace(":stateMachine:", ":execution:") + ":" + name

    def child_input(self, workshop: str, lab: dict) -> str:
        """What "Run the lab" sends: States.JsonMerge(input, started_by), compact (the engine's serialisation)."""
        return json.dumps({**lab, STARTED_BY: self.arn(workshop)}, separators=(",", ":"))

    def run_lab(self, name: str, document: str) -> dict:
        """A lab of that name started as another (earlier) start would have, run to its end."""
        started = self.sfn.start_execution(stateMachineArn=self.lab, name=name, input=document)
        return finished(self.sfn, started["executionArn"])

    def iterate(self, workshop: str, name: str, lab: dict) -> dict:
        item = {"lab_id": name, "name": name, "input": lab, "started_by": {STARTED_BY: self.arn(workshop)}}
        run = self.sfn.start_execution(stateMachineArn=self.machine, name=workshop, input=json.dumps(item))
        done = finished(self.sfn, run["executionArn"])
        # an iteration never fails: its record says how the lab ended
        assert done["status"] == "SUCCEEDED", (done, self.sfn.get_execution_history(
            executionArn=run["executionArn"], reverseOrder=True, maxResults=4)["events"])
        return json.loads(done["output"])

    def labs(self) -> list[str]:
        return [e["name"] for e in self.sfn.list_executions(stateMachineArn=self.lab)["executions"]]


def test_a_lab_of_this_workshop_that_succeeded_before_is_recorded_from_its_report_not_run_again(aws):
    w = Workshop(aws)
    lab = {"wait": 0, "fail": False}
    assert w.run_lab("lab-1", w.child_input("ws-1", lab))["status"] == "SUCCEEDED"
    record = w.iterate("ws-1", "lab-1", lab)
    assert record == {"lab_id": "lab-1", "status": "SUCCEEDED",
                      "execution": w.lab.replace(":stateMachine:", ":execution:") + ":lab-1", "digest": DIGEST}
    assert w.labs() == ["lab-1"]


def test_a_lab_of_this_workshop_that_failed_before_is_recorded_as_it_failed(aws):
    w = Workshop(aws)
    lab = {"wait": 0, "fail": True}
    assert w.run_lab("lab-2", w.child_input("ws-2", lab))["status"] == "FAILED"
    record = w.iterate("ws-2", "lab-2", lab)
    assert (record["lab_id"], record["status"]) == ("lab-2", "FAILED")
    # as .sync:2 fails for a child that did not succeed: States.TaskFailed, its DescribeExecution as the cause
    assert record["error"]["Error"] == "States.TaskFailed"
    cause = json.loads(record["error"]["Cause"])
    assert (cause["Status"], cause["Error"], cause["Cause"]) == ("FAILED", "PingFailed", "B did not answer")
    assert cause["ExecutionArn"].endswith(":lab:lab-2")
    assert w.labs() == ["lab-2"]


def test_a_lab_of_that_name_started_by_something_else_is_not_taken_for_this_workshops(aws):
    w = Workshop(aws)
    lab = {"wait": 0, "fail": False}
    assert w.run_lab("lab-3", w.child_input("another-workshop", lab))["status"] == "SUCCEEDED"
    record = w.iterate("ws-3", "lab-3", lab)
    assert (record["lab_id"], record["status"]) == ("lab-3", "FAILED")
    assert record["error"]["Error"] == "StepFunctions.ExecutionAlreadyExistsException", record
    assert w.labs() == ["lab-3"]


def test_a_running_lab_of_the_same_name_and_input_is_followed_not_started_twice(aws):
    w = Workshop(aws)
    lab = {"wait": 8, "fail": False}  # still running when the iteration starts it again
    started = w.sfn.start_execution(stateMachineArn=w.lab, name="lab-4", input=w.child_input("ws-4", lab))
    record = w.iterate("ws-4", "lab-4", lab)
    assert record == {"lab_id": "lab-4", "status": "SUCCEEDED", "execution": started["executionArn"],
                      "digest": DIGEST}
    assert w.labs() == ["lab-4"]
