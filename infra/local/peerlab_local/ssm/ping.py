"""`ping -c N [-W T] [-i I] [-q] [-n] IP`, simulated from the EC2 state (network.py: routes, peering, security
groups, network ACLs) and printed like iputils ping. Nothing is sent."""

from __future__ import annotations

import hashlib
import ipaddress

from moto.ec2.models.instances import Instance

from peerlab_local.ec2 import network

SIMULATED_NOTE = ("[peerlab local AWS] simulated ping: computed from the EC2 state (routes, peering, security "
                  "groups, network ACLs); no packet was sent.")


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
            raise ValueError(f"invalid option -- '{arg.lstrip('-')[:1]}' "
                             "(peerlab's local AWS simulates -c, -W, -i, -q, -n, -4)")
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
        assert target is not None  # reachable: there is a destination
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
