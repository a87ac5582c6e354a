"""`make run`: a whole lab on the local AWS. Starts it, registers the functions and the state machine, starts an
execution with the real `aws stepfunctions start-execution`, shows each state as it starts and ends, writes the
report, checks that nothing is left, stops everything it started. Exit 0 only if the control ping found B
unreachable, the final ping reached it, and no resource is left."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from . import deploy

ROOT = Path(__file__).resolve().parents[3]
START = ROOT / "infra" / "local" / "start"
ENV = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
       "AWS_EC2_METADATA_DISABLED": "true"}


def fail(message: str, code: int = 2):
    print(f"make run: {message}", file=sys.stderr)
    sys.exit(code)


def parse_args(argv):
    p = argparse.ArgumentParser(prog="make run", description=__doc__)
    p.add_argument("--input", default=str(ROOT / "tests" / "events" / "tutorial.json"), help="execution input (JSON)")
    p.add_argument("--report", default=str(ROOT / "run-report.json"), help="where the report goes")
    p.add_argument("--lambda-dir", required=True, help="folder with the built function executables")
    p.add_argument("--local-args", default="", help="extra arguments for infra/local/start (profile, faults...)")
    p.add_argument("--timeout", type=float, default=900, help="seconds before the run is given up (default 900)")
    return p.parse_args(argv)


class LocalAws:
    def __init__(self, lambda_dir: str, log_dir: str, extra: list[str]):
        # stderr to a file: a pipe nobody reads would block the server once full
        self.stderr_path = Path(log_dir) / "local-aws.log"
        with open(self.stderr_path, "w") as stderr:
            self.process = subprocess.Popen([str(START), "--port", "0", "--lambda-dir", lambda_dir, "--log-dir",
                                             log_dir, *extra], stdout=subprocess.PIPE, stderr=stderr, text=True)
        line = self.process.stdout.readline().strip()
        if not line.startswith("ready "):
            self.process.wait(timeout=15)
            fail(f"the local AWS did not start: {line or self.stderr_path.read_text().strip()}", 1)
        self.url = line.split(" ", 1)[1]

    def resources(self) -> list[dict]:
        with urllib.request.urlopen(self.url + "/peerlab/resources", timeout=10) as r:
            return json.load(r)["resources"]

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start_execution(url: str, machine: str, name: str, input_path: Path) -> str:
    aws = Path(sys.executable).parent / "aws"
    out = subprocess.run([str(aws), "stepfunctions", "start-execution", "--endpoint-url", url,
                          "--state-machine-arn", machine, "--name", name, "--input", f"file://{input_path}",
                          "--output", "json"], capture_output=True, text=True, env={**os.environ, **ENV}, check=False)
    if out.returncode != 0:
        fail(f"aws stepfunctions start-execution failed: {out.stderr.strip()}", 1)
    return json.loads(out.stdout)["executionArn"]


def _error_text(details: dict) -> str:
    cause = details.get("cause", "")
    try:
        cause = json.loads(cause).get("errorMessage", cause)
    except (ValueError, AttributeError):
        pass
    return f"{details.get('error', '')}: {cause}".strip(": ")


def history(sfn, execution: str) -> list[dict]:
    events, kwargs = [], {"executionArn": execution, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events += page["events"]
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def follow(sfn, execution: str, timeout: float) -> tuple[dict, list[dict]]:
    """Print each state's start and end as they happen; returns (description, history)."""
    seen, started, entered = 0, time.monotonic(), {}
    deadline = started + timeout
    finished = None
    while True:
        # read the history after learning the execution ended, so that its last events are in it
        events = history(sfn, execution)
        for event in events[seen:]:
            kind, at = event["type"], time.monotonic() - started
            if kind.endswith("StateEntered"):
                name = event["stateEnteredEventDetails"]["name"]
                entered[name] = at
                print(f"{at:7.1f}s  > {name}", flush=True)
            elif kind.endswith("StateExited"):
                name = event["stateExitedEventDetails"]["name"]
                print(f"{at:7.1f}s  ok {name} ({at - entered.get(name, at):.1f}s)", flush=True)
            elif kind in ("TaskFailed", "LambdaFunctionFailed"):
                details = event.get("taskFailedEventDetails") or event.get("lambdaFunctionFailedEventDetails") or {}
                label = "waiting" if details.get("error") == "NotReady" else "attempt failed"
                print(f"{at:7.1f}s     {label}: {_error_text(details)[:200]}", flush=True)
        seen = len(events)
        if finished is not None:
            return finished, events
        description = sfn.describe_execution(executionArn=execution)
        if description["status"] != "RUNNING":
            finished = description
            continue
        if time.monotonic() > deadline:
            sfn.stop_execution(executionArn=execution, error="Timeout", cause="make run gave up")
            fail(f"the execution did not finish within {timeout:.0f} s (stopped)", 1)
        time.sleep(0.25)


def timings(events: list[dict]) -> dict:
    """Seconds each state took (first entered to last exited, retries included), from the history."""
    out, entered = {}, {}
    for event in events:
        kind = event["type"]
        if kind.endswith("StateEntered"):
            entered.setdefault(event["stateEnteredEventDetails"]["name"], event["timestamp"])
        elif kind.endswith("StateExited"):
            name = event["stateExitedEventDetails"]["name"]
            if name in entered:
                out[name] = round((event["timestamp"] - entered[name]).total_seconds(), 3)
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    input_path = Path(args.input)
    try:
        json.loads(input_path.read_text())
    except OSError as exc:
        fail(f"cannot read the input {input_path}: {exc.strerror}")
    except ValueError as exc:
        fail(f"the input {input_path} is not JSON: {exc}")
    logs = tempfile.mkdtemp(prefix="peerlab-run-")
    aws = LocalAws(args.lambda_dir, logs, args.local_args.split())
    try:
        print(f"local AWS at {aws.url} (function logs in {logs})", flush=True)
        machine = deploy.deploy(aws.url)
        name = f"run-{time.strftime('%Y%m%dT%H%M%S')}"
        execution = start_execution(aws.url, machine, name, input_path)
        print(f"started {execution}\n  with {input_path}", flush=True)
        sfn = deploy.clients(aws.url)["stepfunctions"]
        description, events = follow(sfn, execution, args.timeout)
        report = json.loads(description.get("output") or "{}") if description["status"] == "SUCCEEDED" else {
            "error": description.get("error"), "cause": description.get("cause")}
        report["status"] = description["status"]
        report["timings_seconds"] = timings(events)
        report["state_transitions"] = sum(1 for e in events if e["type"].endswith("StateEntered"))
        report["history_events"] = len(events)
        leaked = aws.resources()
        report["leaked"] = [f"{r['type']} {r['id']}" for r in leaked]
        Path(args.report).write_text(json.dumps(report, indent=2, default=str) + "\n")
    finally:
        aws.stop()
    ok = (report["status"] == "SUCCEEDED" and report["negative_control"]["reachable"] is False
          and report["ping"]["reachable"] is True and report["teardown"]["remaining"] == [] and not leaked)
    print()
    if report["status"] == "SUCCEEDED":
        c, p = report["negative_control"], report["ping"]
        sim = " (simulated by the local AWS)" if p.get("simulated") else ""
        print(f"control ping before peering: {c['received']}/{c['transmitted']} replies -> unreachable as expected")
        print(f"ping after peering:          {p['received']}/{p['transmitted']} replies, avg rtt "
              f"{p['rtt_avg_ms']} ms{sim}")
        print(f"teardown: deleted {len(report['teardown']['deleted'])}, remaining {report['teardown']['remaining']}")
    else:
        print(f"the lab failed: {report.get('error')}: {_error_text({'cause': report.get('cause') or ''})}")
    print(f"state transitions: {report['state_transitions']}; leaked resources: {report['leaked'] or 'none'}")
    print(f"report: {args.report}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
