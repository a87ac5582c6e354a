"""Fixtures: a local AWS started from the project's own launcher on a free port, and boto3 clients for it."""

from __future__ import annotations

import io
import json
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import boto3
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # infra/local: the launcher's own package
from peerlab_local.tools import launch  # noqa: E402
from peerlab_local.tools.launch import START  # noqa: E402,F401  (test_start runs it directly)

REGION = "us-east-1"
# For a test that makes more VPCs than AWS's default quota allows (5 per Region, the default VPC counting:
# peerlab_local/ec2/quotas.py), the quota raised as an account can have it
MANY_VPCS = ("--quota", "vpc/L-F678F1CE=200")
# For a test that runs more instances at once than AWS's default running On-Demand standard vCPU quota allows (5:
# one Lab's two t3.micro are 4; peerlab_local/ec2/quotas.py), the quota raised as an account can have it
MANY_VCPUS = ("--quota", "ec2/L-1216C47A=64")


class LocalAws(launch.LocalAws):
    def client(self, service: str, config=None):
        # the retry setting the tests were written against (standard mode, max_attempts 1)
        return super().client(service, config=boto3.session.Config(retries={"max_attempts": 1, "mode": "standard"}))


@pytest.fixture
def start_local():
    started: list[LocalAws] = []

    def start(*args: str, **kwargs) -> LocalAws:
        aws = LocalAws(*args, **kwargs)
        started.append(aws)
        return aws

    yield start
    for aws in started:
        aws.stop()


@pytest.fixture
def aws(start_local) -> LocalAws:
    return start_local()


def policy(*statements: dict) -> str:
    """An IAM policy document of these statements (Version 2012-10-17), as the IAM API takes it."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def trust(service: str) -> str:
    """A role trust policy letting an AWS service assume the role (e.g. "lambda.amazonaws.com")."""
    return policy({"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"})


def function_zip(bootstrap: str | None = None) -> bytes:
    """A Lambda deployment package: with an executable `bootstrap` (a custom runtime, e.g. a shell script speaking
    the Runtime API), or without one, so that the local AWS runs `--lambda-dir/<Handler>` (the built steps)."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        if bootstrap is None:
            z.writestr("README", "no bootstrap: the local AWS runs --lambda-dir/<Handler>")
        else:
            info = zipfile.ZipInfo("bootstrap")
            info.external_attr = 0o755 << 16
            z.writestr(info, bootstrap)
    return archive.getvalue()


def python_runtime(service: str, handle: str) -> str:
    """A `bootstrap` in Python speaking the Lambda Runtime API (function_zip's custom runtime): for each event,
    `handle` runs with `event` (the JSON payload) and `client` (boto3's for `service`, on the local AWS, with the
    function's credentials) and sets `answer`, which is the invocation's JSON response."""
    body = textwrap.indent(textwrap.dedent(handle).strip(), "    ")
    return f"""#!{sys.executable}
import json, os, time, urllib.request
import boto3
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation"
client = boto3.client("{service}", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"])
while True:
    with urllib.request.urlopen(api + "/next") as r:
        request_id, event = r.headers["Lambda-Runtime-Aws-Request-Id"], json.loads(r.read() or b"{{}}")
{body}
    urllib.request.urlopen(urllib.request.Request(api + "/" + request_id + "/response",
                                                  data=json.dumps(answer).encode(), method="POST")).read()
"""


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05):
    """Poll until predicate() is truthy; returns its value (tests of timed states)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


# What EC2 answers for an id that has not propagated yet (eventual consistency; peerlab_local/ec2/consistency.py).
NOT_FOUND = {"InvalidVpcID.NotFound", "InvalidSubnetID.NotFound", "InvalidGroup.NotFound",
             "InvalidRouteTableID.NotFound", "InvalidNetworkAclID.NotFound", "InvalidVpcEndpointId.NotFound",
             "InvalidInstanceID.NotFound", "InvalidVpcPeeringConnectionID.NotFound"}


class Patient:
    """An EC2 client that retries a call answered Invalid...ID.NotFound with backoff (0.05 s doubling to 1 s, for up
    to `timeout` s), as AWS's "Eventual consistency" guide tells clients to: a refused call changed nothing."""

    def __init__(self, client, timeout: float = 30.0):
        self._client, self._timeout = client, timeout

    def __getattr__(self, name):
        method = getattr(self._client, name)
        if not callable(method):
            return method

        def call(*args, **kwargs):
            deadline, pause = time.monotonic() + self._timeout, 0.05
            while True:
                try:
                    return method(*args, **kwargs)
                except self._client.exceptions.ClientError as err:
                    if err.response["Error"]["Code"] not in NOT_FOUND or time.monotonic() > deadline:
                        raise
                time.sleep(pause)
                pause = min(pause * 2, 1.0)

        return call


class Lab:
    """The tutorial's two VPCs built with plain boto3 calls, step by step, for the local AWS's own tests."""

    def __init__(self, aws: LocalAws):
        self.aws = aws
        self.ec2 = aws.client("ec2")  # answers what AWS answers, NotFound included (tests observe it)
        self.api = Patient(self.ec2)  # what the builders below use: retries NotFound, as an AWS client must
        self.ssm = aws.client("ssm")
        self.iam = aws.client("iam")

    def vpcs(self):
        self.vpc_a = self.api.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        self.vpc_b = self.api.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
        zone = self.zone()
        self.subnet_a = self.api.create_subnet(VpcId=self.vpc_a, CidrBlock="10.0.1.0/24",
                                               AvailabilityZone=zone)["Subnet"]["SubnetId"]
        self.subnet_b = self.api.create_subnet(VpcId=self.vpc_b, CidrBlock="10.1.1.0/24",
                                               AvailabilityZone=zone)["Subnet"]["SubnetId"]
        self.sg_a = self.api.create_security_group(VpcId=self.vpc_a, GroupName="InstanceA",
                                                   Description="A")["GroupId"]
        self.sg_b0 = self.api.create_security_group(VpcId=self.vpc_b, GroupName="InstanceB0",
                                                    Description="B")["GroupId"]
        return self

    def zone(self, instance_type: str = "t3.micro") -> str:
        """An AZ that offers the type, chosen as a client must on AWS: not every AZ offers every type."""
        offerings = self.ec2.describe_instance_type_offerings(LocationType="availability-zone", Filters=[
            {"Name": "instance-type", "Values": [instance_type]}])["InstanceTypeOfferings"]
        return sorted(o["Location"] for o in offerings)[0]

    def profile(self, with_policy: bool = True):
        self.iam.create_role(RoleName="lab", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17",
                             "Statement": []}))
        if with_policy:
            self.iam.attach_role_policy(RoleName="lab",
                                        PolicyArn="arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore")
        self.iam.create_instance_profile(InstanceProfileName="lab")
        self.iam.add_role_to_instance_profile(InstanceProfileName="lab", RoleName="lab")
        return self

    def endpoints(self, services=("ssm", "ssmmessages"), private_dns=True, https_open=True):
        for attr in ("EnableDnsSupport", "EnableDnsHostnames"):
            self.api.modify_vpc_attribute(VpcId=self.vpc_a, **{attr: {"Value": True}})
        self.sg_endpoint = self.api.create_security_group(VpcId=self.vpc_a, GroupName="endpoints",
                                                          Description="HTTPS from the VPC")["GroupId"]
        if https_open:
            self.api.authorize_security_group_ingress(GroupId=self.sg_endpoint, IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}])
        self.endpoint_ids = []
        for service in services:
            self.endpoint_ids.append(self.api.create_vpc_endpoint(
                VpcId=self.vpc_a, ServiceName=f"com.amazonaws.{REGION}.{service}", VpcEndpointType="Interface",
                SubnetIds=[self.subnet_a], SecurityGroupIds=[self.sg_endpoint],
                PrivateDnsEnabled=private_dns)["VpcEndpoint"]["VpcEndpointId"])
        return self

    def wait_endpoints(self, timeout: float = 60.0):
        """Wait until the interface endpoints are available, as a client must before launching what needs them."""
        def available():
            found = self.api.describe_vpc_endpoints(VpcEndpointIds=self.endpoint_ids)["VpcEndpoints"]
            return {e["State"].lower() for e in found} == {"available"}

        wait_for(available, timeout=timeout, interval=0.05)
        return self

    def instances(self, profile: bool = True):
        kwargs = {"IamInstanceProfile": {"Name": "lab"}} if profile else {}

        def launch_a():
            """Retry while EC2 does not see the new instance profile yet (IAM eventual consistency), as AWS
            clients do (the Terraform AWS provider retries these messages)."""
            try:
                return self.api.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType="t3.micro",
                                              SubnetId=self.subnet_a, SecurityGroupIds=[self.sg_a],
                                              **kwargs)["Instances"][0]
            except self.ec2.exceptions.ClientError as err:
                message = err.response["Error"].get("Message", "")
                if err.response["Error"]["Code"] == "InvalidParameterValue" and (
                        "Invalid IAM Instance Profile" in message or "has no associated IAM Roles" in message):
                    return None
                raise

        a = wait_for(launch_a, timeout=30, interval=0.05)
        b = self.api.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType="t3.micro",
                                   SubnetId=self.subnet_b, SecurityGroupIds=[self.sg_b0])["Instances"][0]
        self.instance_a, self.ip_a = a["InstanceId"], a["PrivateIpAddress"]
        self.instance_b, self.ip_b = b["InstanceId"], b["PrivateIpAddress"]
        return self

    def peering(self, accept: bool = True):
        self.pcx = self.api.create_vpc_peering_connection(VpcId=self.vpc_a, PeerVpcId=self.vpc_b)[
            "VpcPeeringConnection"]["VpcPeeringConnectionId"]
        if accept:
            self.accept()
        return self

    def accept(self):
        """Accept as a client must on AWS: a new peering can be NotFound, then initiating, for a moment."""
        def accepted():
            try:
                self.api.accept_vpc_peering_connection(VpcPeeringConnectionId=self.pcx)
                return True
            except self.ec2.exceptions.ClientError as err:
                if err.response["Error"]["Code"] in ("InvalidVpcPeeringConnectionID.NotFound",
                                                     "InvalidStateTransition"):
                    return False
                raise

        wait_for(accepted)

    def main_table(self, vpc: str) -> str:
        def main():  # born with its VPC: not listed until the VPC has propagated
            return self.api.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                           {"Name": "association.main", "Values": ["true"]}])[
                "RouteTables"]

        return wait_for(main, timeout=30)[0]["RouteTableId"]

    def routes(self, a_to_b: bool = True, b_to_a: bool = True):
        if a_to_b:
            self.api.create_route(RouteTableId=self.main_table(self.vpc_a), DestinationCidrBlock="10.1.0.0/16",
                                  VpcPeeringConnectionId=self.pcx)
        if b_to_a:
            self.api.create_route(RouteTableId=self.main_table(self.vpc_b), DestinationCidrBlock="10.0.0.0/16",
                                  VpcPeeringConnectionId=self.pcx)
        return self

    def open_b(self, protocol: str = "-1"):
        """The tutorial's step: group InstanceB admits A's group, attached to instance B."""
        self.sg_b = self.api.create_security_group(VpcId=self.vpc_b, GroupName="InstanceB",
                                                   Description="from A")["GroupId"]
        perm: dict[str, object] = {"IpProtocol": protocol, "UserIdGroupPairs": [{"GroupId": self.sg_a}]}
        if protocol == "icmp":
            perm.update(FromPort=-1, ToPort=-1)
        self.api.authorize_security_group_ingress(GroupId=self.sg_b, IpPermissions=[perm])
        self.api.modify_instance_attribute(InstanceId=self.instance_b, Groups=[self.sg_b0, self.sg_b])
        return self

    def ping(self, target: str | None = None, command: str | None = None) -> dict:
        command = command or f"ping -c 3 -W 2 {target or self.ip_b}"
        sent = self.ssm.send_command(InstanceIds=[self.instance_a], DocumentName="AWS-RunShellScript",
                                     Parameters={"commands": [command]})["Command"]

        def finished():
            try:
                result = self.ssm.get_command_invocation(CommandId=sent["CommandId"], InstanceId=self.instance_a)
            except self.ssm.exceptions.InvocationDoesNotExist:
                return None
            return result if result["Status"] not in ("Pending", "InProgress") else None

        return wait_for(finished)

    def online(self) -> list[str]:
        return [i["InstanceId"] for i in self.ssm.describe_instance_information()["InstanceInformationList"]]
