"""The benchmark's own arithmetic (make test runs these; make bench runs the measurements)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "infra" / "local"))

import run  # noqa: E402

from peerlab_local.core.config import REALISTIC  # noqa: E402


def test_the_critical_path_follows_todays_workflow_on_the_medians():
    d = REALISTIC
    bound = run.critical_path(d)
    p = bound["phases"]
    cw = d["consistency_window"]
    # create-vpc A: three consistency windows (VPC waiter, subnet + route table, endpoint group), then the endpoints,
    # and only then instance A (launched once both endpoints are available)
    assert [p["VPC A visible"], p["subnet and route table A visible"], p["endpoint group visible"]] == [cw] * 3
    assert p["SSM endpoints available"] == d["endpoint_pending"]
    assert p["instance A running"] == d["instance_pending"]
    # the stack's instance profile (10 s) has propagated long before the endpoints (93 s) are available
    assert p["instance profile usable (beyond the endpoints)"] == 0
    assert p["side B beyond A"] == 0  # B (3 windows + pending) runs in parallel and ends first
    # A's endpoints were available before launch: its agent's first ping makes it Online (no hibernation)
    assert p["SSM online (A)"] == d["agent_boot"]
    # ping -c 3 -W 2: 2 intervals of 1 s, then 2 s waiting for the last reply that never comes; answered: 2 s
    assert p["control ping (delivery + 3 unanswered)"] == d["command_delivery"] + 4.0
    assert p["final ping (delivery + 3 answered)"] == d["command_delivery"] + 2.0
    assert p["peering visible and pending acceptance"] == max(d["peering_initiating"], cw)
    assert p["peering active"] == d["peering_provisioning"]
    assert p["group InstanceB visible"] == cw
    assert p["teardown"] == max(d["instance_shutting_down"], d["endpoint_deleting"])
    assert bound["seconds"] == sum(p.values())
    # today's medians: 3 + 90 + 15 + 20 + 5 + 2 + 5 + 1 + 3 + 40 s
    assert bound["seconds"] == 184.0


def test_the_critical_path_takes_what_outlasts_the_rest():
    # a slow profile propagation lies on the path: the launch waits for it after the endpoints
    slow_profile = run.critical_path(dict(REALISTIC, instance_profile_propagation=200.0))["phases"]
    assert slow_profile["instance profile usable (beyond the endpoints)"] == 200.0 - 93.0
    # B's chain (3 windows + pending) is A's without the endpoints: with instant endpoints the two tie
    fast = run.critical_path(dict(REALISTIC, endpoint_pending=0.0, instance_profile_propagation=0.0))
    assert fast["phases"]["side B beyond A"] == 0.0
    assert fast["seconds"] == run.critical_path(REALISTIC)["seconds"] - REALISTIC["endpoint_pending"]
    # the agent waits for nothing now, so the hibernation never lies on the path, whatever endpoint_pending is
    late_endpoints = run.critical_path(dict(REALISTIC, endpoint_pending=1000.0))
    assert late_endpoints["phases"]["SSM online (A)"] == REALISTIC["agent_boot"]


def test_the_critical_path_of_the_scaled_medians_is_the_medians_scaled():
    scale = 0.02
    config = {"delays": {k: v * scale for k, v in REALISTIC.items()},
              "distributions": {k: {"median_scaled": v * scale} for k, v in REALISTIC.items()}}
    scaled = run.critical_path(run.medians(config), scale)  # as end_to_end reads GET /peerlab/config
    assert abs(scaled["seconds"] - run.critical_path(REALISTIC)["seconds"] * scale) < 1e-9
    assert run.critical_path({k: 0.0 for k in REALISTIC}, 0.0)["seconds"] == 0.0


def test_the_rate_bound_is_the_slowest_bucket_or_the_critical_path():
    per_lab = {"ec2:CreateVpc": 2, "ec2:DescribeVpcs": 10, "ec2:RunInstances": 2, "ssm:SendCommand": 2}
    one = run.rate_bound(per_lab, 1, critical_s=20.0)
    assert one["limited_by"] == "critical path" and one["labs_per_minute"] == 3.0
    # 50 labs that made 50 times one lab's calls: CreateVpc and RunInstances 100 calls of a 50-token bucket
    # refilled 5/s: 10 s; DescribeVpcs 500 calls of 100 + 20/s: 20 s; so the critical path (30 s) still bounds,
    # until it is shorter than 20 s
    fifty = {action: 50 * n for action, n in per_lab.items()}
    assert run.rate_bound(fifty, 50, critical_s=30.0)["limited_by"] == "critical path"
    fast = run.rate_bound(fifty, 50, critical_s=5.0)
    assert fast["limited_by"] == "DescribeVpcs" and fast["seconds"] == 20.0
    assert fast["labs_per_minute"] == 150.0
    # the calls the labs made, not one lab's times 50: with 200 describes (5 s) CreateVpc's 10 s bound
    fewer = run.rate_bound({**fifty, "ec2:DescribeVpcs": 200}, 50, critical_s=5.0)
    assert fewer["limited_by"] == "CreateVpc" and fewer["seconds"] == 10.0
    # at x0.02 the buckets refill per AWS second: 20 AWS seconds are 0.4 s here, under a 1 s critical path
    scaled = run.rate_bound(fifty, 50, critical_s=1.0, scale=0.02)
    assert scaled["limited_by"] == "critical path" and scaled["seconds"] == 1.0
    assert run.rate_bound(fifty, 50, critical_s=0.1, scale=0.02)["seconds"] == 20.0 * 0.02


def test_the_readme_section_is_replaced_between_its_markers(tmp_path, monkeypatch):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- bench:start -->\nold figures\n<!-- bench:end -->\nrest\n")
    monkeypatch.setattr(run, "ROOT", tmp_path)
    run.update_readme("new figures\n")
    assert readme.read_text() == "intro\n<!-- bench:start -->\nnew figures\n<!-- bench:end -->\nrest\n"


def test_billed_transitions_count_every_retry():
    # two states entered; the Task ran twice (one retry): Step Functions bills 3 transitions
    history = [{"type": t} for t in ("ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskFailed",
                                     "TaskScheduled", "TaskSucceeded", "TaskStateExited", "PassStateEntered")]
    assert run.billed_transitions(history) == 3


def _report(**extra):
    e2e = {"time_scale": 0.02, "stepfunctions_time_scale": 0.02, "wall_s": 10.0, "critical_path_s": 3.68,
           "critical_path_phases": run.critical_path({k: v * 0.02 for k, v in REALISTIC.items()}, 0.02)["phases"],
           "ratio": 200 / 184, "projected_aws_s": 200.0, "critical_path_aws_s": 184.0, "state_transitions": 13,
           "billed_transitions": 28, "history_events": 105, "api_calls": 202, "failures": [], "leaked": 0,
           "aws_time": {"seconds": 200.0, "function_seconds": 5.0, "wait_seconds": 194.0, "overhead_seconds": 1.0,
                        "polling_lag_seconds": 3.5,
                        "waits": [{"state": "Create VPC A", "awaited": "instance A running",
                                   "ready_after_seconds": 100.0, "noticed_after_seconds": 103.5,
                                   "lag_seconds": 3.5}]},
           "aws_cost": {"usd": 0.0214, "transitions": 28, "transitions_usd": 0.0007, "lambda_requests": 20,
                        "lambda_gb_seconds": 0.6, "lambda_usd": 0.000012, "instance_seconds": [60.0, 120.0],
                        "instances_usd": 0.00052, "endpoint_hours": 2.0, "endpoints_usd": 0.02}}
    return {"measured_at": "now", "machine": "Linux x86_64, 2 cores", "sizes": None, "end_to_end": e2e,
            "per_step": {"reps": 1, "warm_invocations": 1, "steps": {"teardown": {
                "rust": {"cold_ms": 1.0, "warm_ms": 1.0, "peak_rss_kib": 1024, "calls": {"ec2:DescribeVpcs": 1}},
                "python": {"cold_ms": 2.0, "warm_ms": 2.0, "peak_rss_kib": 2048, "calls": {"ec2:DescribeVpcs": 1}},
                "same_calls": True, "cold_ratio": 2.0, "warm_ratio": 2.0, "rss_ratio": 2.0}}},
            "workshop": [], **extra}


def test_a_check_run_is_marked_not_for_publication_and_has_no_sizes():
    md = run.markdown(_report(bins="/somewhere/debug"))
    assert md.startswith("**Not for publication**") and "zip KiB" not in md
    assert "**200.0 s in AWS time** against a critical-path bound of 184.0 s" in md
    assert "| Create VPC A | instance A running | 100.0 | 103.5 | 3.5 |" in md
    assert "Its cost on AWS: **$0.0214**" in md
    assert "28 billed state transitions" in md
    assert "Not for publication" not in run.markdown(_report())


def test_a_check_run_never_writes_to_bench_or_the_readme(tmp_path, monkeypatch):
    import pytest

    for argv in (["--bins", str(tmp_path)], ["--bins", str(tmp_path), "--out", str(run.BENCH)]):
        with pytest.raises(SystemExit, match="--bins needs --out"):
            run.main(argv)
    touched = []
    monkeypatch.setattr(run, "update_readme", lambda section: touched.append(section))
    run.render(_report(bins="/somewhere/debug"), tmp_path, readme=True)
    assert touched == [] and (tmp_path / "report.md").is_file()
