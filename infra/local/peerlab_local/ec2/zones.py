"""Availability Zones, instance type offerings and endpoint-service zones as in AWS (sources in ec2/README.md).

On AWS not every Availability Zone offers every instance type: in us-east-1 the zone with id use1-az3 offers only a
few old types (no t3, t3a, t4g, m5, c5, ...), so `RunInstances` into a subnet there fails `Unsupported`. A subnet
created without an AZ lands in one AWS picks, so code that never chooses its AZ fails some of the time. An interface
endpoint can only have subnets in zones its service serves, one subnet per zone. moto 5.2.5 is kinder on each count;
this module makes the local AWS behave as AWS does. Offerings are data, not delays: `instant` keeps every rule.
"""

from __future__ import annotations

import functools
import hashlib
from collections import defaultdict

from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models import EC2Backend
from moto.ec2.models.availability_zones_and_regions import RegionsAndZonesBackend, Zone
from moto.ec2.models.instance_types import INSTANCE_TYPE_OFFERINGS

from peerlab_local.core.patching import once, replace, wrap
from peerlab_local.core.world import world

# --- the table -------------------------------------------------------------------------------------------------
# Zone names and ids of the local account, per region, in letter order. AWS maps the names of its oldest regions
# (us-east-1 among them) to physical zones independently for each account created before November 2025; the
# zone ids (use1-az1 ...) are the same physical zone in every account ("AZ IDs", AWS Regions and Availability
# Zones guide: docs.aws.amazon.com/global-infrastructure/latest/regions/az-ids.html). One fixed mapping is used
# here, the one moto 5.2.5 ships (moto/ec2/models/availability_zones_and_regions.py); it puts use1-az3 at
# us-east-1e, as in the accounts of the published error messages cited below. Any other region: moto's zones.
ZONES: dict[str, list[tuple[str, str]]] = {
    # us-east-1 has six AZs, use1-az1..use1-az6 (AWS Availability Zones table, same guide).
    "us-east-1": [("us-east-1a", "use1-az6"), ("us-east-1b", "use1-az1"), ("us-east-1c", "use1-az2"),
                  ("us-east-1d", "use1-az4"), ("us-east-1e", "use1-az3"), ("us-east-1f", "use1-az5")],
    # us-west-2 has four, usw2-az1..usw2-az4 (same table).
    "us-west-2": [("us-west-2a", "usw2-az2"), ("us-west-2b", "usw2-az1"), ("us-west-2c", "usw2-az3"),
                  ("us-west-2d", "usw2-az4")],
}
# Instance type offerings per zone id: what AWS's DescribeInstanceTypeOfferings --location-type
# availability-zone-id answered, as moto 5.2.5 ships it (moto/ec2/resources/instance_type_offerings/
# availability-zone-id/<region>.json, written by moto's scripts/ec2_get_instance_type_offerings.py from AWS).
# For us-east-1 it lists 1375 types; use1-az3 offers 68 of them, none of t3/t3a/t4g/m5/c5 (t2.micro, m4, c4 yes),
# matching the published "Your requested instance type (t3.micro) is not supported in your requested Availability
# Zone (us-east-1e)" errors and "use1-az3 doesn't support Nitro" (wolfman.dev/posts/exclude-use1-az3, 2021).
# Offerings by zone *name* are derived from these through ZONES: moto's own name file came from an account with
# another name mapping, and the two views would disagree.
OFFERINGS_BY_ZONE_ID = INSTANCE_TYPE_OFFERINGS["availability-zone-id"]
# Interface endpoint services (ssm, ssmmessages, ec2messages and the rest of moto's AWS services) serve every AZ
# of the region: no source found says otherwise for ssm/ssmmessages/ec2messages in us-east-1 (moto lists all, kept).
# A service of an account (CreateVpcEndpointServiceConfiguration) serves the zones of its load balancers' subnets.



# --- lookups others may use ------------------------------------------------------------------------------------


def zones(region: str) -> list[Zone]:
    """The AZs of `region` as DescribeAvailabilityZones lists them, in name order."""
    return sorted(RegionsAndZonesBackend.zones.get(region, []), key=lambda z: z.name)


def zone_by_name(region: str, name: str) -> Zone | None:
    return next((z for z in zones(region) if z.name == name), None)


def zone_by_id(region: str, zone_id: str) -> Zone | None:
    return next((z for z in zones(region) if z.zone_id == zone_id), None)


@functools.cache
def _offered_ids(region: str) -> dict[str, frozenset[str]]:
    by_type: dict[str, set[str]] = defaultdict(set)
    for offering in OFFERINGS_BY_ZONE_ID.get(region, []):
        by_type[offering["InstanceType"]].add(offering["Location"])
    return {t: frozenset(ids) for t, ids in by_type.items()}


def offered_zone_names(region: str, instance_type: str) -> list[str] | None:
    """Names of the AZs of `region` that offer `instance_type`, in name order; None when there is no data for the
    region or the type (then nothing is checked: moto decides, as before)."""
    ids = _offered_ids(region).get(instance_type)
    if ids is None:
        return None
    return [z.name for z in zones(region) if z.zone_id in ids]


def pick_zone(region: str) -> Zone:
    """The AZ AWS picks for a subnet created without one: any AZ of the region. AWS documents no rule beyond "AWS
    selects one for you ... we do not necessarily select a different zone for each subnet" (CreateSubnet,
    AvailabilityZone); uniform here. Call n in a region draws from hash(--seed, region, n): same seed, same picks."""
    n = world().draw(f"subnet-az:{region}")
    candidates = zones(region)
    if not candidates:
        raise IndexError(f"no Availability Zones known for {region}")  # what random.choice([]) raised before
    digest = hashlib.sha256(f"{world().config.seed}:subnet-az:{region}:{n}".encode()).digest()
    return candidates[int.from_bytes(digest[:8], "big") % len(candidates)]


# --- DescribeAvailabilityZones ---------------------------------------------------------------------------------


def _apply_table() -> None:
    for region, table in ZONES.items():
        current = [(z.name, z.zone_id) for z in zones(region)]
        if current != table:  # moto 5.2.5 already agrees; this keeps the table the authority if moto changes
            RegionsAndZonesBackend.zones[region] = [Zone(region_name=region, name=n, zone_id=i) for n, i in table]
    for region, region_zones in RegionsAndZonesBackend.zones.items():
        for zone in region_zones:
            if zone.zone_type != "availability-zone":
                continue
            # Fields AWS returns for an AZ that moto leaves out (botocore's EC2 model, AvailabilityZone shape):
            # OptInStatus is always opt-in-not-required for AZs; GroupName "us-east-1-zg-1" is the model's own
            # example; an AZ's network border group is its region (EC2 User Guide, "network border group").
            # (moto's Zone declares none of them; its responses read them when present)
            zone.opt_in_status = "opt-in-not-required"  # type: ignore[attr-defined]
            zone.group_name = f"{region}-zg-1"  # type: ignore[attr-defined]
            zone.network_border_group = region  # type: ignore[attr-defined]


# --- DescribeInstanceTypeOfferings ------------------------------------------------------------------------------


@functools.cache
def _zone_offerings(region: str) -> tuple[list[dict], dict[str, list[dict]]]:
    """The region's offerings by zone name, in (type, zone) order, and the same by type. Computed once: the table
    and the zones are fixed at install (`_apply_table`). Sorting and filtering the whole catalogue (thousands of
    offerings) on every call was 16 % of the local AWS's request time in a profile of the bench's labs (py-spy,
    2026-12-07): the instrument's speed, counted in every step's cold start (core/dispatch.py)."""
    names = {z.zone_id: z.name for z in zones(region)}
    derived = sorted(
        ({"InstanceType": o["InstanceType"], "Location": names[o["Location"]], "LocationType": "availability-zone"}
         for o in OFFERINGS_BY_ZONE_ID[region] if o["Location"] in names),
        key=lambda o: (o["InstanceType"], o["Location"]),
    )
    by_type: dict[str, list[dict]] = defaultdict(list)
    for offering in derived:
        by_type[offering["InstanceType"]].append(offering)
    return derived, dict(by_type)


def _describe_offerings(original, backend, location_type=None, filters=None):
    if location_type != "availability-zone" or backend.region_name not in OFFERINGS_BY_ZONE_ID:
        return original(backend, location_type, filters)
    derived, by_type = _zone_offerings(backend.region_name)
    types = (filters or {}).get("instance-type")
    if types and not any(c in t for t in types for c in "*?"):
        # named types without wildcards: only theirs can match (every filter is still applied below), in the
        # catalogue's order
        derived = [o for t in sorted(set(types)) for o in by_type.get(t, [])]
    # copies: the caller may change what it is given, and the catalogue is shared
    return [dict(o) for o in derived if backend.matches_filters(o, filters or {}, "availability-zone")]


# --- RunInstances ----------------------------------------------------------------------------------------------


def _run_instances(original, backend, image_id, count, user_data, security_group_names, **kwargs):
    region = backend.region_name
    instance_type = kwargs.get("instance_type")
    subnet_id = kwargs.get("subnet_id")
    for nic in kwargs.get("nics") or []:  # or the subnet of the primary network interface
        if not subnet_id and str(nic.get("DeviceIndex", "0")) == "0":
            subnet_id = nic.get("SubnetId")
    requested = backend.get_subnet(subnet_id).availability_zone if subnet_id else kwargs.get("placement")
    offered = offered_zone_names(region, instance_type) if instance_type else None
    if offered is not None:
        if requested and requested not in offered:
            # AWS's text, e.g. in terraform-provider-aws-using projects' issues (ned1313/Getting-Started-Terraform#44,
            # aws-cloudformation/...-commandrunner#37, RedHatGov/redhatgov.workshops#113): HTTP 400, code Unsupported.
            raise EC2ClientError(
                "Unsupported",
                f"Your requested instance type ({instance_type}) is not supported in your requested Availability "
                f"Zone ({requested}). Please retry your request by not specifying an Availability Zone or choosing "
                f"{', '.join(offered)}.",
            )
        if not requested and offered:
            # "If you don't specify an Availability Zone, Amazon EC2 chooses one that supports your instance type"
            # (AWS re:Post Knowledge Center, ec2-instance-type-not-supported-az-error); moto would take <region>a.
            kwargs["placement"] = offered[0]
    return original(backend, image_id, count, user_data, security_group_names, **kwargs)


# --- CreateSubnet ----------------------------------------------------------------------------------------------


def _create_subnet(original, backend, vpc_id, cidr_block, ipv6_cidr_block=None, availability_zone=None,
                   availability_zone_id=None, *args, **kwargs):
    region = backend.region_name
    if zones(region):
        if availability_zone:
            zone = zone_by_name(region, availability_zone)
            bad = ("availabilityZone", availability_zone)
        elif availability_zone_id:
            zone = zone_by_id(region, availability_zone_id)
            bad = ("availabilityZoneId", availability_zone_id)
        else:
            zone, bad = pick_zone(region), ("availabilityZone", "")
        if zone is None:
            # AWS's text for a zone name (seen in widdix/aws-cf-templates#36); moto checks against every region's
            # zones, so a us-west-2 zone was accepted for a us-east-1 VPC. The id variant is worded alike.
            raise EC2ClientError(
                "InvalidParameterValue",
                f"Value ({bad[1]}) for parameter {bad[0]} is invalid. Subnets can currently only be created in the "
                f"following availability zones: {', '.join(z.name for z in zones(region))}.",
            )
        # always by name: moto files a subnet created by zone id under the key None
        availability_zone, availability_zone_id = zone.name, None
    return original(backend, vpc_id, cidr_block, ipv6_cidr_block, availability_zone, availability_zone_id,
                    *args, **kwargs)


def _seeded_choice(candidates):
    """moto's CreateSubnet response picks the AZ with an unseeded random.choice before the model sees the request;
    answering that choice with pick_zone() makes the pick reproducible under --seed."""
    region = candidates[0].region_name if candidates else world().config.region
    picked = pick_zone(region)
    return next((z for z in candidates if z.name == picked.name), picked)


# --- CreateVpcEndpoint (Interface) -----------------------------------------------------------------------------


def service_zones(backend, service_name: str) -> list[str] | None:
    """The AZ names `service_name` serves, as DescribeVpcEndpointServices lists them; None for an unknown service."""
    services = backend._collect_default_endpoint_services(backend.account_id, backend.region_name)
    services = list(services) + [c.to_dict() for c in backend.configurations.values()]
    for service in services:
        if service["ServiceName"] == service_name:
            return list(service.get("AvailabilityZones") or [])
    return None


def _create_endpoint(original, backend, *args, **kwargs):
    endpoint_type = kwargs.get("endpoint_type") or ""
    service_name = kwargs.get("service_name") or ""
    if endpoint_type.lower() == "interface":
        served = service_zones(backend, service_name)
        seen: set[str] = set()
        for subnet_id in kwargs.get("subnet_ids") or []:
            zone = backend.get_subnet(subnet_id).availability_zone
            if served is not None and zone not in served:
                # terraform-aws-modules/terraform-aws-vpc#785 and #462, aws/aws-cdk#4912: InvalidParameter, this text
                raise EC2ClientError(
                    "InvalidParameter",
                    f"The VPC endpoint service {service_name} does not support the availability zone of the "
                    f"subnet: {subnet_id}.",
                )
            if zone in seen:
                # terraform-aws-modules/terraform-aws-vpc#451 and #583: DuplicateSubnetsInSameZone, this text
                raise EC2ClientError(
                    "DuplicateSubnetsInSameZone",
                    f"Found another VPC endpoint subnet in the availability zone of {subnet_id}. VPC endpoint "
                    f"subnets should be in different availability zones supported by the VPC endpoint service.",
                )
            seen.add(zone)
    return original(backend, *args, **kwargs)


class _SeededRandom:
    """Stands in for the `random` module in moto's subnet responses: its one use there is choice()."""

    choice = staticmethod(_seeded_choice)


@once
def install() -> None:
    """Apply the table and the checks (after ec2_patches, whose wrappers these wrap)."""
    from moto.ec2.responses import subnets as subnet_responses

    _apply_table()
    wrap(EC2Backend, "describe_instance_type_offerings")(_describe_offerings)
    wrap(EC2Backend, "run_instances")(_run_instances)
    wrap(EC2Backend, "create_subnet")(_create_subnet)
    wrap(EC2Backend, "create_vpc_endpoint")(_create_endpoint)
    replace(subnet_responses, "random", _SeededRandom())
