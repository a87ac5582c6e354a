"""`make bench`: peerlab's figures, measured here and now, written to bench/report.md, bench/report.json and
bench/plot.svg, and into the README's Performance section. Nothing is typed by hand: every number below comes from
this run. Everything runs against local AWSs started from infra/local/start on 127.0.0.1.

1. per step: cold start (process start -> first response), warm latency and peak RSS of each release Lambda,
   beside bench/reference (boto3, the same AWS calls — checked from the local AWS's call counts), medians of
   --reps repetitions on fresh labs;
2. sizes of the release binaries and their zips (make build ARCH=x86_64);
3. one lab end to end on the `realistic` profile x --time-scale (0.02, as `make run`), every delay at its median,
   Step Functions' waits at the same scale: wall time against the critical-path bound of today's workflow on the
   medians (`critical_path`), billed state transitions, history events, EC2/SSM calls, the projected AWS
   duration (wall / scale);
4. workshop scale: 1, 10, 50 labs at once with AWS's EC2 token buckets: labs/minute, failures, leaks, and the
   bound the rate limits and the critical path set.

`--bins DIR --out DIR` is a check run with already-built binaries (e.g. a debug build): no sizes, no README, a
report marked not for publication.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT / "infra" / "local"))
sys.path.insert(0, str(BENCH))
from peerlab_local.ssm import agent  # noqa: E402
from peerlab_local.tools import launch, stack  # noqa: E402
from runtime import Process, lambda_env  # noqa: E402

# the step crates, in the workflow's order, measured one by one against bench/reference
STEPS = ["validate-input", "create-vpc", "request-peering", "accept-peering", "add-routes", "update-sg",
         "ping-test", "teardown"]
# every function the stack deploys (infra/template.yaml; the Makefile's FUNCTIONS): the steps and the workshop's
FUNCTIONS = sorted(p.name for p in (ROOT / "functions").iterdir() if (p / "Cargo.toml").is_file()
                   and p.name != "lab-core")
RUST_KEY, PY_KEY = "AKIDBENCHRUST", "AKIDBENCHPYTHON"


def log(message: str):
    print(f"bench: {message}", flush=True)


class LocalAws(launch.LocalAws):
    """The project's local AWS (peerlab_local.tools.launch), logging to the bench's folder, with its call counts."""

    def __init__(self, lambda_dir: Path, log_dir: Path, *args: str):
        log = open(log_dir / f"local-aws-{time.time_ns()}.log", "w")
        try:
            super().__init__("--lambda-dir", str(lambda_dir), "--log-dir", str(log_dir), *args, stderr=log)
        except RuntimeError as err:
            raise SystemExit(f"bench: {err} (log: {log.name})") from None

    def get(self, path: str, timeout: float = 30):
        return super().get(path, timeout)

    def calls(self, key: str | None = None) -> dict[str, int]:
        """Calls so far, by service:Action — of one access key, or every key's EC2 and SSM calls."""
        snapshot = self.get("/peerlab/calls")["calls"]
        if key is not None:
            return snapshot.get(key, {})
        total: dict[str, int] = {}
        for counts in snapshot.values():
            for action, n in counts.items():
                if action.startswith(("ec2:", "ssm:")):
                    total[action] = total.get(action, 0) + n
        return total

    def served(self, key: str) -> float:
        """Wall seconds the local AWS has spent serving calls made with `key` (concurrent ones once)."""
        return self.get("/peerlab/calls")["served_seconds"].get(key, 0.0)

    def stop(self, timeout: float = 20) -> int:
        return super().stop(timeout)


def diff(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


# ---- 2. sizes ------------------------------------------------------------------------------------------------

def release_binaries(zips: Path, out: Path) -> dict:
    """Unpack build/lambda/<fn>/bootstrap.zip into out/<fn> (the local AWS runs <lambda-dir>/<fn>); sizes."""
    out.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for step in FUNCTIONS:
        archive = zips / step / "bootstrap.zip"
        if not archive.is_file():
            raise SystemExit(f"bench: {archive} is missing: run `make bench` (it builds them) or `make build`")
        with zipfile.ZipFile(archive) as z:
            data = z.read("bootstrap")
        target = out / step
        target.write_bytes(data)
        target.chmod(0o755)
        sizes[step] = {"binary_bytes": len(data), "zip_bytes": archive.stat().st_size}
    return sizes


def reference_zip_bytes() -> int:
    """The reference's deployment package: its two files, zipped (boto3 comes with the Python Lambda runtime)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "reference.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for name in ("steps.py", "bootstrap.py"):
                z.write(BENCH / "reference" / name, name)
        return path.stat().st_size


# ---- 1. per step -----------------------------------------------------------------------------------------------

def events_for(step: str, lab: dict, sides: dict, peering: str | None, phase: str = "final") -> dict:
    pair = {"lab": lab, "vpc_a": sides.get("a"), "vpc_b": sides.get("b")}
    if step == "create-vpc":
        return {"lab": lab, "side": phase}
    if step == "request-peering":
        return pair
    if step in ("accept-peering", "add-routes", "update-sg"):
        return {**pair, "peering_id": peering}
    if step == "ping-test":
        expect = "unreachable" if phase == "control" else "reachable"
        return {**pair, "peering_id": peering, "expect": expect, "phase": phase}
    if step == "teardown":
        return {"lab": lab}
    raise ValueError(step)


def measure(aws: LocalAws, impl: str, step: str, event: dict, bins: Path, logs, warm: int, profile: str):
    """One process of one step: cold latency (first invocation), then invoke until the step succeeds (its
    NotReady waits, as the state machine would retry), then `warm` more invocations of the same event."""
    key = RUST_KEY if impl == "rust" else PY_KEY
    env = lambda_env(step, aws.url, key, {"PEERLAB_INSTANCE_PROFILE": profile})
    if impl == "rust":
        command = [str(bins / step)]
    else:
        command = [sys.executable, str(BENCH / "reference" / "bootstrap.py"), step]
        env["PYTHONPATH"] = str(BENCH / "reference")
    before, served_before = aws.calls(key), aws.served(key)
    proc = Process(command, env, logs)
    try:
        outcome, payload, cold = proc.invoke(event)
        first_calls = diff(aws.calls(key), before)
        served = aws.served(key) - served_before
        attempts = 1
        while outcome == "error" and payload.get("errorType") == "NotReady" and attempts < 200:
            time.sleep(0.05)
            outcome, payload, _ = proc.invoke(event)
            attempts += 1
        if outcome != "response":
            raise SystemExit(f"bench: {impl} {step} failed: {payload}")
        warm_times = []
        for _ in range(warm):
            w_outcome, w_payload, seconds = proc.invoke(event)
            if w_outcome != "response":
                raise SystemExit(f"bench: {impl} {step} re-run failed: {w_payload}")
            warm_times.append(seconds)
        rss = proc.peak_rss_kib()
    finally:
        proc.close()
    return payload, {"cold_ms": cold * 1000, "served_ms": served * 1000, "warm_ms": median(warm_times) * 1000,
                     "peak_rss_kib": rss, "first_invocation_calls": first_calls}


def chain(aws: LocalAws, impl: str, lab_id: str, bins: Path, logs, warm: int, profile: str) -> dict:
    """Every step of one fresh lab by one implementation, in the state machine's order."""
    rows = {}
    plan, rows["validate-input"] = measure(aws, impl, "validate-input", {
        "input": {"lab_id": lab_id}, "execution_name": lab_id, "start_time": None}, bins, logs, warm, profile)
    sides: dict[str, dict] = {}
    for side in ("a", "b"):
        sides[side], rows[f"create-vpc ({side.upper()})"] = measure(
            aws, impl, "create-vpc", events_for("create-vpc", plan, sides, None, side), bins, logs, warm, profile)
    _, rows["ping-test (control)"] = measure(aws, impl, "ping-test",
                                             events_for("ping-test", plan, sides, None, "control"),
                                             bins, logs, warm, profile)
    peering, rows["request-peering"] = measure(aws, impl, "request-peering",
                                               events_for("request-peering", plan, sides, None),
                                               bins, logs, warm, profile)
    pid = peering["peering_id"]
    for step in ("accept-peering", "add-routes", "update-sg"):
        _, rows[step] = measure(aws, impl, step, events_for(step, plan, sides, pid), bins, logs, warm, profile)
    _, rows["ping-test (final)"] = measure(aws, impl, "ping-test", events_for("ping-test", plan, sides, pid, "final"),
                                           bins, logs, warm, profile)
    _, rows["teardown"] = measure(aws, impl, "teardown", events_for("teardown", plan, sides, pid),
                                  bins, logs, warm, profile)
    return rows


def deploy(aws: LocalAws, bins: Path) -> dict:
    """infra/template.yaml as the stack "peerlab", its functions running `bins` (make deploy ENDPOINT=...'s path)."""
    return stack.deploy(aws.url, "peerlab", lambda_dir=bins, out=lambda *_: None)


def per_step(bins: Path, work: Path, reps: int, warm: int) -> dict:
    aws = LocalAws(bins, work)
    logs = open(work / "functions.log", "w")
    try:
        # the stack as make deploy makes it: the instance profile instance A needs (the workflow is unused here)
        profile = deploy(aws, bins)["InstanceProfileName"]
        runs: dict[str, list[dict]] = {"rust": [], "python": []}
        # one lab each first, unmeasured: moto loads some catalogues (AMIs, endpoint services) on first use
        for impl in ("rust", "python"):
            log(f"per step: warm-up lab, {impl}")
            chain(aws, impl, f"bench-warmup-{impl}", bins, logs, 1, profile)
        for rep in range(reps):
            order = ("rust", "python") if rep % 2 == 0 else ("python", "rust")
            for impl in order:
                log(f"per step: repetition {rep + 1}/{reps}, {impl}")
                runs[impl].append(chain(aws, impl, f"bench-{rep}-{impl}", bins, logs, warm, profile))
        leaked = len(aws.get("/peerlab/resources")["resources"])
    finally:
        logs.close()
        aws.stop()
    table = {}
    for row in runs["rust"][0]:
        entry: dict[str, Any] = {}
        for impl in ("rust", "python"):
            entry[impl] = {m: median(r[row][m] for r in runs[impl])
                           for m in ("cold_ms", "served_ms", "warm_ms", "peak_rss_kib")}
            entry[impl]["calls"] = runs[impl][0][row]["first_invocation_calls"]
        entry["same_calls"] = all(r[row]["first_invocation_calls"] == runs["rust"][0][row]["first_invocation_calls"]
                                  for impl in ("rust", "python") for r in runs[impl])
        entry["cold_ratio"] = entry["python"]["cold_ms"] / entry["rust"]["cold_ms"]
        entry["warm_ratio"] = entry["python"]["warm_ms"] / entry["rust"]["warm_ms"]
        entry["rss_ratio"] = entry["python"]["peak_rss_kib"] / entry["rust"]["peak_rss_kib"]
        table[row] = entry
    return {"reps": reps, "warm_invocations": warm, "steps": table, "leaked_after": leaked}


# ---- 3. end to end ---------------------------------------------------------------------------------------------

# ping -c 3 -W 2 (ping_test.rs command): iputils ping(8) (iputils/iputils doc/ping.xml: -i "The default is to wait for
# one second between each packet"; -W "Time to wait for a response, in seconds", which applies when no reply comes)
# sends every second and, unanswered, waits 2 s after the last packet; the local AWS simulates that (ssm/ping.py:
# (count - 1) x interval + wait unanswered, (count - 1) x interval + rtt answered; the rtt, milliseconds, is left out)
PING_COUNT, PING_INTERVAL, PING_WAIT = 3, 1.0, 2.0


def critical_path(delays: dict, time_scale: float = 1.0) -> dict:
    """The least time one lab can take on this profile, from its delays alone (calls, Lambda run time and the
    state machine's retry intervals count as zero): today's workflow order (statemachine/peering-lab.asl.json,
    functions/lab-core/src) along its longest chain, the two sides in parallel. `delays` are the profile's medians
    (the local AWS's GET /peerlab/config gives them scaled); `time_scale` scales what is not in `delays`: the SSM
    Agent's hibernation timers (agent.py) and the simulated ping's own duration (ssm.py).

    create-vpc, side A (create_vpc/), each window a consistency window (consistency.py: a new id answers NotFound):
    CreateVpc, then the VpcExists waiter until the VPC is visible; CreateSubnet, CreateRouteTable and
    AssociateRouteTable, NotReady until the new subnet and table are visible; CreateSecurityGroup (instance,
    endpoints) and AuthorizeSecurityGroupIngress on the endpoint group, NotReady until it is visible; the two
    endpoints, NotReady while pending; RunInstances once both are available (and the stack's instance profile is
    usable: it exists from before the execution, so propagation lies on the path only if it outlasts all that);
    NotReady until running. Side B meanwhile: VPC, subnet + route table, then RunInstances naming its new group
    (NotReady until visible), then pending. A's agent pings `agent_boot` after running; its endpoints were
    available before launch, so that first ping makes it Online (agent.online_at)."""
    d, cw = delays, delays["consistency_window"]
    endpoints_available = 3 * cw + d["endpoint_pending"]
    launch_a = max(endpoints_available, d["instance_profile_propagation"])
    running_a = launch_a + d["instance_pending"]
    running_b = 3 * cw + d["instance_pending"]
    created = max(running_a, running_b)
    online = agent.online_at(running_a + d["agent_boot"], endpoints_available, time_scale)
    unanswered = ((PING_COUNT - 1) * PING_INTERVAL + PING_WAIT) * time_scale
    answered = (PING_COUNT - 1) * PING_INTERVAL * time_scale
    phases = {
        # create_vpc/network.rs ensure_vpc: the SDK's VpcExists waiter (DescribeVpcs by id) until the new VPC is visible
        "VPC A visible": cw,
        # create_vpc/network.rs: AssociateRouteTable names the new subnet and table: NotReady until visible
        "subnet and route table A visible": cw,
        # create_vpc/ssm_access.rs: the HTTPS rule on the new endpoint group: NotReady until it is visible
        "endpoint group visible": cw,
        # create_vpc.rs: instance A is launched only once both endpoints are available (config.py endpoint_pending)
        "SSM endpoints available": d["endpoint_pending"],
        # iam_propagation.py: RunInstances refuses a new instance profile this long (from the stack's deploy)
        "instance profile usable (beyond the endpoints)": launch_a - endpoints_available,
        "instance A running": d["instance_pending"],
        # side B runs in parallel: on the path only if it ends later than A
        "side B beyond A": created - running_a,
        # agent.py: Online at the first ping `agent_boot` after running (hibernation if its endpoints were not ready)
        "SSM online (A)": max(0.0, online - created),
        # ssm.py: GetCommandInvocation answers InvocationDoesNotExist for command_delivery; then the ping runs
        "control ping (delivery + 3 unanswered)": d["command_delivery"] + unanswered,
        # request_peering.rs polls until its peering is visible; accept waits for pending-acceptance
        "peering visible and pending acceptance": max(d["peering_initiating"], cw),
        # accept-peering is NotReady until active (peering_rules.py: provisioning -> active)
        "peering active": d["peering_provisioning"],
        # add-routes names tables and a peering already visible; update-sg's new group InstanceB is refused by
        # AuthorizeSecurityGroupIngress (update_sg.rs admit: NotReady) until visible
        "group InstanceB visible": cw,
        "final ping (delivery + 3 answered)": d["command_delivery"] + answered,
        # teardown/plan.rs: instances terminate and endpoints delete in parallel; groups, route tables, subnets, VPCs
        # go in the pass after both (no quiet period after a success)
        "teardown": max(d["instance_shutting_down"], d["endpoint_deleting"]),
    }
    return {"phases": phases, "seconds": sum(phases.values())}


def medians(config: dict) -> dict:
    """The scaled median of every delay from GET /peerlab/config: `distributions` (median_scaled), else `delays`."""
    dist = config.get("distributions") or {}
    return {name: dist[name]["median_scaled"] if name in dist else value for name, value in config["delays"].items()}


def run_labs(aws: LocalAws, machine: str, count: int, timeout: float) -> dict:
    sfn = aws.client("stepfunctions")
    arns = []
    started = time.monotonic()
    for i in range(count):
        lab_input = {"lab_id": f"lab-{count}-{i}",
                     "vpc_a": {"cidr": f"10.{2 * i}.0.0/16", "subnet_cidr": f"10.{2 * i}.1.0/24"},
                     "vpc_b": {"cidr": f"10.{2 * i + 1}.0.0/16", "subnet_cidr": f"10.{2 * i + 1}.1.0/24"}}
        arns.append(sfn.start_execution(stateMachineArn=machine, name=f"lab-{count}-{i}",
                                        input=json.dumps(lab_input))["executionArn"])
    ended: dict[str, float] = {}
    results: dict[str, dict] = {}
    while len(ended) < count:
        if time.monotonic() - started > timeout:
            raise SystemExit(f"bench: {count - len(ended)} of {count} labs still running after {timeout:.0f} s")
        for arn in arns:
            if arn in ended:
                continue
            d = sfn.describe_execution(executionArn=arn)
            if d["status"] != "RUNNING":
                ended[arn] = time.monotonic() - started
                results[arn] = d
        time.sleep(0.5)
    makespan = max(ended.values())
    histories = {}
    for arn in arns:
        events, kw = [], {"executionArn": arn, "maxResults": 1000}
        while True:
            page = sfn.get_execution_history(**kw)
            events += page["events"]
            if not page.get("nextToken"):
                break
            kw["nextToken"] = page["nextToken"]
        histories[arn] = events
    failures = [f"{results[a]['name']}: {results[a].get('error')}" for a in arns if results[a]["status"] != "SUCCEEDED"]
    walls = [(results[a]["stopDate"] - results[a]["startDate"]).total_seconds() for a in arns]
    return {"labs": count, "makespan_s": makespan, "labs_per_minute": count / makespan * 60, "failures": failures,
            "wall_s_median": median(walls),
            "state_transitions": median(sum(1 for e in h if e["type"].endswith("StateEntered"))
                                        for h in histories.values()),
            "billed_transitions": median(billed_transitions(h) for h in histories.values()),
            "history_events": median(len(h) for h in histories.values())}


def billed_transitions(history: list[dict]) -> int:
    """What Step Functions Standard bills: every state entered and every retry attempt (each retry schedules the
    Task again without entering the state again)."""
    entered = sum(1 for e in history if e["type"].endswith("StateEntered"))
    tasks_entered = sum(1 for e in history if e["type"] == "TaskStateEntered")
    scheduled = sum(1 for e in history if e["type"] in ("TaskScheduled", "LambdaFunctionScheduled"))
    return entered + max(0, scheduled - tasks_entered)


def cli_lab(aws: LocalAws, cli: Path, work: Path, name: str, timeout: float) -> dict:
    """One lab through `peerlab run --endpoint` (the stack is deployed already): its JSON report, which carries
    the AWS-time estimate (`aws_time`: waits ÷ scale + function run time + Step Functions' own, with the polling
    lag per wait from the local AWS's inventory) and the cost on AWS (`aws_cost`), both computed by the CLI
    (cli/src/aws_time.rs): the estimator is written once, there."""
    report = work / f"{name}.json"
    with open(work / f"{name}.log", "w") as out:
        done = subprocess.run([str(cli), "--endpoint", aws.url, "run", "--name", name, "--report", str(report),
                               "--timeout", str(int(timeout))], stdout=out, stderr=subprocess.STDOUT,
                              timeout=timeout + 120, check=False)
    if not report.is_file():
        raise SystemExit(f"bench: peerlab run {name} wrote no report (exit {done.returncode}; {out.name})")
    return json.loads(report.read_text())


def end_to_end(bins: Path, work: Path, scale: float, cli: Path, check_scale_1: bool) -> dict:
    """One lab on the realistic profile x `scale`, every resource at each delay's median (--median-delays, so that
    the critical path of the medians is a true lower bound); Step Functions' Wait and Retry intervals run at the
    same scale (sfn_time.py). Its AWS duration is the CLI's estimate (cli_lab). With `check_scale_1`, the same lab
    again at time scale 1, in real time: its wall time against that estimate."""
    runs = {}
    for run_scale in ([scale, 1.0] if check_scale_1 else [scale]):
        aws = LocalAws(bins, work, "--profile", "realistic", "--time-scale", str(run_scale), "--median-delays")
        try:
            deploy(aws, bins)
            config = aws.get("/peerlab/config")
            before = aws.calls()
            report = cli_lab(aws, cli, work, f"lab-x{run_scale:g}".replace(".", "-"), timeout=600 + 900 * run_scale)
            calls = diff(aws.calls(), before)
            leaked = len(aws.get("/peerlab/resources")["resources"])
        finally:
            aws.stop()
        runs[run_scale] = (config, report, calls, leaked)
    config, lab, calls, leaked = runs[scale]
    sfn_scale = config.get("stepfunctions_time_scale", 1.0)
    if sfn_scale != scale:
        log(f"warning: Step Functions' waits run at x{sfn_scale}, not x{scale}: the projection is off")
    bound = critical_path(medians(config), scale)
    aws_s = lab["aws_time"]["seconds"]
    bound_aws = bound["seconds"] / scale if scale else bound["seconds"]
    result = {"time_scale": scale, "stepfunctions_time_scale": sfn_scale, "wall_s": lab["wall_seconds"],
              "critical_path_s": bound["seconds"], "critical_path_phases": bound["phases"],
              "projected_aws_s": aws_s, "critical_path_aws_s": bound_aws, "ratio": aws_s / bound_aws,
              "aws_time": lab["aws_time"], "aws_cost": lab["aws_cost"],
              "state_transitions": lab["state_transitions"], "billed_transitions": lab["billed_transitions"],
              "history_events": lab["history_events"],
              "api_calls": sum(calls.values()), "api_calls_by_action": calls,
              "failures": [] if lab["status"] == "SUCCEEDED" else [f"{lab.get('error')}: {lab.get('cause')}"],
              "leaked": leaked}
    if check_scale_1:
        _, real, _, real_leaked = runs[1.0]
        result["scale_1_check"] = {"wall_s": real["wall_seconds"], "estimate_s": aws_s,
                                   "deviation": aws_s / real["wall_seconds"] - 1,
                                   "own_estimate_s": real["aws_time"]["seconds"], "aws_time": real["aws_time"],
                                   "status": real["status"], "leaked": real_leaked}
    return result


# ---- 4. workshop scale -----------------------------------------------------------------------------------------

def rate_bound(calls_made: dict[str, int], labs: int, critical_s: float, scale: float = 1.0) -> dict:
    """The fastest the `labs` labs of a run could all have finished under the EC2 token buckets, given the calls
    they made (every caller's, `/peerlab/calls` after the run): for each action, the time its bucket needs to serve
    them (after its burst; AWS seconds, x `scale` here, as the local AWS refills its buckets: ec2/limits.py), at
    least the critical path (`critical_s`, already at the scale); labs/minute from that.

    The calls the run made, not one lab's times `labs`: how often a lab polls depends on the load (at x0.02 a
    function's unscaled run time outlasts a scaled retry interval, so a lab under load makes fewer polls), and one
    lab's polls times 50 once made the "bound" three times slower than what the labs did."""
    from peerlab_local.ec2.limits import REQUEST_BUCKETS, RESOURCE_BUCKETS, category

    worst, limiting = 0.0, None
    for action, n in calls_made.items():
        service, name = action.split(":", 1)
        if service != "ec2":
            continue
        size, refill = REQUEST_BUCKETS[category(name)]
        seconds = max(0.0, (n - size) / refill) * scale
        if name in RESOURCE_BUCKETS:
            r_size, r_refill = RESOURCE_BUCKETS[name]
            seconds = max(seconds, (n - r_size) / r_refill * scale)  # one instance per call in this workflow
        if seconds > worst:
            worst, limiting = seconds, name
    total = max(worst, critical_s)
    return {"seconds": total, "labs_per_minute": labs / total * 60,
            "limited_by": limiting if worst > critical_s else "critical path"}


def workshop(bins: Path, work: Path, scale: float, sizes: list[int], critical_s: float) -> list:
    rows = []
    for count in sizes:
        log(f"workshop: {count} labs at once")
        # N labs in one account and region are 2N VPCs and the default one: past AWS's default quota of 5 VPCs per
        # Region from 3 labs on (quotas.py), so the bench's account has the quota raised, as a class's would need;
        # likewise 2N t3.micro instances are 4N running On-Demand standard vCPUs, past AWS's default 5 from 2 labs on
        aws = LocalAws(bins, work, "--profile", "realistic", "--time-scale", str(scale), "--median-delays",
                       "--ec2-rate-limits", "--quota", f"vpc/L-F678F1CE={2 * count + 1}",
                       "--quota", f"ec2/L-1216C47A={4 * count}")
        try:
            machine = deploy(aws, bins)["StateMachineArn"]
            result = run_labs(aws, machine, count, timeout=1800)
            calls = aws.get("/peerlab/calls")
            made = aws.calls()
            leaked = len(aws.get("/peerlab/resources")["resources"])
        finally:
            aws.stop()
        bound = rate_bound(made, count, critical_s, scale)
        rows.append({**result, "leaked": leaked, "throttled": sum(calls["throttled"].values()),
                     "ec2_calls": sum(n for action, n in made.items() if action.startswith("ec2:")),
                     "bound_labs_per_minute": bound["labs_per_minute"], "limited_by": bound["limited_by"],
                     "ratio_to_bound": result["labs_per_minute"] / bound["labs_per_minute"]})
    return rows


# ---- report --------------------------------------------------------------------------------------------------

def fmt(value, digits=1):
    return "–" if value is None else f"{value:.{digits}f}"


def markdown(r: dict) -> str:
    lines = [f"**Not for publication**: a check run with the binaries in {r['bins']} (not `make bench`'s release "
             "builds); no sizes.", ""] if r.get("bins") else []
    if r.get("per_step"):
        lines += [f"Measured {r['measured_at']} on {r['machine']} (`make bench`; {r['per_step']['reps']} fresh "
                  f"labs per implementation, medians; warm = median of {r['per_step']['warm_invocations']} "
                  "re-invocations). "
                  "Ratio = boto3 ÷ Rust (above 1: Rust is faster or smaller). Same calls: every run of the step, in "
                  "both implementations, made the same EC2/SSM calls on its first invocation (how many in brackets). "
                  "Served: of the cold time, the wall time in which the local AWS was serving the step's calls "
                  "(`served_seconds` of `/peerlab/calls`, concurrent calls once): one Python process serves them "
                  "all, so a step of many calls spends much of its cold start there, in either implementation.",
                  "",
                  "| step | cold Rust ms | cold boto3 ms | ratio | served Rust / boto3 ms | warm Rust ms "
                  "| warm boto3 ms | ratio | RSS Rust MiB | RSS boto3 MiB | same calls |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
        for step, e in r["per_step"]["steps"].items():
            ru, py = e["rust"], e["python"]
            lines.append(f"| {step} | {fmt(ru['cold_ms'])} | {fmt(py['cold_ms'])} | {fmt(e['cold_ratio'])}× | "
                         f"{fmt(ru.get('served_ms'))} / {fmt(py.get('served_ms'))} | "
                         f"{fmt(ru['warm_ms'])} | {fmt(py['warm_ms'])} | {fmt(e['warm_ratio'])}× | "
                         f"{fmt(ru['peak_rss_kib'] / 1024)} | {fmt(py['peak_rss_kib'] / 1024)} | "
                         f"{'yes' if e['same_calls'] else 'NO'} ({sum(ru['calls'].values())}) |")
    else:
        lines += [f"Measured {r['measured_at']} on {r['machine']}: end to end only (no per-step figures)."]
    if r.get("sizes"):
        lines += ["", "| function | release binary (stripped) KiB | zip KiB |", "| --- | ---: | ---: |"]
        for step, s in r["sizes"]["functions"].items():
            lines.append(f"| {step} | {s['binary_bytes'] / 1024:.0f} | {s['zip_bytes'] / 1024:.0f} |")
        lines.append("| boto3 reference (its 2 files; boto3 is in the runtime) | – | "
                     f"{r['sizes']['reference_zip_bytes'] / 1024:.1f} |")
    e = r["end_to_end"]
    lines += ["", *end_to_end_markdown(e)]
    if r["workshop"]:
        lines += ["", "| labs at once | makespan s | labs/min | bound labs/min | limited by | ratio to bound "
                  "| failures | leaked | EC2 calls | throttled calls |",
                  "| ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |"]
    for w in r["workshop"]:
        lines.append(f"| {w['labs']} | {fmt(w['makespan_s'])} | {fmt(w['labs_per_minute'])} | "
                     f"{fmt(w['bound_labs_per_minute'])} | {w['limited_by']} | {fmt(w['ratio_to_bound'], 2)} | "
                     f"{len(w['failures'])} | {w['leaked']} | {w.get('ec2_calls', '–')} | {w['throttled']} |")
    if r["workshop"]:
        lines += ["", "The bound: the time EC2's token buckets (AWS's default sizes and refill rates per AWS second, "
                  "infra/local/peerlab_local/ec2/limits.py, at the run's time scale) need to serve the EC2 calls the "
                  "run made, after their bursts, or the critical path if that is longer."]
    unthrottled = [w for w in r["workshop"] if w["throttled"] == 0 and w["limited_by"] != "critical path"]
    if unthrottled:
        sizes = ", ".join(str(w["labs"]) for w in unthrottled)
        lines += ["", f"At {sizes} labs the bound is the EC2 token buckets', yet no EC2 call was throttled: what "
                  "limited "
                  "these runs was the local AWS itself (one moto process on "
                  f"{r['machine'].split(', ')[-1]}, every function invocation a process of its own), not AWS's rate "
                  "limits. Below the bound's crossover the gap is the retriers' fixed intervals and Lambda run time "
                  "(as end to end)."]
    failed = [f for w in r["workshop"] for f in w["failures"]]
    if failed:
        lines += ["", f"Failed labs: {'; '.join(failed[:10])}{' …' if len(failed) > 10 else ''}"]
    return "\n".join(lines) + "\n"


def end_to_end_markdown(e: dict) -> list[str]:
    """The end-to-end lab in AWS time (the CLI's estimate, cli/src/aws_time.rs), its waits' polling lag, the
    scale-1 check and the lab's cost on AWS."""
    phases = ", ".join(f"{k} {v / e['time_scale']:.1f}" for k, v in e["critical_path_phases"].items())
    t, c = e["aws_time"], e["aws_cost"]
    out = [f"One lab end to end on the `realistic` profile × {e['time_scale']}, every delay at its median "
           f"({fmt(e['wall_s'])} s here): **{fmt(t['seconds'])} s in AWS time** against a critical-path bound of "
           f"{fmt(e['critical_path_aws_s'])} s (**{fmt(e['ratio'], 2)}×**). AWS time = Step Functions' waits here ÷ "
           f"{e['stepfunctions_time_scale']} ({fmt(t['wait_seconds'])} s) + each function's run time as measured "
           f"here, not scaled ({fmt(t['function_seconds'])} s) + Step Functions' own time between them "
           f"({fmt(t['overhead_seconds'])} s), along the longest branch; cli/src/aws_time.rs, the estimator "
           "`peerlab run` prints too. "
           f"{fmt(e.get('billed_transitions'), 0)} billed state transitions ({fmt(e['state_transitions'], 0)} states "
           f"entered + each retry), {fmt(e['history_events'], 0)} history events, {e['api_calls']} EC2/SSM calls; "
           f"failures: {'; '.join(e['failures']) or 'none'}; leaked: {e['leaked']}. The bound (AWS s) is the "
           f"profile's medians along today's workflow's longest chain: {phases}.", ""]
    if t["waits"]:
        out += ["Polling lag per wait (AWS seconds after the state was entered; ready = seen by the local AWS's "
                "inventory, sampled every 0.2 s of wall time, i.e. ±0.1 s ÷ the time scale):", "",
                "| state | waits for | ready | noticed | lag |", "| --- | --- | ---: | ---: | ---: |"]
        out += [f"| {w['state']} | {w['awaited']} | {fmt(w['ready_after_seconds'])} | "
                f"{fmt(w['noticed_after_seconds'])} | {fmt(w['lag_seconds'])} |" for w in t["waits"]]
        out += ["", f"Polling lag in all: {fmt(t['polling_lag_seconds'])} s (waits no inventory shows, the "
                "consistency windows and SSM's command delivery, are not in it)."]
    check = e.get("scale_1_check")
    if check:
        out += ["", f"Check: the same lab at time scale 1 (real time, {check['status']}, leaked {check['leaked']}) "
                f"took **{fmt(check['wall_s'])} s**; the estimate from × {e['time_scale']} was "
                f"{fmt(check['estimate_s'])} s "
                f"(**{check['deviation'] * 100:+.1f} %**)."]
    instances = " + ".join(f"{s:.0f} s" for s in c["instance_seconds"])
    out += ["", f"Its cost on AWS: **${c['usd']:.4f}** = {c['transitions']} billed transitions × $0.025/1,000 "
            f"(${c['transitions_usd']:.4f}) + Lambda {c['lambda_requests']} requests and "
            f"{c['lambda_gb_seconds']:.2f} GB-s (${c['lambda_usd']:.6f}) + t3.micro running {instances} (60 s "
            f"minimum each: ${c['instances_usd']:.5f}) + {c['endpoint_hours']:g} interface endpoint-hours "
            f"(${c['endpoints_usd']:.2f}); prices in README, Cost."]
    return out


def plot(r: dict) -> str:
    """Cold start and warm latency per step, Rust beside boto3, as an SVG bar chart (log-free, ms)."""
    rows = list(r["per_step"]["steps"].items())
    top = max(max(e["python"]["cold_ms"], e["rust"]["cold_ms"]) for _, e in rows)
    width, left, bar, gap = 900, 190, 9, 10
    height = 70 + len(rows) * (4 * bar + gap)
    scale = (width - left - 80) / top
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           'font-family="Helvetica, Arial, sans-serif" font-size="11">',
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="10" y="20" font-size="14" font-weight="bold">peerlab per step: cold start and warm latency, '
           f'Rust vs boto3 (ms, medians; {r["measured_at"]})</text>']
    colours = [("rust", "cold_ms", "#4e79a7", "Rust cold"), ("python", "cold_ms", "#f28e2b", "boto3 cold"),
               ("rust", "warm_ms", "#a0cbe8", "Rust warm"), ("python", "warm_ms", "#ffbe7d", "boto3 warm")]
    y = 45
    for step, e in rows:
        out.append(f'<text x="10" y="{y + 2 * bar + 3}">{step}</text>')
        for n, (impl, metric, colour, _) in enumerate(colours):
            value = e[impl][metric]
            top_y = y + n * bar
            out.append(f'<rect x="{left}" y="{top_y}" width="{max(value * scale, 1):.1f}" height="{bar - 1}" '
                       f'fill="{colour}"/>')
            out.append(f'<text x="{left + value * scale + 4:.1f}" y="{top_y + bar - 1}" font-size="9">'
                       f'{value:.0f}</text>')
        y += 4 * bar + gap
    x = 10
    for _, _, colour, label in colours:
        out.append(f'<rect x="{x}" y="{y + 5}" width="12" height="9" fill="{colour}"/>'
                   f'<text x="{x + 16}" y="{y + 13}">{label}</text>')
        x += 110
    out.append("</svg>")
    return "\n".join(out) + "\n"


def update_readme(section: str):
    readme = ROOT / "README.md"
    text = readme.read_text()
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    if start not in text or end not in text:
        raise SystemExit("bench: README.md has no <!-- bench:start --> ... <!-- bench:end --> section")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{start}\n{section}{end}{tail}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="make bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--zips", default=str(ROOT / "build" / "lambda"), help="make build's output")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--warm", type=int, default=5)
    p.add_argument("--bins", default=None,
                   help="check run: use the function executables in this folder (e.g. a debug build) instead of "
                        "unpacking --zips; no sizes, no README; the report, marked not for publication, goes only "
                        "to --out, which must then be given and not be bench/")
    p.add_argument("--time-scale", type=float, default=0.02,
                   help="scale of the realistic profile's delays and of Step Functions' waits (default 0.02, as "
                        "`make run`)")
    p.add_argument("--labs", default="1,10,50", help="workshop sizes")
    target = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
    p.add_argument("--cli", default=str(target / "debug" / "peerlab"),
                   help="the peerlab CLI, which runs the end-to-end lab and estimates its AWS time and cost "
                        "(default: $CARGO_TARGET_DIR/debug/peerlab, else target/debug/peerlab)")
    p.add_argument("--no-scale-1-check", action="store_true",
                   help="skip the lab at time scale 1 (about 4 min of real time) that checks the AWS-time estimate")
    p.add_argument("--parts", default="per-step,end-to-end,workshop",
                   help="which parts to measure (end to end always runs: the workshop rows use its calls)")
    p.add_argument("--no-readme", action="store_true", help="do not rewrite the README's Performance section")
    p.add_argument("--out", default=None, help="where report.md, report.json and plot.svg go (default bench/)")
    p.add_argument("--render-only", action="store_true",
                   help="measure nothing: render bench/report.json again (report.md, plot.svg, README)")
    args = p.parse_args(argv)
    if args.render_only:
        args.out = args.out or str(BENCH)
        out = Path(args.out)
        return render(json.loads((out / "report.json").read_text()), out, not args.no_readme)
    if args.bins:
        # a check run must not overwrite the published figures (bench/report.*, the README's Performance section)
        if args.out is None or Path(args.out).resolve() == BENCH:
            raise SystemExit("bench: --bins needs --out DIR other than bench/ (a check run is not for publication)")
        args.no_readme = True
    args.out = args.out or str(BENCH)
    work = Path(tempfile.mkdtemp(prefix="peerlab-bench-"))
    log(f"logs in {work}")
    if args.bins:
        bins = Path(args.bins).resolve()
        missing = [step for step in FUNCTIONS if not (bins / step).is_file()]
        if missing:
            raise SystemExit(f"bench: {bins} lacks {', '.join(missing)}")
        sizes = None
    else:
        bins = work / "bin"
        sizes = release_binaries(Path(args.zips), bins)
    cli = Path(args.cli).resolve()
    if not cli.is_file():
        raise SystemExit(f"bench: no peerlab CLI at {cli} (cargo build -p peerlab, or --cli PATH)")
    parts = set(args.parts.split(","))
    steps = per_step(bins, work, args.reps, args.warm) if "per-step" in parts else None
    log("end to end, realistic profile")
    e2e = end_to_end(bins, work, args.time_scale, cli, not args.no_scale_1_check)
    shop = workshop(bins, work, args.time_scale, [int(n) for n in args.labs.split(",")],
                    e2e["critical_path_s"]) if "workshop" in parts else []
    uname = os.uname()
    report = {"measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "machine": f"{uname.sysname} {uname.machine}, {os.cpu_count()} cores",
              "per_step": steps,
              "sizes": {"functions": sizes, "reference_zip_bytes": reference_zip_bytes()} if sizes else None,
              "end_to_end": e2e, "workshop": shop}
    if args.bins:
        report["bins"] = str(bins)  # marks the report as not for publication
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    return render(report, out, not args.no_readme)


def render(report: dict, out: Path, readme: bool) -> int:
    md = markdown(report)
    (out / "report.md").write_text("# peerlab benchmark\n\n" + md)
    if report.get("per_step"):
        (out / "plot.svg").write_text(plot(report))
    if readme and not report.get("bins"):  # a check run's figures never go into the README
        update_readme(md + "\n![cold start and warm latency per step](bench/plot.svg)\n")
    print(md)
    log(f"wrote {out}/report.md, report.json, plot.svg{' and the README' if readme else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
