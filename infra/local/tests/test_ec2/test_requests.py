"""EC2 requests refused or answered as EC2 does where moto takes them (peerlab_local/ec2/requests.py; the table:
core/VALIDATION.md)."""

import boto3
import pytest
from botocore.exceptions import ClientError

from conftest import REGION, Lab
from peerlab_local.ec2.requests import _domain
from peerlab_local.tools import launch

UNCHECKED = boto3.session.Config(parameter_validation=False, retries={"max_attempts": 1, "mode": "standard"})


def error_of(call) -> tuple[str, str]:
    with pytest.raises(ClientError) as err:
        call()
    return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]


def test_describe_instances_max_results_with_instance_ids_or_below_five(aws):
    """DescribeInstances API reference, MaxResults: "You cannot specify this parameter and the instance IDs
    parameter in the same request" - EC2: InvalidParameterCombination, "The parameter instancesSet cannot be used
    with the parameter maxResults" (getmoto/moto#6282, yuuki/grabeni#7). Below 5: InvalidParameterValue, "Value
    ( 1 ) for parameter maxResults is invalid. Expecting a value greater than 5." (aws/aws-sdk-ruby#2575; the
    model gives this MaxResults no range). moto serves both."""
    ec2 = launch.LocalAws.client(aws, "ec2", UNCHECKED)
    assert error_of(lambda: ec2.describe_instances(InstanceIds=["i-0123456789abcdef0"], MaxResults=5)) == (
        "InvalidParameterCombination", "The parameter instancesSet cannot be used with the parameter maxResults")
    assert error_of(lambda: ec2.describe_instances(MaxResults=1)) == (
        "InvalidParameterValue", "Value ( 1 ) for parameter maxResults is invalid. Expecting a value greater than 5.")
    assert ec2.describe_instances(MaxResults=5)["Reservations"] == []  # filters with MaxResults: served


def test_revoking_several_rules_when_one_is_gone_revokes_none(aws):
    """RevokeSecurityGroupIngress API reference: "For a non-default VPC, if the values you specify do not match the
    existing rule's values, an InvalidPermission.NotFound client error is returned, and no rules are revoked."
    moto revoked the rules listed before the missing one."""
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(VpcId=vpc, GroupName="g", Description="g")["GroupId"]
    https = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}
    ssh = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}
    gone = {"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "IpRanges": [{"CidrIp": "10.1.0.0/16"}]}
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[https, ssh])
    ec2.authorize_security_group_egress(GroupId=group, IpPermissions=[https])

    def ports(direction: str) -> list[int]:
        found = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0][direction]
        return sorted(p.get("FromPort", 0) for p in found)

    code, _ = error_of(lambda: ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=[https, gone]))
    assert code == "InvalidPermission.NotFound"
    assert ports("IpPermissions") == [22, 443]  # none revoked
    code, _ = error_of(lambda: ec2.revoke_security_group_egress(GroupId=group, IpPermissions=[https, gone]))
    assert code == "InvalidPermission.NotFound"
    assert 443 in ports("IpPermissionsEgress")
    ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=[https, ssh])  # all there: all revoked
    assert ports("IpPermissions") == []


def test_an_endpoint_of_the_same_service_still_there_holds_the_private_dns_domain(start_local):
    """EC2 answers CreateVpcEndpoint (Interface, private DNS) for a service whose endpoint with private DNS is still
    in the VPC - `pending`, `available` or `deleting` - with InvalidParameter "private-dns-enabled cannot be set
    because there is already a conflicting DNS domain for ssm.us-east-1.amazonaws.com in the VPC vpc-..."
    (hashicorp/terraform-provider-aws#17535; during a deletion: ministryofjustice/modernisation-platform#13573).
    moto creates a second endpoint. Time scale 1: the first stays `pending` (90 s), then `deleting` (30 s)."""
    aws = start_local("--profile", "realistic", "--median-delays", "--consistency-window", "0")
    lab = Lab(aws).vpcs().endpoints(services=("ssm",))
    ec2 = lab.ec2
    service = f"com.amazonaws.{REGION}.ssm"

    def create(private_dns: bool = True, token: str | None = None):
        args = {"ClientToken": token} if token else {}
        return ec2.create_vpc_endpoint(VpcId=lab.vpc_a, ServiceName=service, VpcEndpointType="Interface",
                                       SubnetIds=[lab.subnet_a], PrivateDnsEnabled=private_dns, **args)

    expected = ("InvalidParameter", "private-dns-enabled cannot be set because there is already a conflicting DNS "
                f"domain for ssm.{REGION}.amazonaws.com in the VPC {lab.vpc_a}")
    assert error_of(create) == expected  # the first is pending
    ec2.delete_vpc_endpoints(VpcEndpointIds=lab.endpoint_ids)
    state = ec2.describe_vpc_endpoints(VpcEndpointIds=lab.endpoint_ids)["VpcEndpoints"][0]["State"]
    assert state.lower() == "deleting"
    assert error_of(create) == expected  # still deleting: its domain is still the VPC's
    assert create(private_dns=False)["VpcEndpoint"]["VpcEndpointId"]  # without private DNS: no conflict


def test_once_deleted_the_service_s_endpoint_can_be_created_again(aws):
    """The instant profile deletes at once: the domain is free again."""
    lab = Lab(aws).vpcs().endpoints(services=("ssm",))
    lab.ec2.delete_vpc_endpoints(VpcEndpointIds=lab.endpoint_ids)
    created = lab.api.create_vpc_endpoint(
        VpcId=lab.vpc_a, ServiceName=f"com.amazonaws.{REGION}.ssm", VpcEndpointType="Interface",
        SubnetIds=[lab.subnet_a], PrivateDnsEnabled=True)["VpcEndpoint"]
    assert created["VpcEndpointId"] not in lab.endpoint_ids


def test_the_domain_of_a_service_name():
    assert _domain("com.amazonaws.us-east-1.ssmmessages") == "ssmmessages.us-east-1.amazonaws.com"
    assert _domain("com.amazonaws.vpce.us-east-1.vpce-svc-0123") == "com.amazonaws.vpce.us-east-1.vpce-svc-0123"
