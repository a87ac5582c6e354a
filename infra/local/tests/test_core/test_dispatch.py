"""core/dispatch.py memoizes two of moto's per-request lookups: the answers must stay moto's own."""

from __future__ import annotations

from moto.ec2.responses import EC2Response
from moto.ssm.responses import SimpleSystemManagerResponse

from peerlab_local.core import dispatch


def test_the_memoized_lookups_answer_what_moto_s_own_do():
    assert list(dispatch.list_of_moto_modules()) == list(dispatch._moto_modules())
    assert "ec2" in dispatch.list_of_moto_modules() and "stepfunctions" in dispatch.list_of_moto_modules()
    for clazz in (EC2Response, SimpleSystemManagerResponse):
        assert dispatch.method_names_from_class(clazz) == set(dispatch._method_names(clazz))
    assert "describe_vpcs" in dispatch.method_names_from_class(EC2Response)


def test_installed_moto_asks_the_memoized_ones():
    import moto.backends
    import moto.core.responses

    dispatch.install()
    assert moto.backends.list_of_moto_modules is dispatch.list_of_moto_modules
    assert moto.core.responses.method_names_from_class is dispatch.method_names_from_class


def test_the_picker_s_kept_keys_serialize_what_moto_s_own_picker_does(monkeypatch):
    """Whole EC2 and SSM responses about the same resources, serialized by moto's picker and by dispatch.Picker
    (its possible keys kept after their first use): the same, the second time too (from the kept keys)."""
    import boto3
    import moto.core.responses
    from moto import mock_aws
    from moto.core.serialize import XFormedAttributePicker

    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        ssm = boto3.client("ssm", region_name="us-east-1")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16", TagSpecifications=[
            {"ResourceType": "vpc", "Tags": [{"Key": "peerlab:lab-id", "Value": "x"}]}])["Vpc"]
        subnet = ec2.create_subnet(VpcId=vpc["VpcId"], CidrBlock="10.0.1.0/24")["Subnet"]
        group = ec2.create_security_group(GroupName="g", Description="d", VpcId=vpc["VpcId"])["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
            {"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "UserIdGroupPairs": [{"GroupId": group}]}])
        image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        ec2.run_instances(ImageId=image, MinCount=2, MaxCount=2, SubnetId=subnet["SubnetId"],
                          SecurityGroupIds=[group])
        ssm.put_parameter(Name="/p", Value="v", Type="String")

        def responses():
            out = [ec2.describe_instances(), ec2.describe_security_groups(), ec2.describe_vpcs(),
                   ec2.describe_subnets(), ec2.describe_route_tables(), ec2.describe_network_acls(),
                   ec2.describe_instance_type_offerings(LocationType="availability-zone"),
                   ssm.get_parameter(Name="/p"), ssm.describe_parameters()]
            for response in out:
                response.pop("ResponseMetadata")
            return out

        monkeypatch.setattr(moto.core.responses, "XFormedAttributePicker", XFormedAttributePicker)
        moto_s = responses()
        monkeypatch.setattr(moto.core.responses, "XFormedAttributePicker", dispatch.Picker)
        dispatch.Picker._keys.clear()
        first, again = responses(), responses()
    assert dispatch.Picker._keys  # it was used
    assert first == moto_s and again == moto_s
