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


# ---- Running On-Demand Standard vCPUs (ec2/L-1216C47A) -----------------------------------------------------------

VCPU_MESSAGE = ("You have requested more vCPU capacity than your current vCPU limit of {} allows for the instance "
                "bucket that the specified instance type belongs to. Please visit "
                "http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit.")
PEER = "222222222222"


def launch(ec2, instance_type: str = "t3.micro", count: int = 1) -> list[str]:
    reservation = ec2.run_instances(ImageId="ami-12345678", MinCount=count, MaxCount=count, InstanceType=instance_type)
    return [i["InstanceId"] for i in reservation["Instances"]]


def refused_vcpus(ec2, instance_type: str = "t3.micro", count: int = 1) -> str:
    with pytest.raises(ClientError) as err:
        launch(ec2, instance_type, count)
    assert err.value.response["Error"]["Code"] == "VcpuLimitExceeded"
    return err.value.response["Error"]["Message"]


def live_instances(ec2) -> int:
    states = ["pending", "running", "shutting-down", "stopping", "stopped"]
    found = ec2.describe_instances(Filters=[{"Name": "instance-state-name", "Values": states}])["Reservations"]
    return sum(len(r["Instances"]) for r in found)


def other_account_client(aws, service: str):
    creds = aws.client("sts").assume_role(RoleArn=f"arn:aws:iam::{PEER}:role/OrganizationAccountAccessRole",
                                          RoleSessionName="quotas")["Credentials"]
    return boto3.client(service, endpoint_url=aws.url, region_name="us-east-1",
                        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds["SessionToken"])


def test_five_standard_vcpus_by_default_counted_per_account_and_region(aws):
    ec2 = aws.client("ec2")
    launch(ec2, "t3.micro", 2)  # 2 x 2 vCPUs (DescribeInstanceTypes: t3.micro DefaultVCpus 2), pending counting
    assert refused_vcpus(ec2) == VCPU_MESSAGE.format(5)  # 4 + 2 > 5
    assert refused_vcpus(ec2, "m5.large") == VCPU_MESSAGE.format(5)  # another standard family, the same bucket
    assert live_instances(ec2) == 2, "a refused RunInstances launches nothing"
    (small,) = launch(ec2, "t2.micro")  # 1 vCPU: 5 of 5
    assert refused_vcpus(ec2, "t2.nano") == VCPU_MESSAGE.format(5)
    # a Spot instance is not On-Demand: not refused by this quota, nor counted in it (Spot quotas are not modelled)
    ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType="t3.micro",
                      InstanceMarketOptions={"MarketType": "spot"})
    ec2.terminate_instances(InstanceIds=[small])
    launch(ec2, "t2.micro")  # 4 + 1 On-Demand; the Spot instance's 2 vCPUs do not count
    # another region and another account have buckets of their own
    west = boto3.client("ec2", endpoint_url=aws.url, region_name="us-west-2", aws_access_key_id="test",
                        aws_secret_access_key="test")
    launch(west, "t3.micro", 2)
    assert refused_vcpus(west) == VCPU_MESSAGE.format(5)
    assert other_account_client(aws, "sts").get_caller_identity()["Account"] == PEER
    peer = other_account_client(aws, "ec2")
    launch(peer, "t3.micro", 2)
    assert refused_vcpus(peer) == VCPU_MESSAGE.format(5)


def test_a_request_past_the_quota_launches_none_of_its_instances_and_terminating_frees_vcpus(aws):
    ec2 = aws.client("ec2")
    assert refused_vcpus(ec2, "t3.micro", 3) == VCPU_MESSAGE.format(5)  # 6 > 5: not even two of the three
    assert live_instances(ec2) == 0
    first, _ = launch(ec2, "t3.micro", 2)
    refused_vcpus(ec2)
    ec2.terminate_instances(InstanceIds=[first])
    launch(ec2)  # a terminated (or shutting-down) instance no longer counts


def test_quota_raises_and_lowers_the_vcpu_quota(start_local):
    raised = start_local("--quota", "ec2/L-1216C47A=8").client("ec2")
    launch(raised, "t3.micro", 4)
    assert refused_vcpus(raised, "t2.nano") == VCPU_MESSAGE.format(8)
    lowered = start_local("--quota", "ec2/L-1216C47A=1").client("ec2")
    assert refused_vcpus(lowered) == VCPU_MESSAGE.format(1)
    launch(lowered, "t2.micro")  # 1 vCPU fits a quota of 1


# ---- Interface VPC endpoints per VPC (vpc/L-29B6F2EB) ------------------------------------------------------------

ENDPOINT_MESSAGE = "The maximum number of VPC endpoints has been reached."


def endpoint(ec2, vpc_id: str, service: str = "ssm", kind: str = "Interface") -> str:
    # without private DNS: EC2 refuses a second interface endpoint of a service with private DNS (the default) in
    # a VPC, "conflicting DNS domain" (ec2/requests.py); without it, many endpoints of one service are allowed
    dns = {"PrivateDnsEnabled": False} if kind == "Interface" else {}
    return ec2.create_vpc_endpoint(VpcId=vpc_id, ServiceName=f"com.amazonaws.us-east-1.{service}",
                                   VpcEndpointType=kind, **dns)["VpcEndpoint"]["VpcEndpointId"]


def refused_endpoint(ec2, vpc_id: str, service: str = "ssm") -> None:
    with pytest.raises(ClientError) as err:
        endpoint(ec2, vpc_id, service)
    assert err.value.response["Error"]["Code"] == "VpcEndpointLimitExceeded"
    assert err.value.response["Error"]["Message"] == ENDPOINT_MESSAGE


def endpoints_in(ec2, vpc_id: str) -> int:
    found = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["VpcEndpoints"]
    return sum(1 for e in found if e["State"] not in ("deleted",))


def test_fifty_interface_endpoints_per_vpc_by_default(aws):
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    for _ in range(50):
        endpoint(ec2, vpc)
    refused_endpoint(ec2, vpc)
    assert endpoints_in(ec2, vpc) == 50, "nothing created when refused"


def test_quota_sets_the_endpoint_quota_per_vpc_gateway_endpoints_not_counting(start_local):
    aws = start_local("--quota", "vpc/L-29B6F2EB=2")
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    first = endpoint(ec2, vpc, "ssm")
    endpoint(ec2, vpc, "ssmmessages")
    refused_endpoint(ec2, vpc, "ec2messages")
    assert endpoints_in(ec2, vpc) == 2
    endpoint(ec2, vpc, "s3", kind="Gateway")  # a gateway endpoint has a quota of its own (per Region)
    other = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    endpoint(ec2, other)  # another VPC, its own count
    endpoint(ec2, other)
    refused_endpoint(ec2, other)
    ec2.delete_vpc_endpoints(VpcEndpointIds=[first])
    endpoint(ec2, vpc, "ec2messages")  # a deleted endpoint frees its place
