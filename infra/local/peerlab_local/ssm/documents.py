"""The documents SendCommand runs: AWS-RunShellScript only, whose shell here knows one command, ping
(simulated: ping.py). Any other command fails with a clear message on stderr, exit code 127 as a shell's."""

from __future__ import annotations

import shlex

from moto.ec2.models.instances import Instance

from peerlab_local.ssm.ping import parse_ping, simulate_ping

DOCUMENTS = {"AWS-RunShellScript"}


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
