"""The state machine's retry budgets against AWS's tails: each NotReady retrier waits at least as long as the p99
of everything its state waits for, the p99s being the local AWS's distributions
(infra/local/peerlab_local/core/delays.py, each with its AWS source). A budget sized on medians, or a tail that grows
past a budget, fails here."""

from __future__ import annotations

import re
import sys

import pytest
import yaml

from asl import (
    DESCRIBE_LAB,
    LAB,
    MACHINES,
    RETRIER_OF,
    ROOT,
    START_LAB,
    TRANSIENT_RETRIER,
    WORKSHOP,
    load,
    states,
    tasks,
    transient_retrier,
)

sys.path.insert(0, str(ROOT / "infra" / "local"))
from peerlab_local.core.config import REALISTIC  # noqa: E402
from peerlab_local.core.delays import tail  # noqa: E402

# The ping's own duration (ping_test.rs: `ping -c 3 -W 2`): 2 s of intervals, plus -W 2 when nothing answers.
PING_UNANSWERED, PING_ANSWERED = 4.0, 2.0
# One hibernation re-ping of the SSM Agent (amazon-ssm-agent agent/hibernation/hibernation.go, initialPingRate 300 s):
# the control ping also covers an agent whose first ping failed once.
HIBERNATION_FIRST_REPING = 300.0

# What each state's NotReady retrier waits for: delay names (their p99 counts) and fixed seconds.
WAITS_FOR: dict[str, list[str | float]] = {
    "Create VPC A": ["consistency_window", "endpoint_pending", "instance_pending", "instance_profile_propagation"],
    "Create VPC B": ["consistency_window", "instance_pending"],
    "Ping B from A before peering (expect no reply)": ["agent_boot", "command_delivery", PING_UNANSWERED,
                                                       HIBERNATION_FIRST_REPING],
    "Request the peering": ["consistency_window"],
    "Accept the peering": ["consistency_window", "peering_initiating", "peering_provisioning"],
    "Add routes both ways": ["consistency_window"],
    "Let A into B's security group": ["consistency_window"],
    "Ping B from A (expect replies)": ["command_delivery", PING_ANSWERED],
    "Tear the lab down": ["instance_shutting_down", "endpoint_deleting"],
    "Tear down after a failure": ["instance_shutting_down", "endpoint_deleting"],
    "Tear down what the execution left": ["instance_shutting_down", "endpoint_deleting"],
}
TEARDOWNS = ("Tear the lab down", "Tear down after a failure", "Tear down what the execution left")
QUIET = ("Tear down after a failure", "Tear down what the execution left")


@pytest.fixture(scope="module")
def all_tasks() -> dict[str, dict]:
    found: dict[str, dict] = {}
    for path in MACHINES:
        found.update(tasks(load(path)))
    return found


def not_ready(state: dict) -> dict | None:
    return next((r for r in state.get("Retry", []) if r["ErrorEquals"] == ["NotReady"]), None)


def the_retrier(state: dict) -> dict:
    """The state's NotReady retrier, which the test expects it to have."""
    found = not_ready(state)
    assert found is not None, state
    return found


def budget(retrier: dict) -> float:
    """Seconds a retrier waits in all, before its last attempt fails (no jitter: each interval in full)."""
    interval, rate = retrier.get("IntervalSeconds", 1), retrier.get("BackoffRate", 2.0)
    cap = retrier.get("MaxDelaySeconds", float("inf"))
    return sum(min(interval * rate ** n, cap) for n in range(retrier.get("MaxAttempts", 3)))


def p99(items: list[str | float]) -> float:
    return sum(item if isinstance(item, float) else tail(item, REALISTIC[item]).p99 for item in items)


def test_every_not_ready_retrier_covers_the_p99_of_what_it_waits_for(all_tasks):
    with_retrier = {name for name, state in all_tasks.items() if not_ready(state)}
    assert with_retrier == set(WAITS_FOR), "a NotReady retrier without a budget here, or the other way round"
    for name, waits in WAITS_FOR.items():
        retrier = the_retrier(all_tasks[name])
        needed = p99(waits)
        assert budget(retrier) >= needed, f"{name}: budget {budget(retrier)} s < p99 {needed} s of {waits}"
        assert str(round(budget(retrier))) in retrier["Comment"], f"{name}: the Comment states its arithmetic"


def test_not_ready_waits_at_fixed_intervals_without_jitter(all_tasks):
    # a wait for a known duration wants fixed intervals; jitter is for throttling (STYLE.md, "Waiting")
    for name in WAITS_FOR:
        retrier = the_retrier(all_tasks[name])
        assert retrier["BackoffRate"] == 1 and "JitterStrategy" not in retrier, name


def test_teardowns_wait_at_least_15_minutes(all_tasks):
    for name in TEARDOWNS:
        assert budget(the_retrier(all_tasks[name])) >= 15 * 60, name


def test_create_vpc_retries_after_a_new_resource_is_listed(all_tasks):
    # a retry finds by tag what the previous attempt created only once describe-by-filter lists it
    lag = tail("consistency_window", REALISTIC["consistency_window"]).p99
    for name in ("Create VPC A", "Create VPC B"):
        assert the_retrier(all_tasks[name])["IntervalSeconds"] >= lag, name


def test_the_quiet_period_outlasts_a_create_in_flight(all_tasks):
    # teardown::QUIET_RETRIES retries of the teardown state after a failure: longer than create-vpc can still run
    # (its Lambda timeout) plus the time its last create takes to be listed
    source = (ROOT / "functions/lab-core/src/teardown.rs").read_text()
    found = re.search(r"pub const QUIET_RETRIES: u32 = (\d+);", source)
    assert found, "teardown.rs declares QUIET_RETRIES"
    quiet_retries = int(found.group(1))
    template = yaml.load((ROOT / "infra/template.yaml").read_text(), Loader=yaml.BaseLoader)
    function_timeout = float(template["Globals"]["Function"]["Timeout"])
    lag = tail("consistency_window", REALISTIC["consistency_window"]).p99
    for name in QUIET:
        interval = the_retrier(all_tasks[name])["IntervalSeconds"]
        assert quiet_retries * interval >= function_timeout + lag, name


def function_timeout(template: dict, state: dict) -> float:
    """The Timeout of the function a Task invokes (`${XFunctionArn}` -> resource XFunction), else the Globals'; for
    the workshop's child lab, the lab state machine's own TimeoutSeconds (the child must end first)."""
    if state["Resource"] == START_LAB:
        assert state["Parameters"]["StateMachineArn"] == "${LabStateMachineArn}"
        return float(load(LAB)["TimeoutSeconds"])
    if state["Resource"] == DESCRIBE_LAB:
        return 0.0  # one API call: no function's timeout to outlast
    arn = state["Parameters"]["FunctionName"]
    named = re.fullmatch(r"\$\{(\w+)Arn\}", arn)
    assert named, arn
    resource = named.group(1)
    own = template["Resources"][resource]["Properties"].get("Timeout")
    return float(own or template["Globals"]["Function"]["Timeout"])


def test_every_task_has_a_timeout_its_transient_retrier_and_a_catch(all_tasks):
    template = yaml.load((ROOT / "infra/template.yaml").read_text(), Loader=yaml.BaseLoader)
    # the lab's Tasks catch into its teardown; the workshop's child Task into the lab's failure record
    caught = {name for path in (LAB, WORKSHOP) for name, state in tasks(load(path)) if state.get("Catch")}
    for name, state in all_tasks.items():
        limit = function_timeout(template, state)
        assert state.get("TimeoutSeconds", 0) > limit, f"{name}: TimeoutSeconds above its function's {limit} s"
        transient = [r for r in state.get("Retry", []) if r["ErrorEquals"] != ["NotReady"]]
        # the shared retrier, written once (asl.py): a copy that drifted in any field, its Comment included, fails;
        # the workshop's child start and lab lookup have their own (asl.py), their integrations' errors
        assert transient == [transient_retrier(state)], f"{name}: the transient retrier (asl.py)"
        if name in ("Validate the input", "Tear down what the execution left", "Check the quotas",
                    "Summarize the workshop"):
            # nothing exists yet / the backstop is the last resort / nothing exists yet (the workshop's
            # preflight) / every lab has ended, each after its own teardown
            continue
        inside_parallel = name in ("Create VPC A", "Create VPC B")  # caught by the Parallel around them
        assert name in caught or inside_parallel, f"{name}: no Catch into teardown"


def test_the_workshop_outlasts_its_labs():
    # a child lab always ends before the Task that waits for it, and that Task before the workshop
    lab, workshop = load(LAB), load(WORKSHOP)
    (start,) = [s for _, s in tasks(workshop) if s["Resource"] == START_LAB]
    others = sum(s["TimeoutSeconds"] for _, s in tasks(workshop) if s["Resource"] != START_LAB)
    assert lab["TimeoutSeconds"] < start["TimeoutSeconds"]
    assert start["TimeoutSeconds"] + others <= workshop["TimeoutSeconds"]


def test_every_retrier_says_what_it_waits_for_and_its_arithmetic():
    # any retrier, on any state of either machine: NotReady on a state that waits, else the shared transient one
    for path in MACHINES:
        for name, state in states(load(path)):
            for retrier in state.get("Retry", []):
                assert retrier in (TRANSIENT_RETRIER, *RETRIER_OF.values()) or \
                    (retrier["ErrorEquals"] == ["NotReady"] and name in WAITS_FOR), \
                    f"{name}: a retrier that is neither the shared transient one nor a budgeted NotReady one"
                comment = retrier.get("Comment", "")
                assert "wait" in comment.lower(), f"{name}: the Comment says what {retrier['ErrorEquals']} waits for"
                assert re.search(rf"\b{round(budget(retrier))} s\b", comment), \
                    f"{name}: the Comment states its arithmetic, ending in {round(budget(retrier))} s"


def test_every_not_ready_interval_says_its_basis(all_tasks):
    # an interval is chosen from the distribution of what the state waits for (README, "How the intervals were
    # chosen"): its Comment names that distribution (median and p99) and says where the figures come from
    for name in WAITS_FOR:
        comment = the_retrier(all_tasks[name])["Comment"]
        assert "p99" in comment, f"{name}: the basis of its interval"
