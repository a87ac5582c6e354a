"""What AWS refuses or changes by itself around VPC peering (peering_rules.py): blackhole routes, failed requests
between overlapping CIDRs, expiry of unaccepted requests, group references across VPCs."""

import time

import pytest
from botocore.exceptions import ClientError

from conftest import Lab, Patient, wait_for


def route_state(lab: Lab, vpc: str, pcx: str) -> str:
    table = lab.ec2.describe_route_tables(RouteTableIds=[lab.main_table(vpc)])["RouteTables"][0]
    [route] = [r for r in table["Routes"] if r.get("VpcPeeringConnectionId") == pcx]
    return route["State"]


def status(lab: Lab, pcx: str) -> dict:
    return lab.ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=[pcx])["VpcPeeringConnections"][0][
        "Status"]


def test_routes_through_a_deleted_peering_are_blackholes(aws):
    lab = Lab(aws).vpcs().peering().routes()
    assert route_state(lab, lab.vpc_a, lab.pcx) == "active"
    lab.ec2.delete_vpc_peering_connection(VpcPeeringConnectionId=lab.pcx)
    assert route_state(lab, lab.vpc_a, lab.pcx) == "blackhole"
    assert route_state(lab, lab.vpc_b, lab.pcx) == "blackhole"


def test_routes_through_a_rejected_peering_are_blackholes(aws):
    lab = Lab(aws).vpcs().peering(accept=False).routes(b_to_a=False)
    lab.ec2.reject_vpc_peering_connection(VpcPeeringConnectionId=lab.pcx)
    assert status(lab, lab.pcx)["Code"] == "rejected"
    assert route_state(lab, lab.vpc_a, lab.pcx) == "blackhole"


def test_a_route_through_a_peering_not_yet_accepted_is_a_blackhole_until_it_is(aws):
    # AWS accepts the route (no error) but it has no effect before the peering is active (route_state's source)
    lab = Lab(aws).vpcs().peering(accept=False).routes(b_to_a=False)
    wait_for(lambda: status(lab, lab.pcx)["Code"] == "pending-acceptance")
    assert route_state(lab, lab.vpc_a, lab.pcx) == "blackhole"
    lab.ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=lab.pcx)
    wait_for(lambda: status(lab, lab.pcx)["Code"] == "active")
    assert route_state(lab, lab.vpc_a, lab.pcx) == "active"


def test_the_ping_names_the_blackhole(aws):
    lab = Lab(aws).vpcs().profile().endpoints().instances().peering().routes().open_b()
    assert lab.ping()["ResponseCode"] == 0
    lab.ec2.delete_vpc_peering_connection(VpcPeeringConnectionId=lab.pcx)
    result = lab.ping()
    assert result["ResponseCode"] == 1
    err = result["StandardErrorContent"]
    assert f"to peering {lab.pcx} (route 10.1.0.0/16, state blackhole): the peering is deleted" in err, err


def test_overlapping_cidrs_request_is_made_then_fails(start_local):
    aws = start_local("--profile", "realistic", "--time-scale", "0.01")
    ec2 = aws.client("ec2")
    vpc_a = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    vpc_b = ec2.create_vpc(CidrBlock="10.0.128.0/17")["Vpc"]["VpcId"]
    # patient: the new VPCs may answer NotFound for their consistency window
    created = Patient(ec2).create_vpc_peering_connection(VpcId=vpc_a, PeerVpcId=vpc_b)["VpcPeeringConnection"]
    assert created["Status"]["Code"] == "initiating-request"  # no API error: the request is accepted
    pcx = created["VpcPeeringConnectionId"]

    def final():
        try:
            found = ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=[pcx])["VpcPeeringConnections"]
        except ClientError:  # NotFound during the consistency window
            return None
        return found and found[0]["Status"]["Code"] not in ("initiating-request",) and found[0]["Status"]

    assert wait_for(final) == {"Code": "failed",
                               "Message": "Failed due to incorrect VPC-ID, Account ID, or overlapping CIDR range"}
    with pytest.raises(ClientError) as err:
        ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    assert err.value.response["Error"]["Code"] == "InvalidStateTransition"


def test_group_of_an_unpeered_vpc_is_refused_of_a_peered_one_accepted(aws):
    lab = Lab(aws).vpcs()
    rule = {"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "UserIdGroupPairs": [{"GroupId": lab.sg_a}]}
    # same VPC: fine
    same = lab.ec2.create_security_group(VpcId=lab.vpc_a, GroupName="same", Description="same VPC")["GroupId"]
    lab.ec2.authorize_security_group_ingress(GroupId=same, IpPermissions=[rule])
    # another VPC, no peering; then a peering not yet active: refused, ingress and egress
    for accept in (None, False):
        if accept is False:
            lab.peering(accept=False)
        for call in (lab.ec2.authorize_security_group_ingress, lab.ec2.authorize_security_group_egress):
            with pytest.raises(ClientError) as err:
                call(GroupId=lab.sg_b0, IpPermissions=[rule])
            assert err.value.response["Error"]["Code"] == "InvalidGroup.NotFound"
            assert err.value.response["Error"]["Message"] == (
                "You have specified two resources that belong to different networks.")
    # an active peering between the two VPCs: accepted
    lab.accept()
    lab.ec2.authorize_security_group_ingress(GroupId=lab.sg_b0, IpPermissions=[rule])
    group = lab.ec2.describe_security_groups(GroupIds=[lab.sg_b0])["SecurityGroups"][0]
    assert [p["GroupId"] for p in group["IpPermissions"][0]["UserIdGroupPairs"]] == [lab.sg_a]


def test_unaccepted_request_expires_after_seven_scaled_days(start_local):
    # 7 days x 1e-5 = 6.05 s
    aws = start_local("--profile", "realistic", "--time-scale", "1e-5")
    started = time.monotonic()
    lab = Lab(aws).vpcs().peering(accept=False)
    ec2 = lab.ec2
    vpc_c = ec2.create_vpc(CidrBlock="10.2.0.0/16")["Vpc"]["VpcId"]
    accepted = lab.api.create_vpc_peering_connection(VpcId=lab.vpc_a, PeerVpcId=vpc_c)["VpcPeeringConnection"][
        "VpcPeeringConnectionId"]
    wait_for(lambda: status(lab, lab.pcx)["Code"] == "pending-acceptance")
    lab.routes(b_to_a=False)
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=accepted)
    assert route_state(lab, lab.vpc_a, lab.pcx) == "blackhole"  # never accepted: a blackhole from the start
    wait_for(lambda: status(lab, lab.pcx)["Code"] == "expired", timeout=30, interval=0.2)
    assert time.monotonic() - started > 5.5  # not before the scaled 7 days
    assert route_state(lab, lab.vpc_a, lab.pcx) == "blackhole"
    assert status(lab, accepted)["Code"] == "active"  # an accepted peering does not expire
    with pytest.raises(ClientError) as err:
        ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=lab.pcx)
    assert err.value.response["Error"]["Code"] == "InvalidStateTransition"


def test_instant_profile_never_expires(aws):
    lab = Lab(aws).vpcs().peering(accept=False)
    time.sleep(0.5)
    assert status(lab, lab.pcx)["Code"] == "pending-acceptance"
