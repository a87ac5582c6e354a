"""All eight step functions, invoked one by one through Lambda on the local AWS, build the tutorial's lab, prove
the ping (control unreachable, final reachable), explain an early failure, and leave nothing behind."""

import json
import os
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from conftest import NOT_FOUND, function_zip, wait_for

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


def visible(call):
    """call()'s answer, or None while EC2 does not list the new instance yet (eventual consistency)."""
    try:
        return call()
    except ClientError as e:
        if e.response["Error"]["Code"] in NOT_FOUND:
            return None
        raise


def test_validate_input_takes_only_an_amazon_image_of_the_right_architecture(lab_functions):
    # The local EC2 answers DescribeImages as AWS does (moto: its images are Amazon's, ImageOwnerAlias "amazon";
    # an account's own image has none; an unknown id is InvalidAMIID.NotFound). Nothing is created by any refusal.
    aws = lab_functions
    steps = Steps(aws)
    ec2, ssm = aws.client("ec2"), aws.client("ssm")
    x86 = ssm.get_parameter(Name="/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")[
        "Parameter"]["Value"]
    arm = ssm.get_parameter(Name="/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64")[
        "Parameter"]["Value"]
    vpcs = len(ec2.describe_vpcs()["Vpcs"])
    error, lab = steps.call("validate-input", {"input": {"lab_id": "ami-1", "ami": x86}, "execution_name": "x"})
    assert error is None and lab["ami"] == x86, lab
    # an image of the account's own (as a community image is: not Amazon's)
    subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    instance = ec2.run_instances(ImageId=x86, MinCount=1, MaxCount=1, SubnetId=subnet)["Instances"][0]["InstanceId"]
    own = wait_for(lambda: visible(lambda: ec2.create_image(InstanceId=instance, Name="own")["ImageId"]), timeout=30)
    wait_for(lambda: visible(lambda: ec2.terminate_instances(InstanceIds=[instance])), timeout=30)
    cases = {own: "is owned by 123456789012, not Amazon",
             arm: "is an arm64 image, but instance_type t3.micro runs x86_64",
             "ami-0123456789abcdef0": "is no image this account can launch in us-east-1"}
    for ami, says in cases.items():
        error, body = steps.call("validate-input", {"input": {"lab_id": "ami-2", "ami": ami}, "execution_name": "x"})
        assert error == "InvalidInput", body
        assert body["errorMessage"].startswith(f"ami: {ami} ") and says in body["errorMessage"], body
    assert len(ec2.describe_vpcs()["Vpcs"]) == vpcs
