"""A resource's tags read by its id: the local AWS's time per call is the instrument's (core/dispatch.py says why it
counts), and moto's read of one resource's tags grew with every tag in the region.

moto's `TaggedEC2Resource.get_tags` asks `describe_tags(filters={"resource-id": [id]})`, which copies the region's
whole tag table and matches each tag's resource id against a pattern compiled from the id. Every Describe* serializes
each resource's tags that way and every `tag:` filter reads them, so a call's time grew with everything the region had
ever tagged: a profile of teardown's calls (py-spy, 500 Hz, release binaries; 2026-12-07) found 15 % of the request
threads' samples in `describe_tags`. The answer is the same (tests/test_ec2/test_tags.py compares it with moto's,
order included): the tag table is keyed by resource id, and the filter's pattern (`fnmatch.translate` of an id, which
has no wildcard) matches that id only.
"""

from __future__ import annotations

from moto.ec2.models.core import TaggedEC2Resource
from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix

from peerlab_local.core.patching import once, replace


def get_tags(self: TaggedEC2Resource) -> list[dict[str, str]]:
    resource_id = self.id  # type: ignore[attr-defined]
    if not resource_id:
        return []
    # .get, not [...]: the table is a defaultdict, and a read must not add an empty entry
    tags = self.ec2_backend.tags.get(resource_id)  # type: ignore[attr-defined]
    if not tags:
        return []
    resource_type = EC2_PREFIX_TO_RESOURCE.get(get_prefix(resource_id), "")
    return [{"resource_id": resource_id, "key": key, "value": value, "resource_type": resource_type}
            for key, value in tags.items()]


@once
def install() -> None:
    replace(TaggedEC2Resource, "get_tags", get_tags)
