"""Route tables as AWS answers (route_tables.py): CreateRouteTable's ClientToken, and a subnet's second explicit
association refused with Resource.AlreadyAssociated (moto returns the existing association, whichever table)."""

import pytest
from botocore.exceptions import ClientError


def vpc_and_subnet(ec2):
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    return vpc, subnet


def test_a_client_token_retry_returns_the_same_table_and_creates_nothing(aws):
    ec2 = aws.client("ec2")
    vpc, _ = vpc_and_subnet(ec2)
    first = ec2.create_route_table(VpcId=vpc, ClientToken="lab-a-route-table")["RouteTable"]["RouteTableId"]
    again = ec2.create_route_table(VpcId=vpc, ClientToken="lab-a-route-table")["RouteTable"]["RouteTableId"]
    other = ec2.create_route_table(VpcId=vpc, ClientToken="another-token")["RouteTable"]["RouteTableId"]
    assert again == first
    assert other != first
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]
    assert sorted(t["RouteTableId"] for t in tables if not any(a.get("Main") for a in t.get("Associations", []))) \
        == sorted([first, other])


@pytest.mark.parametrize("second", ["same", "other"])
def test_a_subnet_takes_one_explicit_association(aws, second):
    ec2 = aws.client("ec2")
    vpc, subnet = vpc_and_subnet(ec2)
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
    target = table if second == "same" else ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    with pytest.raises(ClientError) as refused:
        ec2.associate_route_table(RouteTableId=target, SubnetId=subnet)
    assert refused.value.response["Error"]["Code"] == "Resource.AlreadyAssociated"
    # after a disassociation the subnet may be associated again
    [assoc] = [a for t in ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"]
               for a in t["Associations"] if a.get("SubnetId") == subnet]
    ec2.disassociate_route_table(AssociationId=assoc["RouteTableAssociationId"])
    ec2.associate_route_table(RouteTableId=target, SubnetId=subnet)
