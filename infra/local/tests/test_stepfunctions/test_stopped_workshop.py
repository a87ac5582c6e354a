"""A stopped workshop leaves nothing (issue 23, item 4), whatever Step Functions does to its running labs.

What AWS does to a `startExecution.sync:2` child when its parent is stopped is not stated on any page found (searched
2026-12-07: the developer guide's "Service integration patterns" / "Run a Job (.sync)", "Start a new AWS Step
Functions state machine from a running execution", StopExecution's API reference). What points to a stop: the
guide's IAM policy for the synchronous integration ("IAM policies for AWS Step Functions", synchronous) grants the
parent's role `states:StopExecution` on the child's executions, which the parent needs for nothing else, as the .sync
policies of Batch (batch:TerminateJob) and ECS (ecs:StopTask) grant the stop of their jobs; a Batch job of a
stopped execution is reported terminated "The Task state in AWS Step Functions execution [...] which was managing
this resource was aborted" (Stack Overflow 45596276). moto's engine (LocalStack's) stops following the child and
leaves it running.

So both are tested, on the real stack (the built functions, statemachine/*.asl.json, infra/template.yaml): a workshop
of two held labs is stopped while both hold, and
- its labs run on (what the local AWS does): each ends with its own teardown;
- its labs are stopped too (what AWS's grant points to, done here by hand as the parent's role may): each ends
  ABORTED and the backstop (the stack's EventBridge rule on the lab machine's ABORTED) tears it down.
Either way nothing is left. Needs the built functions (PEERLAB_LAMBDA_DIR)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import wait_for
from peerlab_local.tools import stack

BUILT = os.environ.get("PEERLAB_LAMBDA_DIR", "")
# two labs, each held 1800 s of AWS time (18 s here) after its ping: long enough to stop the workshop while they hold
WORKSHOP = {"labs": 2, "cidr_base": "10.0.0.0/8", "lab": {"allow": "icmp", "hold_seconds": 1800}}


def ended(sfn, arn: str, timeout: float = 240) -> dict:
    return wait_for(lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d,
                    timeout=timeout, interval=0.5)


def holding(sfn, arn: str) -> bool:
    events = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=20)["events"]
    return any(e["type"] == "WaitStateEntered" for e in events)


def stopped_while_holding(start_local):
    """The stack, and a workshop of two labs stopped while both hold: (aws, outputs, sfn, the labs' ARNs)."""
    if not (Path(BUILT) / "teardown").is_file():
        pytest.fail(f"PEERLAB_LAMBDA_DIR={BUILT!r} has no built functions: run `make build-functions` first")
    # two labs: 5 VPCs (the default one among them) and 8 vCPUs, past AWS's default of 5 standard vCPUs
    aws = start_local("--profile", "instant", "--time-scale", "0.01", "--quota", "ec2/L-1216C47A=16")
    outputs = stack.deploy(aws.url, "peerlab", lambda_dir=BUILT, out=lambda *_: None)
    sfn = aws.client("stepfunctions")
    workshop = sfn.start_execution(stateMachineArn=outputs["WorkshopStateMachineArn"], name="class",
                                   input=json.dumps(WORKSHOP))["executionArn"]

    def both_holding():
        labs = [e["executionArn"] for e in sfn.list_executions(stateMachineArn=outputs["StateMachineArn"])[
            "executions"]]
        return labs if len(labs) == 2 and all(holding(sfn, lab) for lab in labs) else None

    labs = wait_for(both_holding, timeout=120, interval=0.5)
    sfn.stop_execution(executionArn=workshop, error="Stopped", cause="the class ended early")
    assert ended(sfn, workshop)["status"] == "ABORTED"
    return aws, outputs, sfn, labs


def test_a_stopped_workshop_whose_labs_run_on_leaves_nothing(start_local):
    aws, outputs, sfn, labs = stopped_while_holding(start_local)
    for lab in labs:
        done = ended(sfn, lab)
        assert done["status"] == "SUCCEEDED", done
        assert json.loads(done["output"])["teardown"]["remaining"] == [], done["output"]
    assert sfn.list_executions(stateMachineArn=outputs["BackstopStateMachineArn"])["executions"] == []
    assert aws.get("/peerlab/resources")["count"] == 0


def test_a_stopped_workshop_whose_labs_are_stopped_too_leaves_nothing(start_local):
    aws, outputs, sfn, labs = stopped_while_holding(start_local)
    for lab in labs:  # as the parent's role may (FollowAndStopTheLabs), as AWS's grant for .sync points to
        sfn.stop_execution(executionArn=lab)
        assert ended(sfn, lab)["status"] == "ABORTED"
    backstops = wait_for(lambda: (found := sfn.list_executions(
        stateMachineArn=outputs["BackstopStateMachineArn"])["executions"]) and len(found) == 2 and found,
        timeout=60, interval=0.2)
    cleaned = []
    for backstop in backstops:
        done = ended(sfn, backstop["executionArn"])
        assert done["status"] == "SUCCEEDED", done
        report = json.loads(done["output"])
        assert report["remaining"] == [], report
        cleaned += report["lab_ids"]
    assert len(set(cleaned)) == 2, cleaned
    assert aws.get("/peerlab/resources")["count"] == 0
