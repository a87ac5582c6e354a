"""All eight step functions, invoked one by one through Lambda on the local AWS, build the tutorial's lab, prove
the ping (control unreachable, final reachable), explain an early failure, and leave nothing behind."""

import json
import os
import time
from pathlib import Path

import pytest

from conftest import function_zip

LAMBDA_DIR = os.environ.get("PEERLAB_LAMBDA_DIR", "")
STEPS = ["validate-input", "create-vpc", "request-peering", "accept-peering", "add-routes", "update-sg",
         "ping-test", "teardown"]


@pytest.fixture
def lab_functions(start_local, tmp_path):
    missing = [s for s in STEPS if not (Path(LAMBDA_DIR) / s).is_file()]
    if missing:
        pytest.fail(f"PEERLAB_LAMBDA_DIR={LAMBDA_DIR!r} lacks {missing}: run `make build-functions` first")
    aws = start_local("--lambda-dir", LAMBDA_DIR, "--profile", "realistic", "--time-scale", "0.01",
                      "--log-dir", str(tmp_path / "function-logs"))
    iam, lam = aws.client("iam"), aws.client("lambda")
    role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    iam.create_role(RoleName="instance", AssumeRolePolicyDocument="{}")
    iam.attach_role_policy(RoleName="instance", PolicyArn="arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore")
    iam.create_instance_profile(InstanceProfileName="peerlab-instance")
    iam.add_role_to_instance_profile(InstanceProfileName="peerlab-instance", RoleName="instance")
    for step in STEPS:
        lam.create_function(FunctionName=step, Runtime="provided.al2023", Role=role, Handler=step, Timeout=30,
                            Code={"ZipFile": function_zip()},
                            Environment={"Variables": {"PEERLAB_INSTANCE_PROFILE": "peerlab-instance"}})
    return aws


class Steps:
    def __init__(self, aws):
        self.lam = aws.client("lambda")
        self.not_ready = 0

    def call(self, step: str, payload: dict, wait: bool = True, timeout: float = 60.0):
        """Invoke; retry NotReady as the state machine would (bounded); return (error type or None, body)."""
        deadline = time.monotonic() + timeout
        while True:
            response = self.lam.invoke(FunctionName=step, Payload=json.dumps(payload).encode())
            body = json.loads(response["Payload"].read())
            if not response.get("FunctionError"):
                return None, body
            if body["errorType"] != "NotReady" or not wait or time.monotonic() > deadline:
                print("step error:", step, body)  # shown by pytest when the test fails
                return body["errorType"], body
            self.not_ready += 1
            time.sleep(0.05)


def test_the_tutorial_lab_step_by_step(lab_functions):
    aws = lab_functions
    steps = Steps(aws)
    error, lab = steps.call("validate-input", {"input": {"lab_id": "flow-1"}, "execution_name": "x"})
    assert error is None
    _, a = steps.call("create-vpc", {"lab": lab, "side": "a"})
    _, b = steps.call("create-vpc", {"lab": lab, "side": "b"})
    assert a["cidr"] == "10.0.0.0/16" and b["private_ip"].startswith("10.1.1.")
    assert len(a["endpoint_ids"]) == 2 and b["endpoint_ids"] == []
    assert steps.call("create-vpc", {"lab": lab, "side": "a"}) == (None, a)  # a re-run finds the same side

    pair = {"lab": lab, "vpc_a": a, "vpc_b": b}
    error, control = steps.call("ping-test", dict(pair, expect="unreachable", phase="control"))
    assert error is None and control["reachable"] is False and control["passed"] and control["simulated"]

    error, requested = steps.call("request-peering", pair)
    assert error is None, requested
    pair["peering_id"] = requested["peering_id"]
    again = steps.call("request-peering", {"lab": lab, "vpc_a": a, "vpc_b": b})
    assert again[0] is None and again[1]["peering_id"] == pair["peering_id"], again
    _, accepted = steps.call("accept-peering", pair)
    assert accepted["status"] == "active"

    error, early = steps.call("ping-test", dict(pair, expect="reachable", phase="early"))
    assert error == "PingFailed"
    assert "Blocked at: route table rtb-" in early["errorMessage"]
    assert "of VPC A has no route to" in early["errorMessage"]

    _, routes = steps.call("add-routes", pair)
    assert sorted(r["action"] for r in routes["routes"]) == ["created", "created"]
    assert sorted(r["action"] for r in steps.call("add-routes", pair)[1]["routes"]) == ["existing", "existing"]
    _, group = steps.call("update-sg", pair)
    assert group["source"] == f"group {a['security_group_id']}" and len(group["instance_groups"]) == 2

    error, final = steps.call("ping-test", dict(pair, expect="reachable", phase="final"))
    assert error is None
    assert (final["reachable"], final["transmitted"], final["received"], final["loss_percent"]) == (True, 3, 3, 0.0)
    assert final["rtt_avg_ms"] > 0

    known = [a["vpc_id"], b["vpc_id"], a["instance_id"], b["instance_id"], pair["peering_id"],
             group["security_group_id"]]
    error, torn = steps.call("teardown", {"lab": lab, "known_ids": known})
    assert error is None and torn["remaining"] == []
    assert set(known) <= set(torn["deleted"])
    assert aws.get("/peerlab/resources")["resources"] == []
    assert steps.not_ready > 0  # the realistic profile made steps wait, and they said so instead of sleeping


def test_teardown_leaves_what_is_not_the_labs(lab_functions):
    aws = lab_functions
    steps = Steps(aws)
    ec2 = aws.client("ec2")
    other = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]  # same CIDR as the lab's A, no lab tag
    _, lab = steps.call("validate-input", {"input": {"lab_id": "flow-2"}, "execution_name": "x"})
    steps.call("create-vpc", {"lab": lab, "side": "b"})
    error, torn = steps.call("teardown", {"lab_id": "flow-2"})
    assert error is None and torn["remaining"] == []
    left = aws.get("/peerlab/resources")["resources"]
    assert [r["id"] for r in left if r["type"] == "vpc"] == [other]
