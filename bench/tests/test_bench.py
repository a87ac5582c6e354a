"""The benchmark's own arithmetic (make test runs these; make bench runs the measurements)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "infra" / "local"))

import run  # noqa: E402
from peerlab_local.config import REALISTIC  # noqa: E402


def test_the_critical_path_sums_the_longest_chain_with_both_sides_in_parallel():
    bound = run.critical_path(REALISTIC)
    p = bound["phases"]
    assert p["create both sides"] == REALISTIC["instance_pending"]  # not twice: the sides run in parallel
    # A's agent pings 15 + 20 s after launch, finds the endpoints pending (90 s) and hibernates 300 s
    assert p["SSM online (A)"] == REALISTIC["agent_boot"] + 300
    fast = run.critical_path(dict(REALISTIC, endpoint_pending=30.0))  # endpoints ready before the first ping
    assert fast["phases"]["SSM online (A)"] == REALISTIC["agent_boot"]
    scaled = run.critical_path({k: v * 0.01 for k, v in REALISTIC.items()}, 0.01)  # what /peerlab/config gives
    assert abs(scaled["phases"]["SSM online (A)"] - (REALISTIC["agent_boot"] + 300) * 0.01) < 1e-9
    assert p["teardown"] == max(REALISTIC["instance_shutting_down"], REALISTIC["endpoint_deleting"])
    assert bound["seconds"] == sum(p.values())
    assert run.critical_path({k: 0.0 for k in REALISTIC})["seconds"] == 0.0


def test_the_rate_bound_is_the_slowest_bucket_or_the_critical_path():
    per_lab = {"ec2:CreateVpc": 2, "ec2:DescribeVpcs": 10, "ec2:RunInstances": 2, "ssm:SendCommand": 2}
    one = run.rate_bound(per_lab, 1, critical_s=20.0)
    assert one["limited_by"] == "critical path" and one["labs_per_minute"] == 3.0
    # 50 labs: CreateVpc and RunInstances need 100 calls of a 50-token bucket refilled 5/s: 10 s; DescribeVpcs 500
    # calls of 100 + 20/s: 20 s; so the critical path (30 s) still bounds, until it is shorter than 20 s
    assert run.rate_bound(per_lab, 50, critical_s=30.0)["limited_by"] == "critical path"
    fast = run.rate_bound(per_lab, 50, critical_s=5.0)
    assert fast["limited_by"] == "DescribeVpcs" and fast["seconds"] == 20.0
    assert fast["labs_per_minute"] == 150.0


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
