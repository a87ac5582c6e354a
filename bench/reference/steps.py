"""A boto3 reference of peerlab's steps, for `make bench` only: the same AWS calls, in the same order, as the Rust
handlers in functions/lab-core on the paths the benchmark takes (a fresh lab, home account and region). It is not
part of the product and handles fewer corners; `bench/run.py` checks, from the local AWS's call counts, that each
step made the same calls as the Rust one before comparing their times.

Errors are raised as `StepError(error_type, message)`, the names the state machine matches (NotReady, ...)."""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta, timezone

import boto3

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


def spec(kind: str, lab: dict, name: str, extra: dict | None = None) -> list[dict]:
    tags = [{"Key": LAB_ID, "Value": lab["lab_id"]}, {"Key": EXPIRES_AT, "Value": lab["expires_at"]},
            {"Key": "Name", "Value": name}]
    tags += [{"Key": k, "Value": v} for k, v in (extra or {}).items()]
    return [{"ResourceType": kind, "Tags": tags}]


def tag(resource: dict, key: str) -> str | None:
    return next((t["Value"] for t in resource.get("Tags", []) if t["Key"] == key), None)


# ---- validate-input ------------------------------------------------------------------------------------------

def validate_input(event: dict) -> dict:
    """The tutorial's defaults; the Rust step's full validation is not reproduced (no AWS calls either way)."""
    given = event.get("input") or {}
    lab_id = given.get("lab_id") or re.sub(r"[^a-z0-9-]", "-", event["execution_name"].lower())[:40]
    now = datetime.now(timezone.utc)
    ttl = given.get("ttl_seconds", 3600)
    return {"lab_id": lab_id,
            "vpc_a": {"cidr": DEFAULTS["vpc_a"][0], "subnet_cidr": DEFAULTS["vpc_a"][1]},
            "vpc_b": {"cidr": DEFAULTS["vpc_b"][0], "subnet_cidr": DEFAULTS["vpc_b"][1]},
            "instance_type": "t3.micro", "ami": None, "allow": "all", "hold_seconds": 0, "ttl_seconds": ttl,
            "expires_at": (now + timedelta(seconds=ttl)).strftime("%Y-%m-%dT%H:%M:%SZ"), "peer": None}


# ---- create-vpc ----------------------------------------------------------------------------------------------

def create_vpc(event: dict) -> dict:
    ec2 = client("ec2")
    lab, side = event["lab"], event["side"]
    plan = lab[f"vpc_{side}"]
    letter = side.upper()
    side_filters = [{"Name": f"tag:{LAB_ID}", "Values": [lab["lab_id"]]}, {"Name": f"tag:{SIDE_TAG}", "Values": [side]}]
    extra = {SIDE_TAG: side}
    vpcs = ec2.describe_vpcs(Filters=side_filters)["Vpcs"]
    vpc_id = vpcs[0]["VpcId"] if vpcs else ec2.create_vpc(
        CidrBlock=plan["cidr"], TagSpecifications=spec("vpc", lab, f"Vpc{letter}", extra))["Vpc"]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                            {"Name": "cidr-block", "Values": [plan["subnet_cidr"]]}])["Subnets"]
    subnet_id = subnets[0]["SubnetId"] if subnets else ec2.create_subnet(
        VpcId=vpc_id, CidrBlock=plan["subnet_cidr"],
        TagSpecifications=spec("subnet", lab, f"PrivateSubnet{letter}", extra))["Subnet"]["SubnetId"]

    def ensure_group(name: str, description: str, tag_name: str) -> tuple[str, bool]:
        found = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                                      {"Name": "group-name", "Values": [name]}])["SecurityGroups"]
        if found:
            return found[0]["GroupId"], False
        made = ec2.create_security_group(GroupName=name, Description=description, VpcId=vpc_id,
                                         TagSpecifications=spec("security-group", lab, tag_name, extra))
        return made["GroupId"], True

    group_id, _ = ensure_group(f"peerlab-{lab['lab_id']}-instance-{side}",
                               f"peerlab: instance {letter} of lab {lab['lab_id']}", f"InstanceSecurityGroup{letter}")
    endpoint_ids = []
    region = ec2.meta.region_name
    if side == "a":
        ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsSupport={"Value": True})
        ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
        https, created = ensure_group(f"peerlab-{lab['lab_id']}-ssm-endpoints",
                                      "peerlab: HTTPS from the VPC to the SSM interface endpoints", "SsmEndpoints")
        if created:
            ec2.authorize_security_group_ingress(GroupId=https, IpPermissions=[{
                "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                "IpRanges": [{"CidrIp": plan["cidr"], "Description": "HTTPS from the VPC"}]}])
        for service in SSM_SERVICES:
            name = f"com.amazonaws.{region}.{service}"
            found = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                                        {"Name": "service-name", "Values": [name]}])["VpcEndpoints"]
            live = [e for e in found if e["State"].lower() not in ("deleted", "deleting", "failed", "rejected", "expired")]
            if live:
                endpoint_ids.append(live[0]["VpcEndpointId"])
                continue
            made = ec2.create_vpc_endpoint(
                VpcId=vpc_id, ServiceName=name, VpcEndpointType="Interface", SubnetIds=[subnet_id],
                SecurityGroupIds=[https], PrivateDnsEnabled=True,
                ClientToken=f"peerlab-{lab['lab_id']}-{side}-{service}"[:64],
                TagSpecifications=spec("vpc-endpoint", lab, f"{service.upper()}Endpoint", extra))
            endpoint_ids.append(made["VpcEndpoint"]["VpcEndpointId"])
    reservations = ec2.describe_instances(Filters=side_filters + [
        {"Name": "instance-state-name", "Values": ["pending", "running"]}])["Reservations"]
    instances = [i for r in reservations for i in r["Instances"]]
    if instances:
        instance = instances[0]
    else:
        ami = client("ssm").get_parameter(Name=AMI_X86)["Parameter"]["Value"]
        run = dict(ImageId=ami, InstanceType=lab["instance_type"], MinCount=1, MaxCount=1, SubnetId=subnet_id,
                   SecurityGroupIds=[group_id], ClientToken=f"peerlab-{lab['lab_id']}-{side}-instance"[:64],
                   TagSpecifications=spec("instance", lab, f"Instance{letter}", extra))
        if side == "a":
            run["IamInstanceProfile"] = {"Name": os.environ["PEERLAB_INSTANCE_PROFILE"]}
        instance = ec2.run_instances(**run)["Instances"][0]
    state = instance["State"]["Name"]
    if state != "running":
        raise not_ready(f"instance {letter} ({instance['InstanceId']}) is {state}")
    return {"side": side, "region": region, "vpc_id": vpc_id, "cidr": plan["cidr"], "subnet_id": subnet_id,
            "security_group_id": group_id, "instance_id": instance["InstanceId"],
            "private_ip": instance.get("PrivateIpAddress", ""), "endpoint_ids": endpoint_ids}


# ---- peering ---------------------------------------------------------------------------------------------------

def request_peering(event: dict) -> dict:
    ec2 = client("ec2")
    lab, a, b = event["lab"], event["vpc_a"], event["vpc_b"]
    found = ec2.describe_vpc_peering_connections(Filters=[
        {"Name": f"tag:{LAB_ID}", "Values": [lab["lab_id"]]},
        {"Name": "requester-vpc-info.vpc-id", "Values": [a["vpc_id"]]},
        {"Name": "accepter-vpc-info.vpc-id", "Values": [b["vpc_id"]]}])["VpcPeeringConnections"]
    live = [p for p in found if p["Status"]["Code"] in ("initiating-request", "pending-acceptance", "provisioning", "active")]
    if live:
        return {"peering_id": live[0]["VpcPeeringConnectionId"], "status": live[0]["Status"]["Code"]}
    pcx = ec2.create_vpc_peering_connection(
        VpcId=a["vpc_id"], PeerVpcId=b["vpc_id"],
        TagSpecifications=spec("vpc-peering-connection", lab, "VpcA-VpcB"))["VpcPeeringConnection"]
    return {"peering_id": pcx["VpcPeeringConnectionId"], "status": pcx["Status"]["Code"]}


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
        status = ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pid)["VpcPeeringConnection"]["Status"]["Code"]
    if status in ("failed", "rejected", "expired", "deleted", "deleting"):
        raise StepError("PeeringFailed", f"peering {pid} is {status}")
    if status != "active":
        raise not_ready(f"peering {pid} is {status}")
    return {"peering_id": pid, "status": status}


def add_routes(event: dict) -> dict:
    ec2 = client("ec2")
    pid, routes = event["peering_id"], []
    for src, dst in ((event["vpc_a"], event["vpc_b"]), (event["vpc_b"], event["vpc_a"])):
        tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [src["vpc_id"]]}])["RouteTables"]
        for table in tables:
            existing = [r for r in table.get("Routes", []) if r.get("DestinationCidrBlock") == dst["cidr"]]
            if existing and existing[0].get("VpcPeeringConnectionId") == pid:
                action = "existing"
            elif existing:
                raise StepError("RouteConflict", f"{table['RouteTableId']} routes {dst['cidr']} elsewhere")
            else:
                ec2.create_route(RouteTableId=table["RouteTableId"], DestinationCidrBlock=dst["cidr"],
                                 VpcPeeringConnectionId=pid)
                action = "created"
            routes.append({"route_table_id": table["RouteTableId"], "destination": dst["cidr"], "action": action})
    return {"routes": routes}


def update_sg(event: dict) -> dict:
    ec2 = client("ec2")
    lab, a, b = event["lab"], event["vpc_a"], event["vpc_b"]
    found = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [b["vpc_id"]]},
                                                  {"Name": "group-name", "Values": ["InstanceB"]}])["SecurityGroups"]
    group_id = found[0]["GroupId"] if found else ec2.create_security_group(
        GroupName="InstanceB", Description="peerlab: admits instance A over the peering", VpcId=b["vpc_id"],
        TagSpecifications=spec("security-group", lab, "InstanceB", {SIDE_TAG: "b"}))["GroupId"]
    try:
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[{
            "IpProtocol": "-1",
            "UserIdGroupPairs": [{"GroupId": a["security_group_id"], "Description": "peerlab: from instance A"}]}])
    except Exception as err:  # noqa: BLE001
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
        "routes": [],
    }
    peerings = {p for p, _ in inv["peerings"]}
    if inv["vpcs"] and peerings:
        for t in ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": inv["vpcs"]}])["RouteTables"]:
            for r in t.get("Routes", []):
                if r.get("VpcPeeringConnectionId") in peerings and r.get("DestinationCidrBlock"):
                    inv["routes"].append((t["RouteTableId"], r["DestinationCidrBlock"]))
    return inv


def _live(inv: dict) -> list[str]:
    return ([f"instance {i}" for i, _, s in inv["instances"] if s != "terminated"]
            + [f"vpc-endpoint {e}" for e, _, s in inv["endpoints"] if s not in ("deleted", "rejected", "failed", "expired")]
            + [f"vpc-peering-connection {p}" for p, s in inv["peerings"] if s not in ("deleted", "rejected", "failed", "expired")]
            + [f"security-group {g['GroupId']}" for g in inv["groups"]]
            + [f"subnet {s}" for s, _ in inv["subnets"]] + [f"vpc {v}" for v in inv["vpcs"]])


def _pass(ec2, inv: dict) -> list[str]:
    deleted = []

    def attempt(ident, call, **kw) -> bool:
        try:
            call(**kw)
            deleted.append(ident)
            return True
        except Exception as err:  # noqa: BLE001
            c = code(err)
            if c.endswith(".NotFound"):
                return True
            if c in ("DependencyViolation", "InvalidGroup.InUse", "IncorrectState", "InvalidState"):
                return False
            raise

    def busy(vpc):
        return (any(v == vpc and s != "terminated" for _, v, s in inv["instances"])
                or any(v == vpc and s not in ("deleted", "rejected", "failed", "expired") for _, v, s in inv["endpoints"]))

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
    for sid, vpc in inv["subnets"]:
        if busy(vpc) or not attempt(sid, ec2.delete_subnet, SubnetId=sid):
            clear.discard(vpc)
    peering_live = any(s not in ("deleted", "rejected", "failed", "expired", "deleting") for _, s in inv["peerings"])
    for vpc in inv["vpcs"]:
        if vpc in clear and not busy(vpc) and not peering_live:
            attempt(vpc, ec2.delete_vpc, VpcId=vpc)
    return deleted


def teardown(event: dict) -> dict:
    ec2 = client("ec2")
    lab_id = event.get("lab_id") or event["lab"]["lab_id"]
    deleted = _pass(ec2, _discover(ec2, lab_id))
    remaining = _live(_discover(ec2, lab_id))
    if remaining:
        raise not_ready(f"teardown of {lab_id} in progress; remaining: {', '.join(remaining)}")
    return {"lab_ids": [lab_id], "deleted": deleted, "remaining": []}


HANDLERS = {"validate-input": validate_input, "create-vpc": create_vpc, "request-peering": request_peering,
            "accept-peering": accept_peering, "add-routes": add_routes, "update-sg": update_sg,
            "ping-test": ping_test, "teardown": teardown}
