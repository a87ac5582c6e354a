"""Deletions that AWS refuses are refused here too."""

import pytest
from botocore.exceptions import ClientError
from conftest import Lab


def refused(call, **kwargs) -> str:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    return err.value.response["Error"]["Code"]


def test_subnet_with_instance_or_endpoint(aws):
    lab = Lab(aws).vpcs().profile().endpoints().instances()
    assert refused(lab.ec2.delete_subnet, SubnetId=lab.subnet_b) == "DependencyViolation"
    lab.ec2.terminate_instances(InstanceIds=[lab.instance_a, lab.instance_b])
    lab.ec2.delete_subnet(SubnetId=lab.subnet_b)
    assert refused(lab.ec2.delete_subnet, SubnetId=lab.subnet_a) == "DependencyViolation"  # endpoint ENIs
    lab.ec2.delete_vpc_endpoints(VpcEndpointIds=lab.endpoint_ids)
    lab.ec2.delete_subnet(SubnetId=lab.subnet_a)


def test_security_group_in_use_or_referenced(aws):
    lab = Lab(aws).vpcs().profile().instances().peering().open_b()
    assert refused(lab.ec2.delete_security_group, GroupId=lab.sg_b) == "DependencyViolation"  # on instance B
    assert refused(lab.ec2.delete_security_group, GroupId=lab.sg_a) == "DependencyViolation"  # on A
    lab.ec2.terminate_instances(InstanceIds=[lab.instance_a, lab.instance_b])
    # A's group is still referenced by a rule of InstanceB
    assert refused(lab.ec2.delete_security_group, GroupId=lab.sg_a) == "DependencyViolation"
    lab.ec2.delete_security_group(GroupId=lab.sg_b)
    lab.ec2.delete_security_group(GroupId=lab.sg_a)


def test_vpc_with_dependencies(aws):
    lab = Lab(aws).vpcs().peering()
    assert refused(lab.ec2.delete_vpc, VpcId=lab.vpc_a) == "DependencyViolation"  # subnet
    lab.ec2.delete_subnet(SubnetId=lab.subnet_a)
    assert refused(lab.ec2.delete_vpc, VpcId=lab.vpc_a) == "DependencyViolation"  # group InstanceA
    lab.ec2.delete_security_group(GroupId=lab.sg_a)
    assert refused(lab.ec2.delete_vpc, VpcId=lab.vpc_a) == "DependencyViolation"  # active peering
    lab.ec2.delete_vpc_peering_connection(VpcPeeringConnectionId=lab.pcx)
    lab.ec2.delete_vpc(VpcId=lab.vpc_a)


def test_vpc_with_endpoint(aws):
    lab = Lab(aws).vpcs().endpoints()
    lab.ec2.delete_subnet(SubnetId=lab.subnet_b)
    for group in (lab.sg_a,):
        lab.ec2.delete_security_group(GroupId=group)
    lab.ec2.delete_vpc_endpoints(VpcEndpointIds=lab.endpoint_ids)
    lab.ec2.delete_subnet(SubnetId=lab.subnet_a)
    lab.ec2.delete_security_group(GroupId=lab.sg_endpoint)
    lab.ec2.delete_vpc(VpcId=lab.vpc_a)


def test_default_group_cannot_be_deleted(aws):
    lab = Lab(aws).vpcs()
    default = lab.ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [lab.vpc_a]},
                                                        {"Name": "group-name", "Values": ["default"]}])
    group_id = default["SecurityGroups"][0]["GroupId"]
    assert refused(lab.ec2.delete_security_group, GroupId=group_id) == "CannotDelete"


def test_group_of_another_vpc_cannot_be_attached(aws):
    lab = Lab(aws).vpcs().profile().instances()
    code = refused(lab.ec2.modify_instance_attribute, InstanceId=lab.instance_b, Groups=[lab.sg_a])
    assert code == "InvalidGroup.NotFound"
