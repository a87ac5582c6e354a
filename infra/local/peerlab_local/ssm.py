"""SSM Run Command as AWS does it, for the instances of the simulated EC2 world.

- DescribeInstanceInformation lists an instance as Online once a health ping of its SSM Agent succeeded (agent.py:
  the first after boot, else the hibernation pings). A ping succeeds when the instance has an instance profile
  whose role can use SSM, and can reach SSM: interface endpoints for `ssm` and `ssmmessages` with private DNS in
  its VPC (DNS support and hostnames on), reachable on TCP 443 through security groups and network ACLs - or a
  default route to a NAT gateway (or an internet gateway with a public IP).
  (`ec2messages` is not required: SSM Agent 3.3.40+ uses ssmmessages instead.)
- State is per account and region: a caller sees only its own instances and commands there.
- SendCommand reaches only the instances named; refuses instances that are not Online and unknown documents.
- GetCommandInvocation answers InvocationDoesNotExist for the delivery delay, InProgress while the command runs,
  then Success or Failed.
- `ping -c N [-W T] [-i I] [-q] [-n] IP` in AWS-RunShellScript is simulated from the EC2 state (network.py) and
  printed like iputils ping; nothing is sent. Any other command fails with a clear message on stderr.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import shlex
import time
import uuid

from moto.ec2.models.instances import Instance

from . import agent, network
from .world import DEFAULT_ACCOUNT, all_ec2, world

SIMULATED_NOTE = ("[peerlab local AWS] simulated ping: computed from the EC2 state (routes, peering, security "
                  "groups, network ACLs); no packet was sent.")
DOCUMENTS = {"AWS-RunShellScript"}
SSM_POLICY = "AmazonSSMManagedInstanceCore"


class SsmError(Exception):
    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


# ---- who is Online ------------------------------------------------------------------------------------------


def _instances(account: str | None = None, region: str | None = None):
    """Instances of one account and region (a caller sees only its own), or of all when not given."""
    for owner, where, backend in all_ec2():
        if (account is not None and owner != account) or (region is not None and where != region):
            continue
        for instance in backend.all_instances():
            yield owner, where, instance


def _profile_problem(instance: Instance) -> str | None:
    profile = instance.iam_instance_profile
    if not profile:
        return "it has no instance profile"
    ref = profile.get("Arn") or profile.get("Name") if isinstance(profile, dict) else str(profile)
    name = str(ref).rsplit("/", 1)[-1]
    from moto.iam.models import iam_backends

    iam = iam_backends[instance.ec2_backend.account_id]["global"]
    found = next((p for p in iam.instance_profiles.values() if p.name == name), None)
    if found is None:
        return f"its instance profile {name} does not exist"
    if not found.roles:
        return f"instance profile {name} has no role"
    for role in found.roles:
        attached = [str(arn) for arn in getattr(role, "managed_policies", {}).keys()]
        inline = json.dumps(getattr(role, "policies", {}))
        if any(arn.endswith("/" + SSM_POLICY) for arn in attached) or "ssm:UpdateInstanceInformation" in inline \
                or '"ssm:*"' in inline:
            return None
    return f"the role of instance profile {name} lacks {SSM_POLICY}"


def _endpoint_for(backend, vpc_id: str, service: str):
    for endpoint in backend.vpc_end_points.values():
        if endpoint.vpc_id == vpc_id and endpoint.service_name == service:
            yield endpoint


def _network_problem(instance: Instance) -> str | None:
    backend = instance.ec2_backend
    source = network.find_endpoint_by_instance(instance)
    vpc = source.vpc
    region = backend.region_name
    problems = []
    for short in ("ssm", "ssmmessages"):
        service = f"com.amazonaws.{region}.{short}"
        candidates = list(_endpoint_for(backend, vpc.id, service))
        if not candidates:
            problems.append(f"no interface endpoint for {service} in {vpc.id}")
            continue
        reason = None
        for endpoint in candidates:
            reason = _endpoint_problem(backend, source, vpc, endpoint)
            if reason is None:
                break
        if reason is not None:
            problems.append(reason)
    if not problems:
        return None
    if _has_internet_path(backend, source, instance):
        return None
    return "; ".join(problems)


def _endpoint_problem(backend, source, vpc, endpoint) -> str | None:
    if endpoint.state != "available":
        return f"endpoint {endpoint.id} is {endpoint.state}"
    if (endpoint.vpc_endpoint_type or "").lower() != "interface":
        return f"endpoint {endpoint.id} is not an interface endpoint"
    if not endpoint.private_dns_enabled:
        return f"endpoint {endpoint.id} has private DNS off"
    if not (vpc.enable_dns_support and vpc.enable_dns_hostnames):
        return f"{vpc.id} needs DNS support and DNS hostnames on for the endpoints' private DNS"
    why = None
    for eni_id in endpoint.network_interface_ids:
        eni = backend.enis.get(eni_id)
        if eni is None:
            continue
        groups = [backend.get_security_group_from_id(g) for g in endpoint.security_group_ids]
        groups = [g for g in groups if g is not None] or list(eni._group_set)
        target = network.Endpoint(backend, backend.region_name, eni.private_ip_address, eni.subnet, vpc, groups)
        verdict = network.reach(source, target, network.TCP, 443)
        if verdict.reachable:
            return None
        why = f"HTTPS to endpoint {endpoint.id} is blocked: {verdict.reason}"
    return why or f"endpoint {endpoint.id} has no network interface"


def _has_internet_path(backend, source, instance) -> bool:
    table = network.route_table_for(backend, source.subnet)
    if table is None:
        return False
    for route in table.routes:
        if route.destination_cidr_block != "0.0.0.0/0":
            continue
        if route.nat_gateway is not None:
            return True
        gateway = route.gateway
        if gateway is not None and str(gateway.id).startswith("igw-") and instance.public_ip:
            return True
    return False


def ping_problem(instance: Instance) -> str | None:
    """Why the SSM Agent's health ping (UpdateInstanceInformation) would fail now, or None: credentials from the
    instance profile, then a way to reach SSM."""
    for check in (_profile_problem, _network_problem):
        problem = check(instance)
        if problem:
            return problem
    return None


def status(instance: Instance) -> tuple[bool, str]:
    """(online, reason) of the SSM agent on an instance, as DescribeInstanceInformation would see it: Online once
    a ping of its agent succeeded (agent.py: start-up after boot, then hibernation pings)."""
    if instance._state.name != "running":
        return False, f"instance is {instance._state.name}"
    running_agent = agent.agent_of(instance)
    if running_agent is not None and running_agent.state == "online":
        return True, "Online"
    return False, agent.describe(running_agent, ping_problem(instance))


# ---- commands -----------------------------------------------------------------------------------------------


class Commands:
    """The SSM state of one account in one region: its commands, and the instances it sees (its own, there)."""

    def __init__(self, account: str = DEFAULT_ACCOUNT, region: str | None = None):
        self.account, self.region = account, region or world().config.region
        self.commands: dict[str, dict] = {}

    def describe_instance_information(self, body: dict) -> dict:
        wanted: set[str] | None = None
        for item in body.get("InstanceInformationFilterList") or []:
            if item.get("key") == "InstanceIds":
                wanted = set(item.get("valueSet") or [])
        for item in body.get("Filters") or []:
            if item.get("Key") in ("InstanceIds", "tag:InstanceIds"):
                wanted = set(item.get("Values") or [])
        out = []
        for _, _, instance in _instances(self.account, self.region):
            if wanted is not None and instance.id not in wanted:
                continue
            online, _ = status(instance)
            if not online:
                continue
            out.append({
                "InstanceId": instance.id,
                "PingStatus": "Online",
                "LastPingDateTime": time.time(),
                "AgentVersion": "3.3.1142.0",
                "IsLatestVersion": True,
                "PlatformType": "Linux",
                "PlatformName": "Amazon Linux",
                "PlatformVersion": "2023",
                "ResourceType": "EC2Instance",
                "IPAddress": instance.private_ip,
                "ComputerName": f"ip-{instance.private_ip.replace('.', '-')}.ec2.internal",
                "AssociationStatus": "Success",
            })
        return {"InstanceInformationList": out}

    def send_command(self, body: dict) -> dict:
        document = body.get("DocumentName")
        if document not in DOCUMENTS:
            raise SsmError("InvalidDocument", f"Document with name {document} does not exist.")
        if body.get("Targets"):
            raise SsmError("InvalidParameters", "peerlab's local AWS supports SendCommand with InstanceIds only.")
        instance_ids = body.get("InstanceIds") or []
        if not instance_ids:
            raise SsmError("InvalidParameters", "InstanceIds is required.")
        commands = (body.get("Parameters") or {}).get("commands")
        if not commands or not isinstance(commands, list):
            raise SsmError("InvalidParameters", "Parameter \"commands\" is required by AWS-RunShellScript.")
        by_id = {i.id: i for _, _, i in _instances(self.account, self.region)}
        invalid = [i for i in instance_ids if i not in by_id or not status(by_id[i])[0]]
        if invalid:
            raise SsmError("InvalidInstanceId",
                           f"Instances [[{', '.join(invalid)}]] not in a valid state for account {self.account}")
        w = world()
        now = time.time()
        command_id = str(uuid.uuid4())
        invocations = {}
        for instance_id in instance_ids:
            stdout, stderr, code, duration = run_script(by_id[instance_id], commands)
            visible = w.now() + w.config.delay("command_delivery", key=f"{command_id}:{instance_id}")
            invocations[instance_id] = {
                "visible_at": visible,
                "done_at": visible + w.config.simulated(duration),
                "requested": now,
                "stdout": stdout, "stderr": stderr, "code": code,
            }
        command = {
            "CommandId": command_id,
            "DocumentName": document,
            "DocumentVersion": "$DEFAULT",
            "Comment": body.get("Comment", ""),
            "Parameters": body.get("Parameters") or {},
            "InstanceIds": instance_ids,
            "Targets": [],
            "RequestedDateTime": now,
            "ExpiresAfter": now + float(body.get("TimeoutSeconds") or 3600),
            "OutputS3Region": "",
            "MaxConcurrency": "50", "MaxErrors": "0",
            "TargetCount": len(instance_ids),
            "TimeoutSeconds": int(body.get("TimeoutSeconds") or 3600),
        }
        self.commands[command_id] = {"command": command, "invocations": invocations}
        return {"Command": self._command_view(command_id)}

    def _invocation_status(self, inv: dict) -> str:
        now = world().now()
        if now < inv["visible_at"]:
            return "Pending"
        if now < inv["done_at"]:
            return "InProgress"
        return "Success" if inv["code"] == 0 else "Failed"

    def _command_view(self, command_id: str) -> dict:
        entry = self.commands[command_id]
        statuses = [self._invocation_status(i) for i in entry["invocations"].values()]
        done = [s for s in statuses if s in ("Success", "Failed")]
        if len(done) < len(statuses):
            overall = "InProgress" if any(s != "Pending" for s in statuses) else "Pending"
        else:
            overall = "Success" if all(s == "Success" for s in statuses) else "Failed"
        return dict(entry["command"], Status=overall, StatusDetails=overall,
                    CompletedCount=len(done), ErrorCount=statuses.count("Failed"), DeliveryTimedOutCount=0)

    def _invocation_view(self, command_id: str, instance_id: str, details: bool) -> dict:
        entry = self.commands[command_id]
        inv = entry["invocations"][instance_id]
        state = self._invocation_status(inv)
        finished = state in ("Success", "Failed")
        view = {
            "CommandId": command_id,
            "InstanceId": instance_id,
            "Comment": entry["command"]["Comment"],
            "DocumentName": entry["command"]["DocumentName"],
            "DocumentVersion": "$DEFAULT",
            "RequestedDateTime": inv["requested"],
            "Status": state,
            "StatusDetails": state,
            "StandardOutputUrl": "",
            "StandardErrorUrl": "",
        }
        if details:
            view["CommandPlugins"] = [{
                "Name": "aws:runShellScript",
                "Status": state,
                "StatusDetails": state,
                "ResponseCode": inv["code"] if finished else -1,
                "Output": inv["stdout"] if finished else "",
            }]
        return view

    def get_command_invocation(self, body: dict) -> dict:
        command_id, instance_id = body.get("CommandId"), body.get("InstanceId")
        entry = self.commands.get(command_id)
        if entry is None or instance_id not in entry["invocations"]:
            raise SsmError("InvocationDoesNotExist", "")
        inv = entry["invocations"][instance_id]
        state = self._invocation_status(inv)
        if state == "Pending":
            raise SsmError("InvocationDoesNotExist", "")
        finished = state != "InProgress"
        iso = lambda t: time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".000Z"  # noqa: E731
        elapsed = max(0.0, inv["done_at"] - inv["visible_at"])
        return {
            "CommandId": command_id,
            "InstanceId": instance_id,
            "Comment": entry["command"]["Comment"],
            "DocumentName": entry["command"]["DocumentName"],
            "DocumentVersion": "$DEFAULT",
            "PluginName": "aws:runShellScript",
            "ResponseCode": inv["code"] if finished else -1,
            "ExecutionStartDateTime": iso(inv["requested"]),
            "ExecutionElapsedTime": f"PT{elapsed:.3f}S" if finished else "",
            "ExecutionEndDateTime": iso(inv["requested"] + elapsed) if finished else "",
            "Status": state,
            "StatusDetails": state,
            "StandardOutputContent": inv["stdout"] if finished else "",
            "StandardOutputUrl": "",
            "StandardErrorContent": inv["stderr"] if finished else "",
            "StandardErrorUrl": "",
            "CloudWatchOutputConfig": {"CloudWatchLogGroupName": "", "CloudWatchOutputEnabled": False},
        }

    def list_commands(self, body: dict) -> dict:
        wanted_id, wanted_instance = body.get("CommandId"), body.get("InstanceId")
        out = []
        for command_id, entry in self.commands.items():
            if wanted_id and command_id != wanted_id:
                continue
            if wanted_instance and wanted_instance not in entry["invocations"]:
                continue
            out.append(self._command_view(command_id))
        if wanted_id and not out:
            raise SsmError("InvalidCommandId", "")
        return {"Commands": out}

    def list_command_invocations(self, body: dict) -> dict:
        wanted_id, wanted_instance = body.get("CommandId"), body.get("InstanceId")
        details = bool(body.get("Details"))
        out = []
        for command_id, entry in self.commands.items():
            if wanted_id and command_id != wanted_id:
                continue
            for instance_id, inv in entry["invocations"].items():
                if wanted_instance and instance_id != wanted_instance:
                    continue
                if self._invocation_status(inv) == "Pending":
                    continue
                out.append(self._invocation_view(command_id, instance_id, details))
        return {"CommandInvocations": out}


# SSM state per (account, region), as AWS keeps it: a caller sees only its own account's instances and commands there
STATES: dict[tuple[str, str], Commands] = {}
HANDLERS = {
    "DescribeInstanceInformation": Commands.describe_instance_information,
    "SendCommand": Commands.send_command,
    "GetCommandInvocation": Commands.get_command_invocation,
    "ListCommands": Commands.list_commands,
    "ListCommandInvocations": Commands.list_command_invocations,
}


def state_of(account: str, region: str) -> Commands:
    key = (account, region)
    if key not in STATES:
        STATES[key] = Commands(account, region)
    return STATES[key]


def handle(action: str, body: dict, account: str = DEFAULT_ACCOUNT, region: str | None = None) -> dict:
    """Serve one SSM call of `account` in `region` (the caller's, from its credentials: caller.py)."""
    return HANDLERS[action](state_of(account, region or world().config.region), body)


# ---- the shell: only ping -----------------------------------------------------------------------------------


def run_script(instance: Instance, commands: list[str]) -> tuple[str, str, int, float]:
    """Run the lines of an AWS-RunShellScript: (stdout, stderr, exit code of the last line, seconds taken)."""
    stdout, stderr, code, seconds = [], [], 0, 0.0
    for line in "\n".join(commands).splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        out, err, code, took = run_line(instance, line)
        stdout.append(out)
        stderr.append(err)
        seconds += took
    return "".join(stdout), "".join(stderr), code, seconds


def run_line(instance: Instance, line: str) -> tuple[str, str, int, float]:
    try:
        argv = shlex.split(line)
    except ValueError as exc:
        return "", f"sh: syntax error: {exc}\n", 2, 0.0
    if not argv or argv[0] not in ("ping", "/usr/bin/ping", "/bin/ping"):
        return "", (f"{argv[0] if argv else line}: not supported by peerlab's local AWS: it simulates only "
                    f"`ping -c N [-W T] <ipv4>`; nothing else can run on a simulated instance\n"), 127, 0.0
    try:
        count, wait, interval, quiet, dest = parse_ping(argv[1:])
    except ValueError as exc:
        return "", f"ping: {exc}\n", 2, 0.0
    return simulate_ping(instance, dest, count, wait, interval, quiet)


def parse_ping(args: list[str]) -> tuple[int, float, float, bool, str]:
    count, wait, interval, quiet, dest = None, 10.0, 1.0, False, None
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-c", "-W", "-i") or (arg[:2] in ("-c", "-W", "-i") and len(arg) > 2):
            flag, value = (arg, args[i + 1] if i + 1 < len(args) else None) if len(arg) == 2 else (arg[:2], arg[2:])
            if value is None:
                raise ValueError(f"option requires an argument -- '{flag[1]}'")
            i += 2 if len(arg) == 2 else 1
            try:
                number = float(value)
            except ValueError:
                raise ValueError(f"invalid argument: '{value}'") from None
            if flag == "-c":
                if number < 1 or number != int(number):
                    raise ValueError(f"invalid argument: '{value}': out of range: 1 <= value <= 9223372036854775807")
                count = int(number)
            elif flag == "-W":
                if number < 0:
                    raise ValueError(f"bad linger time: {value}")
                wait = number
            else:
                interval = number
            continue
        if arg in ("-q", "-n", "-4"):
            quiet = quiet or arg == "-q"
            i += 1
            continue
        if arg.startswith("-"):
            raise ValueError(f"invalid option -- '{arg.lstrip('-')[:1]}' (peerlab's local AWS simulates -c, -W, -i, -q, -n, -4)")
        if dest is not None:
            raise ValueError(f"usage error: only one destination, got {dest} and {arg}")
        dest = arg
        i += 1
    if dest is None:
        raise ValueError("usage error: Destination address required")
    if count is None:
        raise ValueError("peerlab's local AWS needs -c N: a ping without a count never ends")
    try:
        ipaddress.IPv4Address(dest)
    except ValueError:
        raise ValueError(f"{dest}: Name or service not known") from None
    return count, wait, interval, quiet, dest


def simulate_ping(instance: Instance, dest: str, count: int, wait: float, interval: float,
                  quiet: bool) -> tuple[str, str, int, float]:
    source = network.find_endpoint_by_instance(instance)
    target = network.destination(source, dest)
    if target is None:
        verdict = network.Verdict(False, "no-host", f"no running instance has the address {dest}")
    else:
        verdict = network.reach(source, target)
    lines = [f"PING {dest} ({dest}) 56(84) bytes of data."]
    seed = int(hashlib.sha256(f"{instance.private_ip}>{dest}".encode()).hexdigest()[:8], 16)
    rtts = []
    if verdict.reachable:
        base = 0.35 if target.vpc.id == source.vpc.id else 0.55  # a peering hop adds a little
        if target.region != source.region:
            base = 60.0
        for seq in range(1, count + 1):
            rtt = base + ((seed >> (seq % 24)) % 200) / 1000.0
            rtts.append(rtt)
            if not quiet:
                lines.append(f"64 bytes from {dest}: icmp_seq={seq} ttl=127 time={rtt:.3f} ms")
        took = (count - 1) * interval + rtts[-1] / 1000.0
    else:
        took = (count - 1) * interval + wait
    received = len(rtts)
    loss = round(100 * (count - received) / count)
    lines += ["", f"--- {dest} ping statistics ---",
              f"{count} packets transmitted, {received} received, {loss}% packet loss, time {int(took * 1000)}ms"]
    if rtts:
        avg = sum(rtts) / len(rtts)
        mdev = (sum((r - avg) ** 2 for r in rtts) / len(rtts)) ** 0.5
        lines.append(f"rtt min/avg/max/mdev = {min(rtts):.3f}/{avg:.3f}/{max(rtts):.3f}/{mdev:.3f} ms")
    stderr = f"{SIMULATED_NOTE} Verdict: {verdict.hop}: {verdict.reason}.\n"
    return "\n".join(lines) + "\n", stderr, 0 if received else 1, took
