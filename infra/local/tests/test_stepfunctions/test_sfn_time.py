"""Step Functions time is scaled like EC2's (sfn_time.py): Wait states, Retry intervals and timeouts last
--time-scale x their AWS duration. At 0.01 a 100 s wait lasts ~1 s: not 100 s (unscaled), not 0 (skipped).

Durations are read from the execution history (the engine's own timestamps), so polling does not blur them; the
bounds are generous for a loaded 2-core machine. Each wait_for is capped at 20 s, so the unscaled engine (100 s
waits) fails fast."""

import datetime
import json
import time

import pytest

from conftest import LocalAws, wait_for

ROLE = "arn:aws:iam::123456789012:role/sfn"
SCALE = 0.01
LOW, HIGH = 0.8, 10.0  # wall seconds around a 100 s (AWS) wait at 0.01: ~1 s expected


@pytest.fixture(scope="module")
def realistic():
    aws = LocalAws("--profile", "realistic", "--time-scale", str(SCALE))
    yield aws
    aws.stop()


@pytest.fixture(scope="module")
def instant():
    aws = LocalAws("--profile", "instant", "--time-scale", str(SCALE))
    yield aws
    aws.stop()


@pytest.fixture(scope="module")
def tokyo():
    """A machine whose local time is UTC+9: a Wait Timestamp is UTC whatever the local zone."""
    aws = LocalAws("--profile", "realistic", "--time-scale", str(SCALE), env={"TZ": "JST-9"})
    yield aws
    aws.stop()


_names = iter(range(10**6))


def run(aws, definition: dict, execution_input: dict | None = None, timeout: float = 20.0):
    """Create a state machine, run it once; return (describe_execution, history events)."""
    sfn = aws.client("stepfunctions")
    arn = sfn.create_state_machine(name=f"m{next(_names)}", definition=json.dumps(definition),
                                   roleArn=ROLE)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, name="run-1",
                                    input=json.dumps(execution_input or {}))["executionArn"]
    done = wait_for(lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d,
                    timeout=timeout, interval=0.05)
    return done, sfn.get_execution_history(executionArn=execution)["events"]


def seconds_between(events, first: str, then: str) -> float:
    """Seconds from the first `first` event to the first `then` event after it."""
    start = next(e for e in events if e["type"] == first)
    end = next(e for e in events if e["type"] == then and e["id"] > start["id"])
    return (end["timestamp"] - start["timestamp"]).total_seconds()


def gaps(events, failed: str = "TaskFailed", again: str = "TaskScheduled") -> list[float]:
    """Seconds from each failure to the next attempt: the retry intervals."""
    result, failed_at = [], None
    for event in events:
        if event["type"] == failed:
            failed_at = event["timestamp"]
        elif event["type"] == again and failed_at is not None:
            result.append((event["timestamp"] - failed_at).total_seconds())
            failed_at = None
    return result


def wait_machine(**wait) -> dict:
    return {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", **wait, "End": True}}}


def in_100_seconds() -> str:
    return (datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=100)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def failing_task(**retry) -> dict:
    """A Task that always fails (Lambda.ResourceNotFoundException: no such function), retried as given."""
    return {"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "no-such-function", "Payload": {}},
        "Retry": [{"ErrorEquals": ["States.ALL"], **retry}], "End": True}}}


def callback_task(aws, **timeouts) -> dict:
    """A Task that waits for a task token nobody sends back (SQS .waitForTaskToken): only its timeouts end it."""
    queue = aws.client("sqs").create_queue(QueueName=f"q{next(_names)}")["QueueUrl"]
    return {"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": queue, "MessageBody": {"token.$": "$$.Task.Token"}}, **timeouts, "End": True}}}


def test_config_says_step_functions_time_is_scaled(realistic, instant):
    assert realistic.get("/peerlab/config")["stepfunctions_time_scale"] == SCALE
    assert instant.get("/peerlab/config")["stepfunctions_time_scale"] == SCALE


@pytest.mark.parametrize("profile", ["realistic", "instant"])
def test_wait_seconds_is_scaled_in_every_profile(profile, request):
    done, events = run(request.getfixturevalue(profile), wait_machine(Seconds=100))
    assert done["status"] == "SUCCEEDED"
    assert LOW <= seconds_between(events, "WaitStateEntered", "WaitStateExited") <= HIGH


def test_wait_seconds_path_is_scaled(realistic):
    done, events = run(realistic, wait_machine(SecondsPath="$.hold"), {"hold": 100})
    assert done["status"] == "SUCCEEDED"
    assert LOW <= seconds_between(events, "WaitStateEntered", "WaitStateExited") <= HIGH


def test_wait_timestamp_scales_the_remaining_time_in_utc(tokyo):
    # 100 s ahead (whole seconds, as AWS truncates) on a UTC+9 machine: ~1 s. moto alone compared the UTC
    # timestamp with local time: no wait at all east of UTC, 9 h too long west of it.
    done, events = run(tokyo, wait_machine(Timestamp=in_100_seconds()))
    assert done["status"] == "SUCCEEDED"
    assert LOW <= seconds_between(events, "WaitStateEntered", "WaitStateExited") <= HIGH


def test_wait_timestamp_path_is_scaled(tokyo):
    done, events = run(tokyo, wait_machine(TimestampPath="$.until"), {"until": in_100_seconds()})
    assert done["status"] == "SUCCEEDED"
    assert LOW <= seconds_between(events, "WaitStateEntered", "WaitStateExited") <= HIGH


def test_a_timestamp_in_the_past_does_not_wait(realistic):
    done, events = run(realistic, wait_machine(Timestamp="2020-01-01T00:00:00Z"))
    assert done["status"] == "SUCCEEDED"
    assert seconds_between(events, "WaitStateEntered", "WaitStateExited") < 0.5


def test_stopping_an_execution_ends_a_scaled_wait(realistic):
    sfn = realistic.client("stepfunctions")
    arn = sfn.create_state_machine(name="stopped", definition=json.dumps(wait_machine(Seconds=10**6)),
                                   roleArn=ROLE)["stateMachineArn"]  # 10^4 s wall at 0.01
    execution = sfn.start_execution(stateMachineArn=arn, name="run-1", input="{}")["executionArn"]
    time.sleep(0.3)
    sfn.stop_execution(executionArn=execution)
    wait_for(lambda: sfn.describe_execution(executionArn=execution)["status"] == "ABORTED", timeout=5)


def test_retry_interval_is_scaled(realistic):
    # IntervalSeconds 100, MaxAttempts 2: two retries, each ~1 s after the failure at 0.01
    done, events = run(realistic, failing_task(IntervalSeconds=100, MaxAttempts=2, BackoffRate=1))
    assert done["status"] == "FAILED" and done["error"] == "Lambda.ResourceNotFoundException"
    intervals = gaps(events)
    assert len(intervals) == 2
    assert all(LOW <= s <= HIGH for s in intervals), intervals


def test_retry_backoff_is_capped_by_max_delay_seconds(realistic):
    # 100 s, x10 per retry, capped at 150 s: 100, 150, 150 (AWS) -> ~1, 1.5, 1.5 s; without the cap 1, 10, 100 s
    done, events = run(realistic, failing_task(IntervalSeconds=100, MaxAttempts=3, BackoffRate=10,
                                               MaxDelaySeconds=150), timeout=30)
    assert done["status"] == "FAILED"
    first, second, third = gaps(events)
    assert LOW <= first <= HIGH
    assert 1.2 <= second <= 5.0 and 1.2 <= third <= 5.0, (first, second, third)


def test_full_jitter_stays_random_within_the_scaled_interval(realistic):
    # FULL jitter: each interval uniform in [0, 300 s] -> [0, 3 s] at 0.01; five draws all above 2.5 s: (1/6)^5
    done, events = run(realistic, failing_task(IntervalSeconds=300, MaxAttempts=5, BackoffRate=1,
                                               JitterStrategy="FULL"), timeout=30)
    assert done["status"] == "FAILED"
    intervals = gaps(events)
    assert len(intervals) == 5
    assert max(intervals) <= 3.0 + 1.5, intervals  # 1.5 s of slack for a loaded machine
    assert min(intervals) < 2.5, intervals


def test_task_timeout_seconds_fails_with_states_timeout_after_the_scaled_time(realistic):
    done, events = run(realistic, callback_task(realistic, TimeoutSeconds=100))
    assert done["status"] == "FAILED" and done["error"] == "States.Timeout"
    assert LOW <= seconds_between(events, "TaskStarted", "TaskTimedOut") <= HIGH


def test_task_timeout_seconds_path_is_scaled(realistic):
    done, events = run(realistic, callback_task(realistic, TimeoutSecondsPath="$.limit"), {"limit": 100})
    assert done["status"] == "FAILED" and done["error"] == "States.Timeout"
    assert LOW <= seconds_between(events, "TaskStarted", "TaskTimedOut") <= HIGH


def test_heartbeat_seconds_is_scaled(realistic):
    # no heartbeat for HeartbeatSeconds 50 -> times out after ~0.5 s, long before TimeoutSeconds (1000 s wall)
    done, events = run(realistic, callback_task(realistic, TimeoutSeconds=100000, HeartbeatSeconds=50))
    assert done["status"] == "FAILED" and done["error"] == "States.Timeout"
    assert 0.3 <= seconds_between(events, "TaskStarted", "TaskTimedOut") <= HIGH


def test_execution_timeout_seconds_is_scaled(realistic):
    definition = {"TimeoutSeconds": 100, **wait_machine(Seconds=10**6)}
    done, events = run(realistic, definition)
    assert done["status"] == "TIMED_OUT"
    assert LOW <= seconds_between(events, "ExecutionStarted", "ExecutionTimedOut") <= HIGH
    assert LOW <= (done["stopDate"] - done["startDate"]).total_seconds() <= HIGH  # moto left stopDate out


def test_default_time_scale_keeps_real_time(start_local):
    aws = start_local()
    assert aws.get("/peerlab/config")["stepfunctions_time_scale"] == 1.0
    done, events = run(aws, wait_machine(Seconds=1))
    assert done["status"] == "SUCCEEDED"
    assert 0.9 <= seconds_between(events, "WaitStateEntered", "WaitStateExited") <= HIGH


def test_install_fails_loudly_when_moto_lacks_what_it_wraps(monkeypatch):
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function import wait_function

    from peerlab_local.stepfunctions import timing as sfn_time

    monkeypatch.delattr(wait_function.WaitFunction, "_wait_interval")
    monkeypatch.setattr(sfn_time, "_installed", False)
    with pytest.raises(sfn_time.MotoChanged, match="WaitFunction has no '_wait_interval'"):
        sfn_time.install()


def test_a_lambda_tasks_timeout_counts_real_seconds(start_local):
    # A Lambda task's TimeoutSeconds bounds the function's run, which here is real. 30 s scaled at 1e-5 would be
    # 0.3 ms, less than any invoke takes; counted in real seconds, a function that answers within it succeeds even
    # on a loaded machine (a 1 s timeout at 0.01 was not enough margin there: CI saw States.Timeout).
    # (The function does not exist: Lambda answers at once with ResourceNotFoundException, a Lambda error,
    # not a States.Timeout.)
    aws = start_local("--profile", "realistic", "--time-scale", "0.00001")
    definition = {"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "TimeoutSeconds": 30,
        "Parameters": {"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:missing", "Payload": {}},
        "End": True}}}
    done, events = run(aws, definition, timeout=60)
    assert done["status"] == "FAILED"
    assert done["error"] != "States.Timeout", done
