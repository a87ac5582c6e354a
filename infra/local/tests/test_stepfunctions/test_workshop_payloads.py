"""The workshop within the 256 KiB payload quota at its largest (issue 23, item 4): 40 labs (the preflight's MAX_LABS),
each with the largest report a lab gives or the longest cause a failed lab gives, through the real workshop definition
(statemachine/workshop.asl.json, deployed with the stack: the real preflight and summarize-workshop functions) on the
local AWS, which enforces the quota as AWS states it (peerlab_local/stepfunctions/limits.py: every state's input and
output, every Task's result, States.DataLimitExceeded past 262,144 bytes, which nothing catches).

Only the children are stand-ins: the stack's lab state machine is replaced by one that ends as the real lab ends (its
"Build the report" state and its failure end, copied from statemachine/peering-lab.asl.json) on the largest step
results a lab can carry. Each payload of the workshop's history is measured and held under MARGIN: room for what
this test cannot foresee (longer ids, another field in a report) without reaching AWS's quota. Needs the built
functions (PEERLAB_LAMBDA_DIR)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import wait_for
from peerlab_local.stepfunctions.limits import MAX_BYTES, size
from peerlab_local.tools import stack

ROOT = Path(__file__).resolve().parents[4]
BUILT = os.environ.get("PEERLAB_LAMBDA_DIR", "")
LAB = json.loads((ROOT / "statemachine" / "peering-lab.asl.json").read_text())
MARGIN = 200 * 1024  # every payload at most 200 KiB: 56 KiB (22%) below the quota
LABS = 40  # lab_core::preflight::MAX_LABS
# the longest names the preflight gives: an execution name of 80 characters (AWS's limit) becomes children named
# `<name cut to fit>-<i>` (80), a workshop_id of 37 lab ids `<workshop_id>-<i>` of 40 (LAB_ID_MAX)
NAME = "w" * 80
WORKSHOP_ID = "w" * 37


def hexid(prefix: str, n: int) -> str:
    return f"{prefix}-{n:017x}"  # AWS's long resource ids: 17 hex digits


def side(s: str, n: int) -> dict:
    return {"side": s, "region": "ap-southeast-2", "vpc_id": hexid("vpc", n), "cidr": "10.255.0.0/16",
            "subnet_id": hexid("subnet", n), "security_group_id": hexid("sg", n), "instance_id": hexid("i", n),
            "private_ip": "10.255.255.254", "availability_zone": "ap-southeast-2c",
            "availability_zone_id": "apse2-az3",
            "endpoint_ids": [hexid("vpce", n + 1), hexid("vpce", n + 2)] if s == "a" else []}


# What an exercise lab's final ping reports (lab_core::exercise::ExerciseOutcome), each text at least as long as the
# longest the code writes (exercise.rs: broken 78, fix 101 characters; a diagnosis names a hop and its resources).
EXERCISE = {"exercise": "peering-not-accepted", "broken": "b" * 120, "diagnosed_hop": "sg-not-attached",
            "diagnosis": "d" * 300, "matched": True, "fix": "f" * 160}


def ping(expected: str, exercise) -> dict:
    return {"reachable": expected == "reachable", "transmitted": 3, "received": 3, "loss_percent": 100.0,
            "rtt_avg_ms": 1234.567, "expected": expected, "passed": True, "simulated": True,
            "command_id": "00000000-0000-0000-0000-000000000000", "target_ip": "10.255.255.254",
            "exercise": exercise}


def steps() -> dict:
    """The state "Build the report" reads, each step's result at its largest (a held exercise lab: its report is
    the one with most in it; holding adds nothing to it)."""
    return {
        "sides": {"vpc_a": side("a", 1), "vpc_b": side("b", 100)},
        "peering": {"peering_id": hexid("pcx", 7), "status": "active"},
        "security_group": {"security_group_id": hexid("sg", 9), "source": "group " + hexid("sg", 1),
                           "protocol": "icmp"},
        "routes": {"routes": [{"route_table_id": hexid("rtb", n), "destination": "10.255.0.0/16",
                               "action": "replaced"} for n in (1, 2)]},
        "negative_control": ping("unreachable", None),
        "ping": ping("reachable", EXERCISE),
        # what a lab's teardown deletes (tutorial fixture: 13), and more: a NACL, a route table, an entry or two
        "teardown": {"lab_ids": [], "deleted": [hexid("r", n) for n in range(20)],
                     "remaining": [hexid("eni", n) for n in range(2)]},
    }


# The longest cause a failed lab gives: its function's error as Lambda reports it ({"errorType", "errorMessage"}),
# the message at lab_core's bound (error.rs: MAX_MESSAGE, 2048 bytes; EC2's UnauthorizedOperation with its encoded
# authorization message runs past it and is cut), with quotes that each level of JSON escapes again.
MAX_MESSAGE = 2048
LONG_CAUSE = json.dumps({"errorType": "AwsError",
                         "errorMessage": ('UnauthorizedOperation: "' + "x" * MAX_MESSAGE)[:MAX_MESSAGE - 1] + '"'})


def stand_in(kind: str) -> dict:
    """A lab machine that ends as the real one does: `report` through "Build the report", `failed` through its
    failure end ("Fail with the original error"), `states` through "Fail with the Step Functions error"."""
    real = LAB["States"]
    if kind == "report":
        return {"StartAt": "Steps", "States": {
            "Steps": {"Type": "Pass", "Parameters": {"lab": {"lab_id.$": "$.lab_id"}, **steps()},
                      "Next": "Build the report"},
            "Build the report": real["Build the report"]}}
    error = {"Error": "AwsError", "Cause": LONG_CAUSE} if kind == "failed" else {
        "Error": "States.TaskFailed", "Cause": LONG_CAUSE}
    return {"StartAt": "Steps", "States": {
        "Steps": {"Type": "Pass", "Result": error, "ResultPath": "$.error",
                  "Next": "Was it an error of Step Functions' own?"},
        "Was it an error of Step Functions' own?": real["Was it an error of Step Functions' own?"],
        "Fail with the original error": real["Fail with the original error"],
        "Fail with the Step Functions error": real["Fail with the Step Functions error"]}}


def payloads(events: list[dict]) -> list[tuple[int, str, str]]:
    """(bytes, event type, state or step) of every input, output and result in a history."""
    out = []
    name = "?"
    for e in events:
        for key, details in e.items():
            if not key.endswith("EventDetails") or not isinstance(details, dict):
                continue
            name = details.get("name", name)
            for field in ("input", "output"):
                if isinstance(details.get(field), str):
                    out.append((size(details[field]), e["type"] + "." + field, name))
    return out


@pytest.fixture(scope="module")
def workshop(request):
    from conftest import LocalAws

    if not (Path(BUILT) / "summarize-workshop").is_file():
        pytest.fail(f"PEERLAB_LAMBDA_DIR={BUILT!r} has no built functions: run `make build-functions` first")
    aws = LocalAws("--quota", "vpc/L-F678F1CE=100", "--quota", "ec2/L-1216C47A=400")
    request.addfinalizer(aws.stop)
    outputs = stack.deploy(aws.url, "peerlab", lambda_dir=BUILT, out=lambda *_: None)
    events = aws.client("events")
    for rule in events.list_rules()["Rules"]:  # the backstop's rule: a stand-in's failure leaves nothing to clean
        events.disable_rule(Name=rule["Name"])
    return aws, outputs


def run(workshop, kind: str) -> tuple[dict, list[dict]]:
    aws, outputs = workshop
    sfn = aws.client("stepfunctions")
    sfn.update_state_machine(stateMachineArn=outputs["StateMachineArn"], definition=json.dumps(stand_in(kind)))
    name = (kind + NAME)[:80]
    arn = sfn.start_execution(stateMachineArn=outputs["WorkshopStateMachineArn"], name=name, input=json.dumps(
        {"labs": LABS, "workshop_id": WORKSHOP_ID, "lab": {"exercise": "peering-not-accepted", "hold_seconds": 1800}}
    ))["executionArn"]
    done = wait_for(lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d,
                    timeout=300, interval=0.5)
    events = []
    kwargs: dict = {}
    while True:
        page = sfn.get_execution_history(executionArn=arn, maxResults=1000, **kwargs)
        events += page["events"]
        if not page.get("nextToken"):
            break
        kwargs = {"nextToken": page["nextToken"]}
    return done, events


@pytest.mark.parametrize("kind", ["report", "failed", "states"])
def test_forty_labs_with_the_largest_reports_or_causes_stay_under_the_margin(workshop, kind):
    done, events = run(workshop, kind)
    measured = sorted(payloads(events), reverse=True)
    print(kind, "largest payloads:", measured[:6])
    assert done["status"] == "SUCCEEDED", (done.get("error"), done.get("cause"), measured[:6])
    summary = json.loads(done["output"])
    assert summary["labs"] == LABS
    if kind == "report":
        assert summary["succeeded"] == LABS and summary["leaked"]
    else:
        error = "AwsError" if kind == "failed" else "States.TaskFailed"  # the child's own, read from its cause
        assert [f["error"] for f in summary["failed"]] == [error] * LABS
        assert all(len(f["cause"]) <= MAX_MESSAGE for f in summary["failed"])
    largest = measured[0]
    # measured 2026-12-07: 27,476 bytes (reports), 138,338 (failed), 143,218 (States.* failures), each the Map's
    # output, the summary's input; before the digest, the reports' was 174,618 and 40 such failures (a 4 KiB cause
    # each) ended the workshop States.DataLimitExceeded at the summary's result
    assert largest[0] <= MARGIN < MAX_BYTES, largest
