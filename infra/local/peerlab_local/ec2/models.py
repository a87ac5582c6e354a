"""What the EC2 patches and the reachability model both read of moto's EC2 objects: a VPC's CIDRs, the peering
states in which a connection is over. Below network.py and peering_rules.py, so that neither imports the other."""

from __future__ import annotations

# peering states in which the connection is over: it carries nothing any more, and no longer holds its VPCs
BLACKHOLE_STATES = ("deleted", "rejected", "failed", "expired")


def vpc_cidrs(vpc) -> list[str]:
    cidrs = [vpc.cidr_block]
    for assoc in getattr(vpc, "cidr_block_association_set", None) or []:
        block = assoc.get("cidr_block") if isinstance(assoc, dict) else None
        state = (assoc.get("cidr_block_state") or {}).get("state", "associated") if isinstance(assoc, dict) else ""
        if block and block not in cidrs and state == "associated":
            cidrs.append(block)
    return cidrs
