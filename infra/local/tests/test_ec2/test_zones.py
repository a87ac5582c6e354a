"""Availability Zones and offerings as in us-east-1: six zones with ids, t3 absent from use1-az3, RunInstances there
refused, a subnet without an AZ put where AWS (here: the seed) picks, endpoint subnets one per served zone."""

import boto3
import pytest
from botocore.exceptions import ClientError

from conftest import REGION

US_EAST_1 = {"us-east-1a": "use1-az6", "us-east-1b": "use1-az1", "us-east-1c": "use1-az2",
             "us-east-1d": "use1-az4", "us-east-1e": "use1-az3", "us-east-1f": "use1-az5"}
T3_MESSAGE = ("Your requested instance type (t3.micro) is not supported in your requested Availability Zone "
              "(us-east-1e). Please retry your request by not specifying an Availability Zone or choosing us-east-1a, "
              "us-east-1b, us-east-1c, us-east-1d, us-east-1f.")


def error(call, **kwargs):
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def run(ec2, instance_type="t3.micro", **kwargs):
    return ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType=instance_type,
                             **kwargs)["Instances"][0]


def test_us_east_1_has_six_zones_with_ids_and_the_fields_aws_returns(aws):
    zones = aws.client("ec2").describe_availability_zones()["AvailabilityZones"]
    assert {z["ZoneName"]: z["ZoneId"] for z in zones} == US_EAST_1
    for zone in zones:
        assert (zone["State"], zone["ZoneType"], zone["RegionName"], zone["OptInStatus"], zone["NetworkBorderGroup"],
                zone["GroupName"]) == ("available", "availability-zone", REGION, "opt-in-not-required", REGION,
                                       "us-east-1-zg-1")
    west = boto3.client("ec2", endpoint_url=aws.url, region_name="us-west-2", aws_access_key_id="test",
                        aws_secret_access_key="test").describe_availability_zones()["AvailabilityZones"]
    assert sorted(z["ZoneId"] for z in west) == ["usw2-az1", "usw2-az2", "usw2-az3", "usw2-az4"]
    assert {z["OptInStatus"] for z in west} == {"opt-in-not-required"}


def test_offerings_leave_t3_micro_out_of_use1_az3_by_name_and_by_id(aws):
    ec2 = aws.client("ec2")

    def locations(location_type, **filters):
        found = ec2.describe_instance_type_offerings(
            LocationType=location_type,
            Filters=[{"Name": k.replace("_", "-"), "Values": v} for k, v in filters.items()])
        return found["InstanceTypeOfferings"]

    by_id = sorted(o["Location"] for o in locations("availability-zone-id", instance_type=["t3.micro"]))
    assert by_id == ["use1-az1", "use1-az2", "use1-az4", "use1-az5", "use1-az6"]
    by_name = sorted(o["Location"] for o in locations("availability-zone", instance_type=["t3.micro"]))
    assert by_name == ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d", "us-east-1f"]
    assert [o["Location"] for o in locations("region", instance_type=["t3.micro"])] == [REGION]
    in_e = {o["InstanceType"] for o in locations("availability-zone", location=["us-east-1e"])}
    assert "t2.micro" in in_e and not {t for t in in_e if t.startswith(("t3.", "t3a.", "t4g."))}
    # the two views agree zone by zone through the account's name -> id mapping
    names = {(o["InstanceType"], US_EAST_1[o["Location"]]) for o in locations("availability-zone")}
    ids = {(o["InstanceType"], o["Location"]) for o in locations("availability-zone-id")}
    assert names == ids


def test_run_instances_into_use1_az3_is_unsupported_with_aws_message(start_local):
    # the rule is not a delay: any profile (no consistency window: this test is about zones, not visibility)
    aws = start_local("--profile", "realistic", "--time-scale", "0.01", "--consistency-window", "0")
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    made = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZoneId="use1-az3")["Subnet"]
    assert (made["AvailabilityZone"], made["AvailabilityZoneId"]) == ("us-east-1e", "use1-az3")
    assert error(run, ec2=ec2, SubnetId=made["SubnetId"]) == ("Unsupported", T3_MESSAGE)
    assert error(run, ec2=ec2, Placement={"AvailabilityZone": "us-east-1e"}) == ("Unsupported", T3_MESSAGE)
    assert run(ec2, "t2.micro", SubnetId=made["SubnetId"])["Placement"]["AvailabilityZone"] == "us-east-1e"
    other = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.2.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    assert run(ec2, SubnetId=other)["Placement"]["AvailabilityZone"] == "us-east-1a"


def test_run_instances_without_a_zone_lands_where_the_type_is_offered(aws):
    ec2 = aws.client("ec2")
    offered: dict[str, set[str]] = {}
    for o in ec2.describe_instance_type_offerings(LocationType="availability-zone")["InstanceTypeOfferings"]:
        offered.setdefault(o["InstanceType"], set()).add(o["Location"])
    # a type us-east-1a lacks: moto put every zone-less launch in <region>a
    instance_type = sorted(t for t, where in offered.items() if "us-east-1a" not in where)[0]
    placed = run(ec2, instance_type)["Placement"]["AvailabilityZone"]
    assert placed in offered[instance_type]


def test_create_subnet_takes_zone_ids_and_refuses_zones_of_other_regions(aws):
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZoneId="use1-az1")["Subnet"]
    assert subnet["AvailabilityZone"] == "us-east-1b"
    found = ec2.describe_subnets(Filters=[{"Name": "availability-zone", "Values": ["us-east-1b"]},
                                          {"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    assert [s["SubnetId"] for s in found] == [subnet["SubnetId"]]
    code, message = error(ec2.create_subnet, VpcId=vpc, CidrBlock="10.0.2.0/24", AvailabilityZone="us-west-2a")
    assert code == "InvalidParameterValue"
    assert message == ("Value (us-west-2a) for parameter availabilityZone is invalid. Subnets can currently only be "
                       "created in the following availability zones: us-east-1a, us-east-1b, us-east-1c, us-east-1d, "
                       "us-east-1e, us-east-1f.")
    assert error(ec2.create_subnet, VpcId=vpc, CidrBlock="10.0.2.0/24",
                 AvailabilityZoneId="usw2-az1")[0] == "InvalidParameterValue"


def _picks(aws, count=24):
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    return [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24")["Subnet"] for i in range(count)]


def test_subnet_without_a_zone_goes_where_the_seed_says_and_sometimes_to_use1_az3(start_local):
    first = _picks(start_local("--seed", "5"))
    again = _picks(start_local("--seed", "5"))
    other_aws = start_local("--seed", "6")
    other = _picks(other_aws)
    zones = [s["AvailabilityZone"] for s in first]
    assert zones == [s["AvailabilityZone"] for s in again]  # same seed, same picks
    assert zones != [s["AvailabilityZone"] for s in other]
    assert len(set(zones)) > 1
    assert "us-east-1e" in zones + [s["AvailabilityZone"] for s in other]
    # code that never chooses its AZ launches t3.micro fine most of the time, and is refused in use1-az3
    ec2 = other_aws.client("ec2")
    outcomes = set()
    for subnet in other:
        try:
            run(ec2, SubnetId=subnet["SubnetId"])
            outcomes.add((subnet["AvailabilityZoneId"] == "use1-az3", "ok"))
        except ClientError as err:
            outcomes.add((subnet["AvailabilityZoneId"] == "use1-az3", err.response["Error"]["Code"]))
    assert (False, "ok") in outcomes and (True, "ok") not in outcomes


def test_endpoint_services_list_their_zones_and_endpoint_subnets_are_one_per_served_zone(aws):
    ec2, elb = aws.client("ec2"), aws.client("elbv2")
    services = ec2.describe_vpc_endpoint_services(ServiceNames=[
        f"com.amazonaws.{REGION}.{s}" for s in ("ssm", "ssmmessages", "ec2messages")])["ServiceDetails"]
    assert len(services) == 3
    for service in services:  # no source says these skip an AZ of us-east-1
        assert sorted(service["AvailabilityZones"]) == sorted(US_EAST_1)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    a1, a2, b = (ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=zone)["Subnet"]["SubnetId"]
                 for cidr, zone in (("10.0.1.0/24", "us-east-1a"), ("10.0.2.0/24", "us-east-1a"),
                                    ("10.0.3.0/24", "us-east-1b")))
    ssm = f"com.amazonaws.{REGION}.ssm"
    assert error(ec2.create_vpc_endpoint, VpcId=vpc, ServiceName=ssm, VpcEndpointType="Interface",
                 SubnetIds=[a1, a2]) == (
        "DuplicateSubnetsInSameZone",
        f"Found another VPC endpoint subnet in the availability zone of {a2}. VPC endpoint subnets should be in "
        "different availability zones supported by the VPC endpoint service.")
    assert ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=ssm, VpcEndpointType="Interface",
                                   SubnetIds=[a1, b])["VpcEndpoint"]["SubnetIds"] == [a1, b]
    # a service of an account serves the zones of its load balancer's subnets only
    nlb = elb.create_load_balancer(Name="svc", Type="network", Scheme="internal", Subnets=[a1])
    arn = nlb["LoadBalancers"][0]["LoadBalancerArn"]
    name = ec2.create_vpc_endpoint_service_configuration(NetworkLoadBalancerArns=[arn],
                                                         AcceptanceRequired=False)["ServiceConfiguration"]["ServiceName"]
    detail = ec2.describe_vpc_endpoint_services(ServiceNames=[name])["ServiceDetails"][0]
    assert detail["AvailabilityZones"] == ["us-east-1a"]
    assert error(ec2.create_vpc_endpoint, VpcId=vpc, ServiceName=name, VpcEndpointType="Interface",
                 SubnetIds=[b]) == (
        "InvalidParameter",
        f"The VPC endpoint service {name} does not support the availability zone of the subnet: {b}.")
    assert ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=name, VpcEndpointType="Interface", SubnetIds=[a2])


def test_inventory_shows_each_subnets_zone_name_and_id(aws):
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZoneId="use1-az3")["Subnet"]["SubnetId"]
    listed = {r["id"]: r for r in aws.get("/peerlab/resources")["resources"]}
    assert (listed[subnet]["availability_zone"], listed[subnet]["availability_zone_id"]) == ("us-east-1e", "use1-az3")


def test_offerings_by_zone_name_are_the_whole_catalogue_filtered_whatever_the_filters():
    """_zone_offerings keeps the derived catalogue and an index by type: the answers must be the catalogue's
    own, derived, sorted and filtered on every call as before."""
    from moto.ec2.models import ec2_backends

    from peerlab_local.ec2 import zones

    backend = ec2_backends["111122223333"]["us-east-1"]
    names = {z.zone_id: z.name for z in zones.zones("us-east-1")}
    catalogue = sorted(
        ({"InstanceType": o["InstanceType"], "Location": names[o["Location"]], "LocationType": "availability-zone"}
         for o in zones.OFFERINGS_BY_ZONE_ID["us-east-1"] if o["Location"] in names),
        key=lambda o: (o["InstanceType"], o["Location"]),
    )
    for filters in (None, {}, {"instance-type": ["t3.micro"]}, {"instance-type": ["t3.micro", "m5.large", "none"]},
                    {"instance-type": ["t3.micro"], "location": ["us-east-1a", "us-east-1e"]},
                    {"location": ["us-east-1b"]}, {"instance-type": ["t3.*"]}):
        expected = [o for o in catalogue if backend.matches_filters(o, filters or {}, "availability-zone")]
        got = zones._describe_offerings(None, backend, "availability-zone", filters)
        assert got == expected, filters
    # t3.micro: every zone but us-east-1e (use1-az3)
    assert len(zones._describe_offerings(None, backend, "availability-zone", {"instance-type": ["t3.micro"]})) == 5
    # what a caller is given is its own
    zones._describe_offerings(None, backend, "availability-zone", None)[0]["Location"] = "changed"
    assert zones._describe_offerings(None, backend, "availability-zone", None) == catalogue
