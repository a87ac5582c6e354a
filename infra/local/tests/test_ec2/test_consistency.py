"""Eventual consistency for every kind the workflow creates (peerlab_local/ec2/consistency.py): right after its
create, a VPC, subnet, security group, route table, network ACL, interface endpoint, instance or peering named by id
answers its Invalid...ID.NotFound code in every call, and listings leave it out; after its window it works. Windows
are drawn per resource (delays.py)."""

import sys
import time
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from conftest import MANY_VPCS, REGION, Patient, wait_for

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from peerlab_local.core import delays  # noqa: E402
from peerlab_local.core.config import REALISTIC, Config  # noqa: E402

WINDOW = 2.0  # --consistency-window: generous, so the "right after" calls below land inside it on a busy machine


def code(call, **kwargs) -> str:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    return err.value.response["Error"]["Code"]


def ids(listing, key) -> set:
    return {item[key] for item in listing}


@pytest.fixture
def fixed(start_local):
    aws = start_local("--profile", "realistic", "--time-scale", "0.01", "--consistency-window", str(WINDOW))
    ec2 = aws.client("ec2")
    ec2.describe_vpcs()  # moto loads its EC2 response model on the first such call (seconds): not inside a window
    return aws, ec2


def test_vpc_not_found_by_id_and_unlisted_then_visible_with_what_aws_creates_with_it(fixed):
    aws, ec2 = fixed
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    born = time.monotonic()
    assert code(ec2.describe_vpcs, VpcIds=[vpc]) == "InvalidVpcID.NotFound"
    assert code(ec2.create_subnet, VpcId=vpc, CidrBlock="10.0.1.0/24") == "InvalidVpcID.NotFound"
    assert code(ec2.create_security_group, VpcId=vpc, GroupName="g", Description="g") == "InvalidVpcID.NotFound"
    assert code(ec2.modify_vpc_attribute, VpcId=vpc, EnableDnsSupport={"Value": True}) == "InvalidVpcID.NotFound"
    assert code(ec2.create_tags, Resources=[vpc], Tags=[{"Key": "k", "Value": "v"}]) == "InvalidVpcID.NotFound"
    default_vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    assert code(ec2.create_vpc_peering_connection, VpcId=default_vpc, PeerVpcId=vpc) == "InvalidVpcID.NotFound"
    err = None
    try:
        ec2.describe_vpcs(VpcIds=[vpc])
    except ClientError as e:
        err = e.response["Error"]["Message"]
    assert err == f"The vpc ID '{vpc}' does not exist"
    by_vpc = [{"Name": "vpc-id", "Values": [vpc]}]
    assert ec2.describe_vpcs(Filters=by_vpc)["Vpcs"] == []
    assert vpc not in ids(ec2.describe_vpcs()["Vpcs"], "VpcId")  # the default VPC is listed, the new one not yet
    assert ec2.describe_route_tables(Filters=by_vpc)["RouteTables"] == []  # its main table is born with it
    assert ec2.describe_security_groups(Filters=by_vpc)["SecurityGroups"] == []
    assert ec2.describe_network_acls(Filters=by_vpc)["NetworkAcls"] == []
    # the local AWS's own views are not affected: the inventory, and the Step Functions engine's key
    assert vpc in {r["id"] for r in aws.get("/peerlab/resources")["resources"]}
    internal = boto3.client("ec2", endpoint_url=aws.url, region_name=REGION, aws_access_key_id="ak",
                            aws_secret_access_key="sk")
    assert internal.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["VpcId"] == vpc
    assert time.monotonic() - born < WINDOW, "the checks above took longer than the window: machine too busy"

    wait_for(lambda: time.monotonic() - born > WINDOW + 0.1, timeout=10)
    assert ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["VpcId"] == vpc
    assert ids(ec2.describe_vpcs(Filters=by_vpc)["Vpcs"], "VpcId") == {vpc}
    assert len(ec2.describe_route_tables(Filters=by_vpc)["RouteTables"]) == 1
    assert [g["GroupName"] for g in ec2.describe_security_groups(Filters=by_vpc)["SecurityGroups"]] == ["default"]
    assert len(ec2.describe_network_acls(Filters=by_vpc)["NetworkAcls"]) == 1
    ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")


def test_subnet_group_route_table_acl_not_found_then_usable(fixed):
    aws, ec2 = fixed
    patient = Patient(ec2)
    vpc = patient.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    patient.describe_vpcs(VpcIds=[vpc])
    default_sg = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"][0]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(VpcId=vpc, GroupName="g", Description="g")["GroupId"]
    rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    born = time.monotonic()
    assert code(ec2.describe_subnets, SubnetIds=[subnet]) == "InvalidSubnetID.NotFound"
    assert code(ec2.run_instances, ImageId="ami-12345678", MinCount=1, MaxCount=1,
                SubnetId=subnet) == "InvalidSubnetID.NotFound"
    assert code(ec2.describe_security_groups, GroupIds=[sg]) == "InvalidGroup.NotFound"
    rule = {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}
    assert code(ec2.authorize_security_group_ingress, GroupId=sg, IpPermissions=[rule]) == "InvalidGroup.NotFound"
    by_group = {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": sg}]}  # a rule of a visible group naming it
    assert code(ec2.authorize_security_group_ingress, GroupId=default_sg["GroupId"],
                IpPermissions=[by_group]) == "InvalidGroup.NotFound"
    assert code(ec2.describe_route_tables, RouteTableIds=[rtb]) == "InvalidRouteTableID.NotFound"
    assert code(ec2.create_route, RouteTableId=rtb, DestinationCidrBlock="10.9.0.0/16",
                GatewayId="local") == "InvalidRouteTableID.NotFound"
    assert code(ec2.describe_network_acls, NetworkAclIds=[acl]) == "InvalidNetworkAclID.NotFound"
    assert code(ec2.create_network_acl_entry, NetworkAclId=acl, RuleNumber=100, Protocol="-1", RuleAction="allow",
                Egress=False, CidrBlock="0.0.0.0/0") == "InvalidNetworkAclID.NotFound"
    assert code(ec2.delete_security_group, GroupId=sg) == "InvalidGroup.NotFound"
    assert code(ec2.create_vpc_endpoint, VpcId=vpc, ServiceName=f"com.amazonaws.{REGION}.ssm",
                VpcEndpointType="Interface", SubnetIds=[subnet]) == "InvalidSubnetID.NotFound"
    by_vpc = [{"Name": "vpc-id", "Values": [vpc]}]
    assert ec2.describe_subnets(Filters=by_vpc)["Subnets"] == []
    assert ids(ec2.describe_security_groups(Filters=by_vpc)["SecurityGroups"], "GroupId") == {default_sg["GroupId"]}
    assert len(ec2.describe_route_tables(Filters=by_vpc)["RouteTables"]) == 1  # the main one only
    assert len(ec2.describe_network_acls(Filters=by_vpc)["NetworkAcls"]) == 1  # the default one only
    assert time.monotonic() - born < WINDOW, "the checks above took longer than the window: machine too busy"

    wait_for(lambda: time.monotonic() - born > WINDOW + 0.1, timeout=10)
    assert ids(ec2.describe_subnets(Filters=by_vpc)["Subnets"], "SubnetId") == {subnet}
    assert sg in ids(ec2.describe_security_groups(Filters=by_vpc)["SecurityGroups"], "GroupId")
    assert rtb in ids(ec2.describe_route_tables(Filters=by_vpc)["RouteTables"], "RouteTableId")
    assert acl in ids(ec2.describe_network_acls(Filters=by_vpc)["NetworkAcls"], "NetworkAclId")
    ec2.describe_subnets(SubnetIds=[subnet])
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[rule])
    ec2.authorize_security_group_ingress(GroupId=default_sg["GroupId"], IpPermissions=[by_group])
    ec2.associate_route_table(RouteTableId=rtb, SubnetId=subnet)
    ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=100, Protocol="-1", RuleAction="allow", Egress=False,
                                 CidrBlock="0.0.0.0/0")


def test_endpoint_instance_peering_not_found_then_usable(fixed):
    aws, ec2 = fixed
    patient = Patient(ec2)
    vpc = patient.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    peer = patient.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    # in a zone that offers t3.micro (a zone-less subnet may land in use1-az3, which does not: zones.py)
    subnet = patient.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24",
                                   AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    sg = patient.create_security_group(VpcId=vpc, GroupName="g", Description="g")["GroupId"]
    sg2 = patient.create_security_group(VpcId=vpc, GroupName="g2", Description="g2")["GroupId"]
    patient.describe_subnets(SubnetIds=[subnet])
    patient.describe_security_groups(GroupIds=[sg, sg2])
    patient.describe_vpcs(VpcIds=[peer])
    main = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"][0]
    endpoint = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=f"com.amazonaws.{REGION}.ssm",
                                       VpcEndpointType="Interface", SubnetIds=[subnet],
                                       SecurityGroupIds=[sg])["VpcEndpoint"]["VpcEndpointId"]
    instance = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType="t3.micro",
                                 SubnetId=subnet, SecurityGroupIds=[sg])["Instances"][0]["InstanceId"]
    pcx = ec2.create_vpc_peering_connection(VpcId=vpc, PeerVpcId=peer)["VpcPeeringConnection"][
        "VpcPeeringConnectionId"]
    born = time.monotonic()
    assert code(ec2.describe_vpc_endpoints, VpcEndpointIds=[endpoint]) == "InvalidVpcEndpointId.NotFound"
    # a bulk delete answers per id, in `unsuccessful`, and deletes nothing it cannot see
    unsuccessful = ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint])["Unsuccessful"]
    assert [(u["ResourceId"], u["Error"]["Code"]) for u in unsuccessful] == [
        (endpoint, "InvalidVpcEndpointId.NotFound")]
    assert code(ec2.describe_instances, InstanceIds=[instance]) == "InvalidInstanceID.NotFound"
    assert code(ec2.modify_instance_attribute, InstanceId=instance, Groups=[sg, sg2]) == "InvalidInstanceID.NotFound"
    assert code(ec2.create_tags, Resources=[instance], Tags=[{"Key": "k", "Value": "v"}]) == \
        "InvalidInstanceID.NotFound"
    assert code(ec2.describe_vpc_peering_connections,
                VpcPeeringConnectionIds=[pcx]) == "InvalidVpcPeeringConnectionID.NotFound"
    assert code(ec2.create_route, RouteTableId=main["RouteTableId"], DestinationCidrBlock="10.1.0.0/16",
                VpcPeeringConnectionId=pcx) == "InvalidVpcPeeringConnectionID.NotFound"
    by_vpc = [{"Name": "vpc-id", "Values": [vpc]}]
    assert ec2.describe_vpc_endpoints(Filters=by_vpc)["VpcEndpoints"] == []
    assert ec2.describe_instances(Filters=by_vpc)["Reservations"] == []
    assert ec2.describe_vpc_peering_connections(
        Filters=[{"Name": "requester-vpc-info.vpc-id", "Values": [vpc]}])["VpcPeeringConnections"] == []
    assert time.monotonic() - born < WINDOW, "the checks above took longer than the window: machine too busy"

    wait_for(lambda: time.monotonic() - born > WINDOW + 0.1, timeout=10)
    assert ids(ec2.describe_vpc_endpoints(Filters=by_vpc)["VpcEndpoints"], "VpcEndpointId") == {endpoint}
    listed = [i["InstanceId"] for r in ec2.describe_instances(Filters=by_vpc)["Reservations"] for i in r["Instances"]]
    assert listed == [instance]
    assert ids(ec2.describe_vpc_peering_connections(Filters=[{"Name": "requester-vpc-info.vpc-id", "Values": [vpc]}])[
        "VpcPeeringConnections"], "VpcPeeringConnectionId") == {pcx}
    sg3 = ec2.create_security_group(VpcId=vpc, GroupName="g3", Description="g3")["GroupId"]
    assert code(ec2.modify_instance_attribute, InstanceId=instance, Groups=[sg, sg3]) == "InvalidGroup.NotFound"
    ec2.modify_instance_attribute(InstanceId=instance, Groups=[sg, sg2])
    ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint])
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    ec2.terminate_instances(InstanceIds=[instance])
    assert ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint])["Unsuccessful"] == []


def test_drawn_windows_differ_per_resource_and_end(start_local):
    # no --consistency-window: each VPC draws its own window (median 1 s, p99 5 s, x 3 here: long enough that a
    # loaded machine's slow calls cannot outlast most windows before the first look)
    aws = start_local("--profile", "realistic", "--time-scale", "3", "--seed", "11", *MANY_VPCS)
    ec2 = aws.client("ec2")
    ec2.describe_vpcs()
    seen_missing, visible_after, vpcs = set(), {}, []
    for n in range(6):
        vpc = ec2.create_vpc(CidrBlock=f"10.{n}.0.0/16")["Vpc"]["VpcId"]
        vpcs.append(vpc)
        try:  # the first look, right after the create
            ec2.describe_vpcs(VpcIds=[vpc])
        except ClientError as err:
            assert err.response["Error"]["Code"] == "InvalidVpcID.NotFound"
            seen_missing.add(vpc)
    start = time.monotonic()

    def all_visible():
        for vpc in vpcs:
            if vpc in visible_after:
                continue
            try:
                ec2.describe_vpcs(VpcIds=[vpc])
                visible_after[vpc] = time.monotonic() - start
            except ClientError as err:
                assert err.response["Error"]["Code"] == "InvalidVpcID.NotFound"
                seen_missing.add(vpc)
        return len(visible_after) == len(vpcs)

    wait_for(all_visible, timeout=90, interval=0.05)
    assert len(seen_missing) >= 3  # a window drawn below the time of one call is possible, not for half of them
    times = sorted(visible_after.values())
    assert times[-1] - times[0] > 0.05, f"every VPC became visible at the same time: {times}"


def test_draws_are_per_resource_reproducible_by_seed_and_median_without_key():
    cfg = Config(port=0, profile="realistic", time_scale=1.0, seed=5)
    draws = {key: cfg.delay("endpoint_pending", key=key) for key in ("vpce-1", "vpce-2", "vpce-3", "vpce-4")}
    assert len(set(draws.values())) == 4  # different resources, different draws
    assert draws == {key: Config(port=0, profile="realistic", seed=5).delay("endpoint_pending", key=key)
                     for key in draws}  # same seed, same draws
    assert draws != {key: Config(port=0, profile="realistic", seed=6).delay("endpoint_pending", key=key)
                     for key in draws}
    assert cfg.delay("endpoint_pending") == REALISTIC["endpoint_pending"]  # no key: the median
    assert Config(port=0, profile="realistic", median_delays=True).delay("endpoint_pending", key="vpce-1") == 90.0
    assert Config(port=0, profile="instant").delay("endpoint_pending", key="vpce-1") == 0.0
    assert Config(port=0, profile="realistic", time_scale=0.1, seed=5).delay("endpoint_pending", key="vpce-1") == \
        pytest.approx(draws["vpce-1"] * 0.1)  # drawn before the time scale
    assert Config(port=0, profile="realistic", consistency_window=0.7).delay("consistency_window", key="vpc-1") == 0.7


def test_the_tails_are_real():
    # over many resources, the draws have the configured median and p99: a retry budget sized on the median
    # (or on twice the median) fails for a real share of them
    cfg = Config(port=0, profile="realistic", seed=1)
    for name, median in REALISTIC.items():
        values = sorted(cfg.delay(name, key=f"r-{n}") for n in range(4000))
        p99 = delays.tail(name, median).p99
        if delays.tail(name, median).exact:  # a documented duration (a peering request's 7-day expiry)
            assert values[0] == values[-1] == median == p99, name
            continue
        assert p99 > median
        assert values[len(values) // 2] == pytest.approx(median, rel=0.1), name
        assert values[int(len(values) * 0.99)] == pytest.approx(p99, rel=0.2), name
        assert sum(v > 2 * median for v in values) > 40, name  # > 1 % beyond twice the median
