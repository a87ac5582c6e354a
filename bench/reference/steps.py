"""A boto3 reference of peerlab's steps, for `make bench` only: the same AWS calls, in the same order, as the Rust
handlers in functions/lab-core on the paths the benchmark takes (a fresh lab, home account and region). It is not
part of the product and handles fewer corners; `bench/run.py` checks, from the local AWS's call counts, that each
step made the same calls as the Rust one before comparing their times.

Mirrored (functions/lab-core/src, one module per step): validate-input asks the instance type's architecture
(DescribeInstanceTypes) and places both sides (validate_input/placement.rs: DescribeAvailabilityZones,
DescribeInstanceTypeOfferings, DescribeVpcEndpointServices); create-vpc (create_vpc/) waits for its new VPC with the
VpcExists waiter (DescribeVpcs by id), puts the subnet in the planned zone, gives it the lab's own route table
(CreateRouteTable with ClientToken and tags, AssociateRouteTable), and on side A creates the endpoints first and
launches the instance only once both are available; request-peering polls DescribeVpcPeeringConnections by id until
its new peering is visible (request_peering.rs); add-routes changes only tables tagged for the lab (add_routes.rs);
teardown (teardown/) finds route tables by tag, disassociates and deletes them. Every Invalid...NotFound of error.rs's
NOT_VISIBLE_YET (and DependencyViolation, IncorrectState) is NotReady, throttling is Throttled, as in error.rs.

Corners left out (the Rust handles them; a fresh lab at home never meets them): validate-input's checks of the
input (it takes the tutorial's defaults and lab_id only) and a requested availability_zone; a peer account or
region (accept, routes and teardown in a second scope, update-sg's cross-account/cross-region rules, `allow`
other than "all"); resource conflicts (a VPC of the lab with another CIDR, a group of the same name not tagged
for the lab, a subnet associated with another table); the AMI from the input or an arm64 instance type; the
InsufficientInstanceCapacity and instance-profile retries of RunInstances; ping-test's diagnosis after a failed
ping; create-vpc waiting while an endpoint of the same service is still deleting in the VPC; teardown's sweep and
backstop modes, `known_ids`, the quiet period after a failure, and revoking rules one by one after a NotFound.

Errors are raised as `StepError(error_type, message)`, the names the state machine matches (NotReady, ...)."""

from __future__ import annotations

import os
import re
import time
from datetime import UTC, datetime, timedelta

import boto3
from botocore.exceptions import WaiterError

LAB_ID, EXPIRES_AT, SIDE_TAG = "peerlab:lab-id", "peerlab:expires-at", "peerlab:side"
AMI_X86 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
SSM_SERVICES = ("ssm", "ssmmessages")
DOCUMENT = "AWS-RunShellScript"
DEFAULTS = {"vpc_a": ("10.0.0.0/16", "10.0.1.0/24"), "vpc_b": ("10.1.0.0/16", "10.1.1.0/24")}


class StepError(Exception):
    def __init__(self, error_type: str, message: str):
        super().__init__(message)
        self.error_type = error_type


def not_ready(message: str) -> StepError:
    return StepError("NotReady", message)


_clients: dict[str, object] = {}


def client(service: str):
    # created once per process, as the Rust functions build theirs once at start
    if service not in _clients:
        _clients[service] = boto3.client(service, region_name=os.environ.get("AWS_REGION", "us-east-1"))
    return _clients[service]


def code(err) -> str:
    return getattr(err, "response", {}).get("Error", {}).get("Code", "")


# error.rs: THROTTLING -> Throttled; TRANSIENT and NOT_VISIBLE_YET -> NotReady (a new resource answers NotFound for
# a while: EC2 API reference, "Eventual consistency in the Amazon EC2 API")
THROTTLING = ("RequestLimitExceeded", "Throttling", "ThrottlingException", "ThrottledException",
              "TooManyRequestsException", "RequestThrottled", "RequestThrottledException")
TRANSIENT = ("DependencyViolation", "IncorrectState")
NOT_VISIBLE_YET = ("InvalidVpcID.NotFound", "InvalidSubnetID.NotFound", "InvalidGroup.NotFound",
                   "InvalidGroupId.NotFound", "InvalidRouteTableID.NotFound", "InvalidNetworkAclID.NotFound",
                   "InvalidVpcEndpointId.NotFound", "InvalidInstanceID.NotFound",
                   "InvalidVpcPeeringConnectionID.NotFound", "InvalidVpcPeeringConnectionId.NotFound",
                   "InvalidNetworkInterfaceID.NotFound")


def aws_error(action: str, err: Exception) -> Exception:
    """error.rs aws_error: classify an AWS error by its code."""
    c = code(err)
    if not c:
        return err
    if c in THROTTLING:
        return StepError("Throttled", f"{action}: {c}: {err}")
    if c in TRANSIENT or c in NOT_VISIBLE_YET:
        return not_ready(f"{action}: {c}: {err}")
    return err


def spec(kind: str, lab: dict, name: str, extra: dict | None = None) -> list[dict]:
    tags = [{"Key": LAB_ID, "Value": lab["lab_id"]}, {"Key": EXPIRES_AT, "Value": lab["expires_at"]},
            {"Key": "Name", "Value": name}]
    tags += [{"Key": k, "Value": v} for k, v in (extra or {}).items()]
    return [{"ResourceType": kind, "Tags": tags}]


def tag(resource: dict, key: str) -> str | None:
    return next((t["Value"] for t in resource.get("Tags", []) if t["Key"] == key), None)


# ---- validate-input ------------------------------------------------------------------------------------------

def validate_input(event: dict) -> dict:
    """The tutorial's defaults (the Rust step's validation of the input is not reproduced: no AWS calls either
    way), the instance type's architecture, then validate_input/placement.rs: each side in the first zone (by name)
    that offers the instance type and, for A, both SSM
    endpoint services; B in the same account and region takes the same zones without the endpoint condition."""
    given = event.get("input") or {}
    lab_id = given.get("lab_id") or re.sub(r"[^a-z0-9-]", "-", event["execution_name"].lower())[:40]
    now = datetime.now(UTC)
    ttl = given.get("ttl_seconds", 3600)
    instance_type = "t3.micro"
    ec2 = client("ec2")
    region = ec2.meta.region_name
    described = ec2.describe_instance_types(InstanceTypes=[instance_type])["InstanceTypes"]
    supported = {a for t in described for a in t.get("ProcessorInfo", {}).get("SupportedArchitectures", [])}
    architecture = "x86_64" if "x86_64" in supported else "arm64"
    azs = ec2.describe_availability_zones(Filters=[{"Name": "zone-type", "Values": ["availability-zone"]}])
    zones = sorted((z["ZoneName"], z.get("ZoneId", "")) for z in azs["AvailabilityZones"]
                   if z.get("State") == "available")
    offering_type: set[str] = set()
    for page in ec2.get_paginator("describe_instance_type_offerings").paginate(
            LocationType="availability-zone", Filters=[{"Name": "instance-type", "Values": [instance_type]}]):
        offering_type |= {o["Location"] for o in page["InstanceTypeOfferings"]}
    names = [f"com.amazonaws.{region}.{s}" for s in SSM_SERVICES]
    details = ec2.describe_vpc_endpoint_services(ServiceNames=names)["ServiceDetails"]
    offering_endpoints = None
    for name in names:
        here = {z for d in details if d.get("ServiceName") == name for z in d.get("AvailabilityZones", [])}
        offering_endpoints = here if offering_endpoints is None else offering_endpoints & here

    def choose(needs_endpoints: bool) -> str:
        for zone, _ in zones:
            if zone in offering_type and (not needs_endpoints or zone in (offering_endpoints or set())):
                return zone
        raise StepError("InvalidInput", f"instance_type: no Availability Zone of {region} offers {instance_type}")

    return {"lab_id": lab_id,
            "vpc_a": {"cidr": DEFAULTS["vpc_a"][0], "subnet_cidr": DEFAULTS["vpc_a"][1],
                      "availability_zone": choose(True)},
            "vpc_b": {"cidr": DEFAULTS["vpc_b"][0], "subnet_cidr": DEFAULTS["vpc_b"][1],
                      "availability_zone": choose(False)},
            "instance_type": instance_type, "architecture": architecture, "ami": None,
            "allow": "all", "hold_seconds": 0, "ttl_seconds": ttl,
            "expires_at": (now + timedelta(seconds=ttl)).strftime("%Y-%m-%dT%H:%M:%SZ"), "peer": None}


# ---- create-vpc ----------------------------------------------------------------------------------------------

VPC_VISIBLE_WITHIN = 10  # seconds: create_vpc/network.rs VPC_VISIBLE_WITHIN (twice the visibility lag's p99)
ENDPOINT_GONE = ("deleted", "deleting", "failed", "rejected", "expired")


def create_vpc(event: dict) -> dict:
    ec2 = client("ec2")
    lab, side = event["lab"], event["side"]
    plan = lab[f"vpc_{side}"]
    letter = side.upper()
    side_filters = [{"Name": f"tag:{LAB_ID}", "Values": [lab["lab_id"]]}, {"Name": f"tag:{SIDE_TAG}", "Values": [side]}]
    extra = {SIDE_TAG: side}
    token = lambda what: f"peerlab-{lab['lab_id']}-{side}-{what}"[:64]  # noqa: E731 - create_vpc.rs client_token
    # ensure_vpc: found by tag, else created and waited for with the VpcExists waiter (DescribeVpcs by id; the Rust
    # SDK's waiter asks at once, then after 1 s, ...: boto3's waiter does the same with Delay=1)
    vpcs = ec2.describe_vpcs(Filters=side_filters)["Vpcs"]
    if vpcs:
        vpc_id = vpcs[0]["VpcId"]
    else:
        vpc_id = ec2.create_vpc(CidrBlock=plan["cidr"],
                                TagSpecifications=spec("vpc", lab, f"Vpc{letter}", extra))["Vpc"]["VpcId"]
        try:
            ec2.get_waiter("vpc_exists").wait(VpcIds=[vpc_id],
                                              WaiterConfig={"Delay": 1, "MaxAttempts": VPC_VISIBLE_WITHIN})
        except WaiterError as err:
            raise not_ready(f"VPC {vpc_id} was created but is not visible yet: {err}") from None
    # ensure_subnet: in the zone validate-input chose
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                            {"Name": "cidr-block", "Values": [plan["subnet_cidr"]]}])["Subnets"]
    if subnets:
        subnet = subnets[0]
    else:
        try:
            subnet = ec2.create_subnet(
                VpcId=vpc_id, CidrBlock=plan["subnet_cidr"], AvailabilityZone=plan["availability_zone"],
                TagSpecifications=spec("subnet", lab, f"PrivateSubnet{letter}", extra))["Subnet"]
        except Exception as err:  # noqa: BLE001
            if code(err) == "InvalidSubnet.Conflict":
                raise not_ready(f"subnet {plan['subnet_cidr']} of {vpc_id} exists but is not listed yet") from None
            raise
    subnet_id = subnet["SubnetId"]
    # ensure_route_table: the lab's own, found by tag, else created with a ClientToken; associated unless it is
    tables = ec2.describe_route_tables(Filters=side_filters + [{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]
    table = tables[0] if tables else ec2.create_route_table(
        VpcId=vpc_id, ClientToken=token("route-table"),
        TagSpecifications=spec("route-table", lab, f"RouteTable{letter}", extra))["RouteTable"]
    route_table_id = table["RouteTableId"]
    if not any(a.get("SubnetId") == subnet_id for a in table.get("Associations", [])):
        try:
            ec2.associate_route_table(RouteTableId=route_table_id, SubnetId=subnet_id)
        except Exception as err:  # noqa: BLE001
            if code(err) != "Resource.AlreadyAssociated":
                raise
            now = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}])
            if not any(t["RouteTableId"] == route_table_id for t in now["RouteTables"]):
                raise StepError("ResourceConflict", f"{subnet_id} is associated with another route table") from None

    def ensure_group(name: str, description: str, tag_name: str) -> tuple[str, list]:
        found = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                                      {"Name": "group-name", "Values": [name]}])["SecurityGroups"]
        if found:
            return found[0]["GroupId"], found[0].get("IpPermissions", [])
        try:
            made = ec2.create_security_group(GroupName=name, Description=description, VpcId=vpc_id,
                                             TagSpecifications=spec("security-group", lab, tag_name, extra))
        except Exception as err:  # noqa: BLE001
            if code(err) == "InvalidGroup.Duplicate":
                raise not_ready(f"security group {name} is being created") from None
            raise
        return made["GroupId"], []

    group_id, _ = ensure_group(f"peerlab-{lab['lab_id']}-instance-{side}",
                               f"peerlab: instance {letter} of lab {lab['lab_id']}", f"InstanceSecurityGroup{letter}")
    endpoints = []  # (id, state)
    region = ec2.meta.region_name
    if side == "a":
        https, rules = ensure_group(f"peerlab-{lab['lab_id']}-ssm-endpoints",
                                    "peerlab: HTTPS from the VPC to the SSM interface endpoints", "SsmEndpoints")
        if not any(r.get("FromPort") == 443 for r in rules):
            # ssm_access.rs: the DNS attributes just before the group's rule, so a group with it means they are on
            ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsSupport={"Value": True})
            ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
            try:
                ec2.authorize_security_group_ingress(GroupId=https, IpPermissions=[{
                    "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                    "IpRanges": [{"CidrIp": plan["cidr"], "Description": "HTTPS from the VPC"}]}])
            except Exception as err:  # noqa: BLE001
                if code(err) != "InvalidPermission.Duplicate":
                    raise
        for service in SSM_SERVICES:
            name = f"com.amazonaws.{region}.{service}"
            found = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                                        {"Name": "service-name", "Values": [name]}])["VpcEndpoints"]
            live = [e for e in found if e["State"].lower() not in ENDPOINT_GONE]
            endpoint = live[0] if live else ec2.create_vpc_endpoint(
                VpcId=vpc_id, ServiceName=name, VpcEndpointType="Interface", SubnetIds=[subnet_id],
                SecurityGroupIds=[https], PrivateDnsEnabled=True, ClientToken=token(service),
                TagSpecifications=spec("vpc-endpoint", lab, f"{service.upper()}Endpoint", extra))["VpcEndpoint"]
            endpoints.append((endpoint["VpcEndpointId"], endpoint.get("State", "pending").lower()))
    reservations = ec2.describe_instances(Filters=side_filters + [
        {"Name": "instance-state-name", "Values": ["pending", "running"]}])["Reservations"]
    instances = [i for r in reservations for i in r["Instances"]]
    if instances:
        instance = instances[0]
    else:
        # launch A only once its agent's first ping can succeed (create_vpc.rs)
        pending = [f"{e} ({s})" for e, s in endpoints if s != "available"]
        if pending:
            raise not_ready(f"instance A waits for its SSM endpoints to be available: {', '.join(pending)}")
        ami = client("ssm").get_parameter(Name=AMI_X86)["Parameter"]["Value"]
        run = dict(ImageId=ami, InstanceType=lab["instance_type"], MinCount=1, MaxCount=1, SubnetId=subnet_id,
                   SecurityGroupIds=[group_id], ClientToken=token("instance"),
                   TagSpecifications=spec("instance", lab, f"Instance{letter}", extra))
        if side == "a":
            run["IamInstanceProfile"] = {"Name": os.environ["PEERLAB_INSTANCE_PROFILE"]}
        instance = ec2.run_instances(**run)["Instances"][0]
    state = instance["State"]["Name"]
    if state != "running":
        raise not_ready(f"instance {letter} ({instance['InstanceId']}) is {state}")
    return {"side": side, "region": region, "vpc_id": vpc_id, "cidr": plan["cidr"], "subnet_id": subnet_id,
            "route_table_id": route_table_id, "availability_zone": subnet.get("AvailabilityZone", ""),
            "availability_zone_id": subnet.get("AvailabilityZoneId", ""), "security_group_id": group_id,
            "instance_id": instance["InstanceId"], "private_ip": instance.get("PrivateIpAddress", ""),
            "endpoint_ids": [e for e, _ in endpoints]}


# ---- peering ---------------------------------------------------------------------------------------------------

def request_peering(event: dict) -> dict:
    ec2 = client("ec2")
    lab, a, b = event["lab"], event["vpc_a"], event["vpc_b"]
    found = ec2.describe_vpc_peering_connections(Filters=[
        {"Name": f"tag:{LAB_ID}", "Values": [lab["lab_id"]]},
        {"Name": "requester-vpc-info.vpc-id", "Values": [a["vpc_id"]]},
        {"Name": "accepter-vpc-info.vpc-id", "Values": [b["vpc_id"]]}])["VpcPeeringConnections"]
    live = [p for p in found
            if p["Status"]["Code"] in ("initiating-request", "pending-acceptance", "provisioning", "active")]
    if live:
        return {"peering_id": live[0]["VpcPeeringConnectionId"], "status": live[0]["Status"]["Code"]}
    pcx = ec2.create_vpc_peering_connection(
        VpcId=a["vpc_id"], PeerVpcId=b["vpc_id"],
        TagSpecifications=spec("vpc-peering-connection", lab, "VpcA-VpcB"))["VpcPeeringConnection"]
    pid = pcx["VpcPeeringConnectionId"]
    # request_peering.rs: wait (every 0.5 s, up to VPC_VISIBLE_WITHIN) until the new peering is visible by id
    started = time.monotonic()
    while True:
        try:
            ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=[pid])
            break
        except Exception as err:  # noqa: BLE001
            if code(err) != "InvalidVpcPeeringConnectionID.NotFound" \
                    or time.monotonic() - started >= VPC_VISIBLE_WITHIN:
                raise
            time.sleep(0.5)
    return {"peering_id": pid, "status": pcx["Status"]["Code"]}


def accept_peering(event: dict) -> dict:
    ec2 = client("ec2")
    pid = event["peering_id"]
    try:
        found = ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=[pid])["VpcPeeringConnections"]
    except Exception as err:  # noqa: BLE001 - the Rust step's NotFound branch
        if code(err) != "InvalidVpcPeeringConnectionID.NotFound":
            raise
        found = []
    if not found:
        raise not_ready(f"peering {pid} is not visible yet (eventual consistency)")
    status = found[0]["Status"]["Code"]
    if status == "pending-acceptance":
        try:
            accepted = ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pid)["VpcPeeringConnection"]
            status = accepted["Status"]["Code"]
        except Exception as err:  # noqa: BLE001
            if code(err) in ("InvalidVpcPeeringConnectionID.NotFound", "InvalidStateTransition"):
                raise not_ready(f"peering {pid} could not be accepted yet: {code(err)}") from None
            raise
    if status in ("failed", "rejected", "expired", "deleted", "deleting"):
        raise StepError("PeeringFailed", f"peering {pid} is {status}")
    if status != "active":
        raise not_ready(f"peering {pid} is {status}")
    return {"peering_id": pid, "status": status}


def add_routes(event: dict) -> dict:
    """add_routes.rs: only in the route tables tagged for the lab (the VPC's main table is never touched)."""
    ec2 = client("ec2")
    pid, lab_id, routes = event["peering_id"], event["lab"]["lab_id"], []
    for src, dst in ((event["vpc_a"], event["vpc_b"]), (event["vpc_b"], event["vpc_a"])):
        tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [src["vpc_id"]]},
                                                    {"Name": f"tag:{LAB_ID}", "Values": [lab_id]}])["RouteTables"]
        added = []
        for table in tables:
            existing = [r for r in table.get("Routes", []) if r.get("DestinationCidrBlock") == dst["cidr"]]
            if existing and existing[0].get("VpcPeeringConnectionId") == pid:
                action = "existing"
            elif existing:
                raise StepError("RouteConflict", f"{table['RouteTableId']} routes {dst['cidr']} elsewhere")
            else:
                try:
                    ec2.create_route(RouteTableId=table["RouteTableId"], DestinationCidrBlock=dst["cidr"],
                                     VpcPeeringConnectionId=pid)
                except Exception as err:  # noqa: BLE001
                    if code(err) in ("RouteAlreadyExists", "InvalidVpcPeeringConnectionID.NotFound"):
                        raise not_ready(f"route to {dst['cidr']} in {table['RouteTableId']}: {code(err)}") from None
                    raise
                action = "created"
            added.append({"route_table_id": table["RouteTableId"], "destination": dst["cidr"], "action": action})
        if not added:
            raise not_ready(f"{src['vpc_id']} has no route table of lab {lab_id} yet (or it is not listed yet)")
        routes += added
    return {"routes": routes}


def update_sg(event: dict) -> dict:
    ec2 = client("ec2")
    lab, a, b = event["lab"], event["vpc_a"], event["vpc_b"]
    found = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [b["vpc_id"]]},
                                                  {"Name": "group-name", "Values": ["InstanceB"]}])["SecurityGroups"]
    if found:
        group_id = found[0]["GroupId"]
    else:
        try:
            group_id = ec2.create_security_group(
                GroupName="InstanceB", Description="peerlab: admits instance A over the peering", VpcId=b["vpc_id"],
                TagSpecifications=spec("security-group", lab, "InstanceB", {SIDE_TAG: "b"}))["GroupId"]
        except Exception as err:  # noqa: BLE001
            if code(err) == "InvalidGroup.Duplicate":
                raise not_ready("group InstanceB is being created") from None
            raise
    try:
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[{
            "IpProtocol": "-1",
            "UserIdGroupPairs": [{"GroupId": a["security_group_id"], "Description": "peerlab: from instance A"}]}])
    except Exception as err:  # noqa: BLE001 - update_sg.rs admit
        if code(err) == "InvalidGroup.NotFound":
            raise not_ready(f"a group of the rule for {group_id} is not visible yet") from None
        if code(err) != "InvalidPermission.Duplicate":
            raise
    reservations = ec2.describe_instances(InstanceIds=[b["instance_id"]])["Reservations"]
    groups = [g["GroupId"] for r in reservations for i in r["Instances"] for g in i["SecurityGroups"]]
    if group_id not in groups:
        groups.append(group_id)
        ec2.modify_instance_attribute(InstanceId=b["instance_id"], Groups=groups)
    return {"security_group_id": group_id, "source": f"group {a['security_group_id']}", "protocol": "all",
            "instance_groups": groups}


# ---- ping-test -------------------------------------------------------------------------------------------------

PING_STATS = re.compile(r"(\d+) packets transmitted, (\d+) received.*?([\d.]+)% packet loss")
RTT = re.compile(r"rtt min/avg/max/mdev = [\d.]+/([\d.]+)/")


def ping_test(event: dict) -> dict:
    ssm = client("ssm")
    instance, target = event["vpc_a"]["instance_id"], event["vpc_b"]["private_ip"]
    info = ssm.describe_instance_information(Filters=[{"Key": "InstanceIds", "Values": [instance]}])
    if not any(i["InstanceId"] == instance and i["PingStatus"] == "Online" for i in info["InstanceInformationList"]):
        raise not_ready(f"instance A ({instance}) is not Online in SSM yet")
    comment = f"peerlab {event['lab']['lab_id']} {event['phase']}"[:100]
    newest = None
    for page in ssm.get_paginator("list_commands").paginate(InstanceId=instance):
        for c in page["Commands"]:
            if c.get("Comment") == comment and c.get("DocumentName") == DOCUMENT:
                at = c["RequestedDateTime"].timestamp()
                if newest is None or at > newest[0]:
                    newest = (at, c["CommandId"])
    command_id = newest[1] if newest else ssm.send_command(
        InstanceIds=[instance], DocumentName=DOCUMENT, Comment=comment, TimeoutSeconds=60,
        Parameters={"commands": [f"ping -c 3 -W 2 {target}"]})["Command"]["CommandId"]
    try:
        got = ssm.get_command_invocation(CommandId=command_id, InstanceId=instance)
    except Exception as err:  # noqa: BLE001
        if code(err) == "InvocationDoesNotExist":
            raise not_ready(f"command {command_id} not delivered to {instance} yet") from None
        raise
    if got["Status"] in ("Pending", "InProgress", "Delayed"):
        raise not_ready(f"command {command_id} is {got['Status']}")
    out = got.get("StandardOutputContent", "")
    stats = PING_STATS.search(out)
    if not stats:
        raise StepError("AwsError", f"command {command_id} ended without ping statistics")
    rtt = RTT.search(out)
    reachable = int(stats.group(2)) > 0
    passed = reachable == (event["expect"] == "reachable")
    if not passed:
        raise StepError("PingFailed" if event["expect"] == "reachable" else "ControlReachable", out)
    return {"reachable": reachable, "transmitted": int(stats.group(1)), "received": int(stats.group(2)),
            "loss_percent": float(stats.group(3)), "rtt_avg_ms": float(rtt.group(1)) if rtt else None,
            "expected": event["expect"], "passed": passed,
            "simulated": "simulated ping" in got.get("StandardErrorContent", ""),
            "command_id": command_id, "target_ip": target}


# ---- teardown --------------------------------------------------------------------------------------------------

def _discover(ec2, lab_id: str) -> dict:
    f = [{"Name": f"tag:{LAB_ID}", "Values": [lab_id]}]
    inv = {
        "instances": [(i["InstanceId"], i.get("VpcId", ""), i["State"]["Name"])
                      for r in ec2.describe_instances(Filters=f)["Reservations"] for i in r["Instances"]],
        "endpoints": [(e["VpcEndpointId"], e["VpcId"], e["State"].lower())
                      for e in ec2.describe_vpc_endpoints(Filters=f)["VpcEndpoints"]],
        "groups": ec2.describe_security_groups(Filters=f)["SecurityGroups"],
        "peerings": [(p["VpcPeeringConnectionId"], p["Status"]["Code"])
                     for p in ec2.describe_vpc_peering_connections(Filters=f)["VpcPeeringConnections"]],
        "subnets": [(s["SubnetId"], s["VpcId"]) for s in ec2.describe_subnets(Filters=f)["Subnets"]],
        "vpcs": [v["VpcId"] for v in ec2.describe_vpcs(Filters=f)["Vpcs"]],
        # an exercise's network ACL (nacl-deny), never a VPC's default one
        "acls": [(a["NetworkAclId"], a["VpcId"]) for a in ec2.describe_network_acls(Filters=f)["NetworkAcls"]],
        "tables": [], "routes": [],
    }
    # teardown/inventory.rs: the lab's route tables by tag (never the VPC's main one), their routes to the lab's
    # peerings, their explicit associations
    peerings = {p for p, _ in inv["peerings"]}
    for t in ec2.describe_route_tables(Filters=f)["RouteTables"]:
        for r in t.get("Routes", []):
            if r.get("VpcPeeringConnectionId") in peerings and r.get("DestinationCidrBlock"):
                inv["routes"].append((t["RouteTableId"], r["DestinationCidrBlock"]))
        inv["tables"].append((t["RouteTableId"], t.get("VpcId", ""),
                              [a["RouteTableAssociationId"] for a in t.get("Associations", [])
                               if not a.get("Main") and a.get("RouteTableAssociationId")]))
    return inv


GONE = ("deleted", "rejected", "failed", "expired")  # states in which a resource is no longer there


def _live(inv: dict) -> list[str]:
    return ([f"instance {i}" for i, _, s in inv["instances"] if s != "terminated"]
            + [f"vpc-endpoint {e}" for e, _, s in inv["endpoints"] if s not in GONE]
            + [f"vpc-peering-connection {p}" for p, s in inv["peerings"] if s not in GONE]
            + [f"security-group {g['GroupId']}" for g in inv["groups"]]
            + [f"route-table {t}" for t, _, _ in inv["tables"]]
            + [f"subnet {s}" for s, _ in inv["subnets"]] + [f"network-acl {a}" for a, _ in inv["acls"]]
            + [f"vpc {v}" for v in inv["vpcs"]])


def _pass(ec2, inv: dict) -> tuple[list[str], set[str]]:
    """What it deleted (or began to), and what is no longer there once it answered (execute.rs Pass)."""
    deleted, removed = [], set()

    def attempt(ident, call, **kw) -> bool:
        try:
            call(**kw)
            deleted.append(ident)
            removed.add(ident)
            return True
        except Exception as err:  # noqa: BLE001
            c = code(err)
            if c.endswith(".NotFound"):
                removed.add(ident)
                return True
            if c in ("DependencyViolation", "InvalidGroup.InUse", "IncorrectState", "InvalidState"):
                return False
            raise

    def busy(vpc):
        return (any(v == vpc and s != "terminated" for _, v, s in inv["instances"])
                or any(v == vpc and s not in GONE for _, v, s in inv["endpoints"]))

    terminate = [i for i, _, s in inv["instances"] if s in ("pending", "running", "stopping", "stopped")]
    if terminate:
        attempt(",".join(terminate), ec2.terminate_instances, InstanceIds=terminate)
    endpoints = [e for e, _, s in inv["endpoints"] if s not in ("deleted", "rejected", "failed", "expired", "deleting")]
    if endpoints:
        attempt(",".join(endpoints), ec2.delete_vpc_endpoints, VpcEndpointIds=endpoints)
    for g in inv["groups"]:
        for key, revoke in (("IpPermissions", ec2.revoke_security_group_ingress),
                            ("IpPermissionsEgress", ec2.revoke_security_group_egress)):
            refs = [p for p in g.get(key, []) if p.get("UserIdGroupPairs")]
            if refs:
                try:
                    revoke(GroupId=g["GroupId"], IpPermissions=refs)
                except Exception as err:  # noqa: BLE001
                    if not code(err).endswith(".NotFound"):
                        raise
    for table, dest in inv["routes"]:
        try:
            ec2.delete_route(RouteTableId=table, DestinationCidrBlock=dest)
            deleted.append(f"{table}:{dest}")
        except Exception as err:  # noqa: BLE001
            if not code(err).endswith(".NotFound"):
                raise
    for pid, status in inv["peerings"]:
        if status not in ("deleted", "rejected", "failed", "expired", "deleting"):
            attempt(pid, ec2.delete_vpc_peering_connection, VpcPeeringConnectionId=pid)
    clear = set(inv["vpcs"])
    for g in inv["groups"]:
        if busy(g["VpcId"]) or not attempt(g["GroupId"], ec2.delete_security_group, GroupId=g["GroupId"]):
            clear.discard(g["VpcId"])
    for table, vpc, associations in inv["tables"]:
        if busy(vpc):
            clear.discard(vpc)
            continue
        for association in associations:
            try:
                ec2.disassociate_route_table(AssociationId=association)
            except Exception as err:  # noqa: BLE001
                if not code(err).endswith(".NotFound"):
                    raise
        if not attempt(table, ec2.delete_route_table, RouteTableId=table):
            clear.discard(vpc)
    for sid, vpc in inv["subnets"]:
        if busy(vpc) or not attempt(sid, ec2.delete_subnet, SubnetId=sid):
            clear.discard(vpc)
    for aid, vpc in inv["acls"]:  # after the subnet it was associated with
        if busy(vpc) or not attempt(aid, ec2.delete_network_acl, NetworkAclId=aid):
            clear.discard(vpc)
    peering_live = any(s not in ("deleted", "rejected", "failed", "expired", "deleting") for _, s in inv["peerings"])
    for vpc in inv["vpcs"]:
        if vpc in clear and not busy(vpc) and not peering_live:
            attempt(vpc, ec2.delete_vpc, VpcId=vpc)
    # instances, endpoints and peerings only begin to go (plan.rs Deletion::removes)
    return deleted, removed - {i for i, _, _ in inv["instances"]} - {e for e, _, _ in inv["endpoints"]} - {
        p for p, _ in inv["peerings"]}


def teardown(event: dict) -> dict:
    ec2 = client("ec2")
    lab_id = event.get("lab_id") or event["lab"]["lab_id"]
    before = _discover(ec2, lab_id)
    deleted, removed = _pass(ec2, before)
    # teardown.rs: a VPC the pass found and did not delete is still there, so it lists what it left without
    # looking again; only a pass that deleted every VPC it found looks again
    remaining = [r for r in _live(before) if r.split()[1] not in removed]
    if not any(r.startswith("vpc ") for r in remaining):
        remaining = _live(_discover(ec2, lab_id))
    if remaining:
        raise not_ready(f"teardown of {lab_id} in progress; remaining: {', '.join(remaining)}")
    return {"lab_ids": [lab_id], "deleted": deleted, "remaining": []}


def _classified(handler):
    """Every AWS error not handled in the step is classified by its code, as error.rs aws_error does."""
    def run(event: dict) -> dict:
        try:
            return handler(event)
        except StepError:
            raise
        except Exception as err:  # noqa: BLE001
            raise aws_error(handler.__name__, err) from None
    return run


HANDLERS = {name: _classified(handler) for name, handler in {
    "validate-input": validate_input, "create-vpc": create_vpc, "request-peering": request_peering,
    "accept-peering": accept_peering, "add-routes": add_routes, "update-sg": update_sg,
    "ping-test": ping_test, "teardown": teardown}.items()}
