"""Deletions that AWS refuses are refused here too."""

import boto3
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
    # AWS: "You must detach or delete all gateways and resources that are associated with the VPC before you can
    # delete it" (EC2 API reference, DeleteVpc: https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteVpc.html);
    # an interface endpoint's network interfaces stay in its subnets, and its security groups in use, until "When you
    # delete an interface endpoint, we delete its endpoint network interfaces" (DeleteVpcEndpoints,
    # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteVpcEndpoints.html).
    lab = Lab(aws).vpcs().endpoints()
    lab.ec2.delete_security_group(GroupId=lab.sg_a)  # A's own group: nothing uses it
    assert refused(lab.ec2.delete_vpc, VpcId=lab.vpc_a) == "DependencyViolation"
    assert refused(lab.ec2.delete_subnet, SubnetId=lab.subnet_a) == "DependencyViolation"  # the endpoints' ENIs
    assert refused(lab.ec2.delete_security_group, GroupId=lab.sg_endpoint) == "DependencyViolation"  # the endpoints'
    lab.ec2.delete_vpc_endpoints(VpcEndpointIds=lab.endpoint_ids)
    enis = lab.ec2.describe_network_interfaces(Filters=[{"Name": "subnet-id", "Values": [lab.subnet_a]}])
    assert enis["NetworkInterfaces"] == []  # deleted with the endpoints
    lab.ec2.delete_subnet(SubnetId=lab.subnet_a)
    lab.ec2.delete_security_group(GroupId=lab.sg_endpoint)
    lab.ec2.delete_vpc(VpcId=lab.vpc_a)
    assert refused(lab.ec2.describe_vpcs, VpcIds=[lab.vpc_a]) == "InvalidVpcID.NotFound"
    assert [v["VpcId"] for v in lab.ec2.describe_vpcs()["Vpcs"] if v["VpcId"] == lab.vpc_b] == [lab.vpc_b]


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


def test_rule_may_name_a_group_of_another_account_only_over_an_active_peering(aws):
    """Not a deletion, but the same fidelity: AWS accepts UserId + GroupId of a peered VPC's group."""
    home = Lab(aws).vpcs()
    sts = aws.client("sts")
    role = "arn:aws:iam::210987654321:role/peer"
    creds = sts.assume_role(RoleArn=role, RoleSessionName="test")["Credentials"]
    peer_ec2 = boto3.client("ec2", endpoint_url=aws.url, region_name="us-east-1",
                            aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                            aws_session_token=creds["SessionToken"])
    peer_vpc = peer_ec2.create_vpc(CidrBlock="10.2.0.0/16")["Vpc"]["VpcId"]
    peer_group = peer_ec2.create_security_group(VpcId=peer_vpc, GroupName="B", Description="b")["GroupId"]
    rule = [{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": home.sg_a, "UserId": "123456789012"}]}]
    assert refused(peer_ec2.authorize_security_group_ingress, GroupId=peer_group,
                   IpPermissions=rule) == "InvalidGroup.NotFound"  # no peering yet
    pcx = home.ec2.create_vpc_peering_connection(VpcId=home.vpc_a, PeerVpcId=peer_vpc, PeerOwnerId="210987654321")[
        "VpcPeeringConnection"]["VpcPeeringConnectionId"]
    peer_ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    peer_ec2.authorize_security_group_ingress(GroupId=peer_group, IpPermissions=rule)
    pairs = peer_ec2.describe_security_groups(GroupIds=[peer_group])["SecurityGroups"][0]["IpPermissions"][0][
        "UserIdGroupPairs"]
    assert [(p["GroupId"], p["UserId"]) for p in pairs] == [(home.sg_a, "123456789012")]


def test_peerings_are_filtered_like_aws(aws):
    # moto returned every peering whatever the filters: one lab's teardown, finding its peering by tag, deleted
    # another lab's
    ec2 = aws.client("ec2")
    vpcs = [ec2.create_vpc(CidrBlock=f"10.{i}.0.0/16")["Vpc"]["VpcId"] for i in range(4)]
    ids = []
    for n, (a, b) in enumerate([(vpcs[0], vpcs[1]), (vpcs[2], vpcs[3])]):
        made = ec2.create_vpc_peering_connection(VpcId=a, PeerVpcId=b, TagSpecifications=[{
            "ResourceType": "vpc-peering-connection", "Tags": [{"Key": "peerlab:lab-id", "Value": f"lab{n}"}]}])
        ids.append(made["VpcPeeringConnection"]["VpcPeeringConnectionId"])

    def found(*filters):
        return [p["VpcPeeringConnectionId"] for p in ec2.describe_vpc_peering_connections(
            Filters=[{"Name": k, "Values": [v]} for k, v in filters])["VpcPeeringConnections"]]

    assert found(("tag:peerlab:lab-id", "lab0")) == [ids[0]]
    assert found(("requester-vpc-info.vpc-id", vpcs[2])) == [ids[1]]
    assert found(("accepter-vpc-info.vpc-id", vpcs[1]), ("tag:peerlab:lab-id", "lab1")) == []
    assert sorted(found(("tag-key", "peerlab:lab-id"))) == sorted(ids)
    assert found(("status-code", "active")) == []


# ---- network ACLs (the break-and-fix exercise: a lab-tagged ACL in VPC B, associated with B's subnet) -------------


def refusal(call, **kwargs) -> tuple[str, str]:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]


def acls_of(ec2, vpc_id: str) -> dict[str, dict]:
    found = ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["NetworkAcls"]
    return {a["NetworkAclId"]: a for a in found}


def association_of(ec2, vpc_id: str, subnet_id: str) -> str:
    return next(a["NetworkAclAssociationId"] for acl in acls_of(ec2, vpc_id).values() for a in acl["Associations"]
                if a["SubnetId"] == subnet_id)


def test_a_network_acl_in_use_and_the_default_one_cannot_be_deleted(aws):
    # "You can't delete the ACL if it's associated with any subnets. You can't delete the default network ACL."
    # (EC2 API Reference, DeleteNetworkAcl)
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    (default,) = acls_of(ec2, vpc)
    acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    ec2.replace_network_acl_association(AssociationId=association_of(ec2, vpc, subnet), NetworkAclId=acl)
    assert refusal(ec2.delete_network_acl, NetworkAclId=acl) == (
        "DependencyViolation", f"The networkAcl '{acl}' has dependencies and cannot be deleted.")
    # the default ACL: refused even with no subnet on it (moto deleted it)
    assert acls_of(ec2, vpc)[default]["Associations"] == []
    assert refusal(ec2.delete_network_acl, NetworkAclId=default) == (
        "InvalidParameterValue", f"cannot delete default network ACL {default}")
    # back on the default ACL, the lab's ACL can go
    ec2.replace_network_acl_association(AssociationId=association_of(ec2, vpc, subnet), NetworkAclId=default)
    ec2.delete_network_acl(NetworkAclId=acl)
    assert set(acls_of(ec2, vpc)) == {default}


def test_a_vpc_with_a_network_acl_of_its_own_cannot_be_deleted_and_a_deleted_subnet_frees_its_acl(aws):
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    (default,) = acls_of(ec2, vpc)
    acl = ec2.create_network_acl(VpcId=vpc, TagSpecifications=[{"ResourceType": "network-acl", "Tags": [
        {"Key": "peerlab:lab-id", "Value": "lab-1"}]}])["NetworkAcl"]["NetworkAclId"]
    ec2.replace_network_acl_association(AssociationId=association_of(ec2, vpc, subnet), NetworkAclId=acl)
    listed = [r for r in aws.get("/peerlab/resources")["resources"] if r["type"] == "network-acl"]
    assert [(r["id"], r["vpc_id"], r["tags"]) for r in listed] == [(acl, vpc, {"peerlab:lab-id": "lab-1"})]
    ec2.delete_subnet(SubnetId=subnet)
    # the association went with the subnet: the ACL is deletable (moto kept the association: DependencyViolation)
    assert acls_of(ec2, vpc)[acl]["Associations"] == []
    # but while it exists the VPC is not (DeleteVpc deletes only the default ACL; moto deleted the VPC)
    assert refusal(ec2.delete_vpc, VpcId=vpc) == (
        "DependencyViolation", f"The vpc '{vpc}' has dependencies and cannot be deleted.")
    ec2.delete_network_acl(NetworkAclId=acl)
    ec2.delete_vpc(VpcId=vpc)
    # the default ACL went with the VPC ("When you delete the VPC, it deletes the default ... network ACL")
    all_acls = {a["NetworkAclId"] for a in ec2.describe_network_acls()["NetworkAcls"]}
    assert default not in all_acls and acl not in all_acls
