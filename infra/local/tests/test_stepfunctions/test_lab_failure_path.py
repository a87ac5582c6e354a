"""The lab's failure end (statemachine/peering-lab.asl.json, from "Was it an error of Step Functions' own?" on) fails
the execution with the caught error without depending on what AWS does with a `States.*` name in a Fail state's
ErrorPath (no AWS page says; the Amazon States Language reserves the prefix, and moto's engine answers
States.Runtime): a custom error is re-raised by name, a `States.*` one as StepFunctionsError with the caught
{Error, Cause} as JSON in the cause."""

import json
from pathlib import Path

import pytest

from conftest import wait_for

ROOT = Path(__file__).resolve().parents[4]
ROLE = "arn:aws:iam::123456789012:role/any"
ENTRY = "Was it an error of Step Functions' own?"


def failure_end() -> dict:
    """The lab machine's states from ENTRY on, as a machine of their own."""
    states = json.loads((ROOT / "statemachine" / "peering-lab.asl.json").read_text())["States"]
    reachable, todo = {}, [ENTRY]
    while todo:
        name = todo.pop()
        if name in reachable:
            continue
        state = reachable[name] = states[name]
        todo += [c["Next"] for c in state.get("Choices", [])] + [state[k] for k in ("Default", "Next") if k in state]
    return {"StartAt": ENTRY, "States": reachable}


@pytest.mark.parametrize("error,cause", [
    ("States.Timeout", ""),
    ("States.TaskFailed", '{"Status":"FAILED","Error":"PingFailed"}'),
    ("States.Runtime", "The JSONPath '$.x' specified for the field 'x.$' could not be found in the input '{}'"),
])
def test_a_states_error_fails_the_lab_as_step_functions_error_carrying_it(aws, error, cause):
    sfn = aws.client("stepfunctions")
    machine = sfn.create_state_machine(name="failure-end", roleArn=ROLE,
                                       definition=json.dumps(failure_end()))["stateMachineArn"]
    caught = {"Error": error, "Cause": cause}
    arn = sfn.start_execution(stateMachineArn=machine, name="run-1",
                              input=json.dumps({"lab": {"lab_id": "x"}, "error": caught}))["executionArn"]
    done = wait_for(lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d,
                    timeout=20, interval=0.1)
    assert done["status"] == "FAILED"
    assert done["error"] == "StepFunctionsError", done
    assert json.loads(done["cause"]) == caught


def test_a_custom_error_fails_the_lab_by_its_own_name(aws):
    sfn = aws.client("stepfunctions")
    machine = sfn.create_state_machine(name="failure-end", roleArn=ROLE,
                                       definition=json.dumps(failure_end()))["stateMachineArn"]
    caught = {"Error": "PingFailed", "Cause": '{"errorType":"PingFailed","errorMessage":"blocked at B\'s NACL"}'}
    arn = sfn.start_execution(stateMachineArn=machine, name="run-1",
                              input=json.dumps({"lab": {"lab_id": "x"}, "error": caught}))["executionArn"]
    done = wait_for(lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d,
                    timeout=20, interval=0.1)
    assert (done["status"], done["error"], done["cause"]) == ("FAILED", "PingFailed", caught["Cause"])
