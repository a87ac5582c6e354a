"""Nothing leaks when the Catch cannot run (issue 23, item 3). A lab that fails with an error States.ALL does not
catch (States.Runtime: peerlab_local/stepfunctions/errors.py) ends FAILED without its own "Tear down after a
failure"; the stack's backstop (infra/template.yaml: an EventBridge rule on the lab machine's FAILED, TIMED_OUT and
ABORTED executions starts statemachine/backstop.asl.json) tears down what it left. Needs the built functions."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import function_zip, python_runtime, wait_for
from peerlab_local.tools import stack

ROOT = Path(__file__).resolve().parents[4]
BUILT = os.environ.get("PEERLAB_LAMBDA_DIR", "")

# A ping-test that answers `{}`: a build whose result lacks what the state machine's ResultSelector reads
# ($.Payload.reachable, ...), so the state fails States.Runtime (a JSONPath that finds nothing), as it would on AWS.
WRONG_SHAPE = python_runtime("sts", "answer = {}")


def ended(sfn, arn: str, timeout: float = 240) -> dict:
    return wait_for(lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d,
                    timeout=timeout, interval=0.5)


def test_a_lab_failed_past_its_catch_is_torn_down_by_the_backstop(start_local):
    if not (Path(BUILT) / "teardown").is_file():
        pytest.fail(f"PEERLAB_LAMBDA_DIR={BUILT!r} has no built functions: run `make build-functions` first")
    aws = start_local("--time-scale", "0.02")  # the backstop's retries (15 s) in 0.3 s
    outputs = stack.deploy(aws.url, "peerlab", lambda_dir=BUILT, out=lambda *_: None)
    resources = aws.client("cloudformation").describe_stack_resources(StackName="peerlab")["StackResources"]
    ping_test = next(r["PhysicalResourceId"] for r in resources if r["LogicalResourceId"] == "PingTestFunction")
    aws.client("lambda").update_function_code(FunctionName=ping_test, ZipFile=function_zip(WRONG_SHAPE))

    sfn = aws.client("stepfunctions")
    lab = sfn.start_execution(stateMachineArn=outputs["StateMachineArn"], name="uncaught",
                              input=(ROOT / "tests" / "events" / "tutorial.json").read_text())["executionArn"]
    failed = ended(sfn, lab)
    assert failed["status"] == "FAILED", failed
    assert failed["error"] == "States.Runtime", failed
    assert "Ping B from A before peering" in failed["cause"]
    events = sfn.get_execution_history(executionArn=lab)["events"]
    exited = [e["stateExitedEventDetails"]["name"] for e in events if "stateExitedEventDetails" in e]
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
    assert "Create both VPCs" in exited  # the lab's VPCs, subnets, instances and endpoints existed
    assert "Tear down after a failure" not in entered  # its Catch never ran

    backstop = wait_for(lambda: sfn.list_executions(stateMachineArn=outputs["BackstopStateMachineArn"])["executions"],
                        timeout=60, interval=0.2)
    assert len(backstop) == 1
    cleaned = ended(sfn, backstop[0]["executionArn"])
    assert cleaned["status"] == "SUCCEEDED", cleaned
    report = json.loads(cleaned["output"])
    assert report["lab_ids"] == ["uncaught"] and report["remaining"] == [], report
    assert aws.get("/peerlab/resources")["count"] == 0
