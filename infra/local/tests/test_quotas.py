"""Service quotas as AWS applies them (quotas.py): CreateVpc past VPCs per Region is VpcLimitExceeded, the default
VPC counting; Service Quotas gives AWS's default, and an applied value only where one was set (--quota)."""

import boto3
import pytest
from botocore.exceptions import ClientError

VPCS = {"ServiceCode": "vpc", "QuotaCode": "L-F678F1CE"}
ENDPOINTS = {"ServiceCode": "vpc", "QuotaCode": "L-29B6F2EB"}
VCPUS = {"ServiceCode": "ec2", "QuotaCode": "L-1216C47A"}


def vpcs_until_refused(ec2, at_most: int = 30) -> list[str]:
    made = []
    for n in range(at_most):
        try:
            made.append(ec2.create_vpc(CidrBlock=f"10.{n}.0.0/16")["Vpc"]["VpcId"])
        except ClientError as err:
            assert err.response["Error"]["Code"] == "VpcLimitExceeded"
            assert err.response["Error"]["Message"] == "The maximum number of VPCs has been reached."
            return made
    raise AssertionError(f"{at_most} VPCs and no VpcLimitExceeded")


def test_five_vpcs_per_region_the_default_one_counting(aws):
    ec2 = aws.client("ec2")
    defaults = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    assert len(defaults) == 1
    assert len(vpcs_until_refused(ec2)) == 4
    # a deleted VPC frees its place; another region has a quota of its own
    first = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["false"]}])["Vpcs"][0]["VpcId"]
    ec2.delete_vpc(VpcId=first)
    ec2.create_vpc(CidrBlock="10.50.0.0/16")
    west = boto3.client("ec2", endpoint_url=aws.url, region_name="us-west-2", aws_access_key_id="test",
                        aws_secret_access_key="test")
    assert len(vpcs_until_refused(west)) == 4


def test_an_applied_value_raises_the_quota_and_service_quotas_says_so(start_local):
    aws = start_local("--quota", "vpc/L-F678F1CE=8")
    assert len(vpcs_until_refused(aws.client("ec2"))) == 7
    quotas = aws.client("service-quotas")
    applied = quotas.get_service_quota(**VPCS)["Quota"]
    assert (applied["QuotaName"], applied["Value"]) == ("VPCs per Region", 8.0)
    assert applied["QuotaArn"] == "arn:aws:servicequotas:us-east-1:123456789012:vpc/L-F678F1CE"
    assert quotas.get_aws_default_service_quota(**VPCS)["Quota"]["Value"] == 5.0


def test_without_an_applied_value_only_the_default_is_known(aws):
    quotas = aws.client("service-quotas")
    with pytest.raises(ClientError) as err:
        quotas.get_service_quota(**VPCS)
    assert err.value.response["Error"]["Code"] == "NoSuchResourceException"
    assert quotas.get_aws_default_service_quota(**VPCS)["Quota"]["Value"] == 5.0


@pytest.mark.parametrize(("quota", "name", "service", "default"), [
    (ENDPOINTS, "Interface VPC endpoints per VPC", "Amazon Virtual Private Cloud (Amazon VPC)", 50.0),
    (VCPUS, "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances",
     "Amazon Elastic Compute Cloud (Amazon EC2)", 5.0),
])
def test_the_endpoint_and_vcpu_quotas_have_aws_defaults_and_no_applied_value(aws, quota, name, service, default):
    quotas = aws.client("service-quotas")
    got = quotas.get_aws_default_service_quota(**quota)["Quota"]
    assert (got["QuotaName"], got["ServiceName"], got["Value"]) == (name, service, default)
    arn = f"arn:aws:servicequotas:us-east-1:123456789012:{quota['ServiceCode']}/{quota['QuotaCode']}"
    assert got["QuotaArn"] == arn
    with pytest.raises(ClientError) as err:
        quotas.get_service_quota(**quota)
    assert err.value.response["Error"]["Code"] == "NoSuchResourceException"


def test_quota_applies_values_to_the_endpoint_and_vcpu_quotas(start_local):
    aws = start_local("--quota", "vpc/L-29B6F2EB=3", "--quota", "ec2/L-1216C47A=64")
    quotas = aws.client("service-quotas")
    assert quotas.get_service_quota(**ENDPOINTS)["Quota"]["Value"] == 3.0
    assert quotas.get_service_quota(**VCPUS)["Quota"]["Value"] == 64.0
    assert quotas.get_aws_default_service_quota(**VCPUS)["Quota"]["Value"] == 5.0
    with pytest.raises(ClientError) as err:  # still none for the quota no --quota set
        quotas.get_service_quota(**VPCS)
    assert err.value.response["Error"]["Code"] == "NoSuchResourceException"
