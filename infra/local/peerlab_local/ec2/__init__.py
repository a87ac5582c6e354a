"""EC2 as AWS runs it where the workflow depends on it: asynchronous states, refusals, ClientToken idempotency
(patches.py), peering rules (peering_rules.py), route tables (route_tables.py), Availability Zones and offerings
(zones.py), IAM's eventual consistency for instance profiles (iam_propagation.py), service quotas (quotas.py),
eventual consistency of the API (consistency.py), rate limits (limits.py, in the server's path), requests refused
as EC2 refuses them (requests.py, with core/validation.py), reachability computed from the EC2 state (network.py),
and a resource's tags read by its id (tags.py: the instrument's speed). README.md beside this file has the sources."""

from __future__ import annotations

from peerlab_local.ec2 import (
    consistency,
    iam_propagation,
    patches,
    peering_rules,
    quotas,
    requests,
    route_tables,
    tags,
    zones,
)

# In order: a later install wraps what an earlier one patched (RunInstances: patches, then zones, quotas and last
# consistency; CreateVpcEndpoint likewise, requests' conflicting private DNS innermost, inside patches' ClientToken).
INSTALLS = (tags.install, requests.install, peering_rules.install, route_tables.install, patches.install,
            iam_propagation.install, zones.install, quotas.install, consistency.install)


def install() -> None:
    for install_one in INSTALLS:
        install_one()
