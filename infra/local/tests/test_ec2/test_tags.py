"""ec2/tags.py reads a resource's tags by its id: the answer must stay moto's own (its describe_tags by resource id)."""

from typing import Any

from moto.ec2.models import ec2_backends

from peerlab_local.ec2 import tags

ACCOUNT, REGION = "111122223333", "eu-west-3"


def test_a_resource_s_tags_by_id_are_what_moto_s_describe_tags_answers():
    backend = ec2_backends[ACCOUNT][REGION]
    vpcs = [backend.create_vpc(cidr_block=f"10.{n}.0.0/16") for n in range(3)]
    backend.create_tags([vpcs[0].id, vpcs[1].id], {"peerlab:lab": "a", "Name": "one"})
    backend.create_tags([vpcs[1].id], {"peerlab:lab": "b", "z": "last"})
    group = backend.create_security_group("g", "d", vpc_id=vpcs[0].id, tags={"peerlab:lab": "a"})
    resources: list[Any] = [*vpcs, group]
    for resource in resources:
        moto_s = backend.describe_tags(filters={"resource-id": [resource.id]})
        assert tags.get_tags(resource) == moto_s, resource.id
    assert tags.get_tags(vpcs[1]) == [
        {"resource_id": vpcs[1].id, "key": "peerlab:lab", "value": "b", "resource_type": "vpc"},
        {"resource_id": vpcs[1].id, "key": "Name", "value": "one", "resource_type": "vpc"},
        {"resource_id": vpcs[1].id, "key": "z", "value": "last", "resource_type": "vpc"},
    ]
    # an untagged resource: nothing, and the read adds no entry to the table
    assert tags.get_tags(vpcs[2]) == [] and vpcs[2].id not in backend.tags


def test_installed_moto_reads_tags_by_id():
    from moto.ec2.models.core import TaggedEC2Resource

    tags.install()
    assert TaggedEC2Resource.get_tags is tags.get_tags
