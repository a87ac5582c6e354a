"""Register peerlab on a running local AWS: the instance role and profile instance A uses, the eight functions
(run from --lambda-dir by the local AWS), and the state machines (the lab's, and the backstop's that tears down
after executions that ended without their Catch) with their `${...FunctionArn}` substitutions - what
infra/template.yaml does on AWS, including the EventBridge rule that starts the backstop when a lab execution
ends FAILED, TIMED_OUT or ABORTED (the local AWS sends Step Functions' status-change events: events.py)."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[3]
ASL = ROOT / "statemachine" / "peering-lab.asl.json"
BACKSTOP_ASL = ROOT / "statemachine" / "backstop.asl.json"
STEPS = ["validate-input", "create-vpc", "request-peering", "accept-peering", "add-routes", "update-sg",
         "ping-test", "teardown"]
INSTANCE_PROFILE = "peerlab-instance"
STATE_MACHINE = "peerlab-peering-lab"
BACKSTOP = "peerlab-backstop"
BACKSTOP_RULE = "peerlab-lab-ended"


def backstop_pattern(state_machine_arn: str) -> dict:
    """The rule's event pattern: infra/template.yaml's BackstopStateMachine LabEnded event (a test keeps them equal)."""
    return {"source": ["aws.states"], "detail-type": ["Step Functions Execution Status Change"],
            "detail": {"status": ["FAILED", "TIMED_OUT", "ABORTED"], "stateMachineArn": [state_machine_arn]}}


def trust(service: str) -> str:
    """A role trust policy for an AWS service principal."""
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": f"{service}.amazonaws.com"}}]})


def substitution_name(step: str) -> str:
    """create-vpc -> CreateVpcFunctionArn, the ASL's placeholder for that function."""
    return "".join(part.capitalize() for part in step.split("-")) + "FunctionArn"


def definition(arns: dict[str, str], asl: Path = ASL) -> str:
    text = asl.read_text()
    placeholders = set(re.findall(r"\$\{(\w+)\}", text))
    missing = placeholders - set(arns)
    if missing:
        raise ValueError(f"{asl.name} uses substitutions nobody provides: {sorted(missing)}")
    return re.sub(r"\$\{(\w+)\}", lambda m: arns[m.group(1)], text)


def clients(url: str, region: str = "us-east-1"):
    kw = dict(endpoint_url=url, region_name=region, aws_access_key_id="test", aws_secret_access_key="test")
    return {name: boto3.client(name, **kw) for name in ("iam", "lambda", "stepfunctions", "events")}


def deploy(url: str, timeout: int = 60) -> str:
    """Create everything (once per local AWS); returns the lab state machine's ARN."""
    c = clients(url)
    iam, lam, sfn = c["iam"], c["lambda"], c["stepfunctions"]
    iam.create_role(RoleName="peerlab-instance", AssumeRolePolicyDocument=trust("ec2"))
    iam.attach_role_policy(RoleName="peerlab-instance",
                           PolicyArn="arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore")
    iam.create_instance_profile(InstanceProfileName=INSTANCE_PROFILE)
    iam.add_role_to_instance_profile(InstanceProfileName=INSTANCE_PROFILE, RoleName="peerlab-instance")
    role = iam.create_role(RoleName="peerlab-functions", AssumeRolePolicyDocument=trust("lambda"))["Role"]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("README", "no bootstrap: the local AWS runs <lambda-dir>/<Handler>")
    arns = {}
    for step in STEPS:
        arns[substitution_name(step)] = lam.create_function(
            FunctionName=step, Runtime="provided.al2023", Role=role, Handler=step, Timeout=timeout,
            MemorySize=128, Code={"ZipFile": archive.getvalue()},
            Environment={"Variables": {"PEERLAB_INSTANCE_PROFILE": INSTANCE_PROFILE}})["FunctionArn"]
    sfn_role = iam.create_role(RoleName="peerlab-state-machine", AssumeRolePolicyDocument=trust("states"))["Role"]["Arn"]
    backstop = sfn.create_state_machine(name=BACKSTOP, definition=definition(arns, BACKSTOP_ASL),
                                        roleArn=sfn_role)["stateMachineArn"]
    machine = sfn.create_state_machine(name=STATE_MACHINE, definition=definition(arns),
                                       roleArn=sfn_role)["stateMachineArn"]
    events_role = iam.create_role(RoleName="peerlab-backstop-rule", AssumeRolePolicyDocument=trust("events"))
    c["events"].put_rule(Name=BACKSTOP_RULE, EventPattern=json.dumps(backstop_pattern(machine)))
    c["events"].put_targets(Rule=BACKSTOP_RULE, Targets=[{"Id": "backstop", "Arn": backstop,
                                                           "RoleArn": events_role["Role"]["Arn"]}])
    return machine


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 2:
        sys.exit("usage: python -m peerlab_local.deploy http://127.0.0.1:PORT  (prints the state machine ARN)")
    print(deploy(sys.argv[1]))
