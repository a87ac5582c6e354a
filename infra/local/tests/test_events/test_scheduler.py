"""EventBridge Scheduler on the local AWS (peerlab_local/events/scheduler.py, schedule_expr.py): expressions and their
instants (time zones, DST), validation as CreateSchedule answers, and schedules that run at --time-scale: at() once
(ActionAfterCompletion DELETE / NONE), rate() repeatedly, DISABLED never, retries per RetryPolicy, dead letters,
the target role assumed with its trust policy."""

from __future__ import annotations

import datetime
import json
import time

import boto3
import botocore
import pytest

from conftest import LocalAws, wait_for
from peerlab_local.events import schedule_expr

UTC = datetime.UTC
ACCOUNT = "123456789012"
TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"}, "Action": "sts:AssumeRole",
    "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}}]}


def at(seconds_from_now: float, tz: str = "UTC") -> str:
    when = datetime.datetime.now(datetime.UTC).astimezone(schedule_expr.zone(tz))
    when += datetime.timedelta(seconds=seconds_from_now)
    return f"at({when.strftime('%Y-%m-%dT%H:%M:%S')})"


def ts(text: str) -> float:
    return datetime.datetime.fromisoformat(text).timestamp()


def iso(t: float) -> str:
    return datetime.datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S")


# ---- expressions ------------------------------------------------------------------------------------------------

def instants(expression: str, tz: str, start: str, count: int) -> list[str]:
    expr, zone = schedule_expr.parse(expression), schedule_expr.zone(tz)
    out, t = [], ts(start)
    for _ in range(count):
        t = expr.next_after(t, zone)
        out.append(iso(t))
        t += 1
    return out


def test_cron_is_evaluated_in_its_time_zone():
    # 09:00 Berlin on weekdays: 08:00 UTC in winter (CET), Saturday 2026-11-28 and Sunday skipped
    assert instants("cron(0 9 ? * MON-FRI *)", "Europe/Berlin", "2026-11-28T00:00:00+00:00", 3) == [
        "2026-11-30T08:00:00", "2026-12-01T08:00:00", "2026-12-02T08:00:00"]
    assert instants("cron(0 9 ? * MON-FRI *)", "UTC", "2026-11-28T00:00:00+00:00", 1) == ["2026-11-30T09:00:00"]
    # New York, summer (EDT, UTC-4)
    assert instants("cron(15 10 1 * ? *)", "America/New_York", "2026-06-15T00:00:00+00:00", 1) == [
        "2026-07-01T14:15:00"]


def test_cron_across_dst_skips_a_missing_wall_time_and_runs_a_repeated_one_once():
    # Europe/Berlin 2027-03-28: 02:00 -> 03:00, so 02:30 does not exist that day: skipped
    assert instants("cron(30 2 * * ? *)", "Europe/Berlin", "2027-03-26T12:00:00+00:00", 3) == [
        "2027-03-27T01:30:00", "2027-03-29T00:30:00", "2027-03-30T00:30:00"]
    # 2027-10-31: 03:00 -> 02:00, so 02:30 happens twice (00:30Z CEST and 01:30Z CET): it runs once, the first
    assert instants("cron(30 2 * * ? *)", "Europe/Berlin", "2027-10-29T12:00:00+00:00", 3) == [
        "2027-10-30T00:30:00", "2027-10-31T00:30:00", "2027-11-01T01:30:00"]
    # a cron at 09:00 keeps 09:00 wall time across the change (UTC hour moves)
    assert instants("cron(0 9 * * ? *)", "Europe/Berlin", "2027-03-27T00:00:00+00:00", 2) == [
        "2027-03-27T08:00:00", "2027-03-28T07:00:00"]


def test_cron_special_days():
    assert instants("cron(0 12 L * ? *)", "UTC", "2027-02-01T00:00:00+00:00", 1) == ["2027-02-28T12:00:00"]
    assert instants("cron(0 12 ? * 2#1 *)", "UTC", "2026-11-28T00:00:00+00:00", 1) == ["2026-12-07T12:00:00"]
    assert instants("cron(0 12 ? * 6L *)", "UTC", "2026-11-28T00:00:00+00:00", 1) == ["2026-12-25T12:00:00"]
    assert instants("cron(0 12 15W * ? *)", "UTC", "2026-11-01T00:00:00+00:00", 1) == ["2026-11-16T12:00:00"]
    assert instants("cron(0/20 8 ? * SAT *)", "UTC", "2026-11-28T00:00:00+00:00", 4) == [
        "2026-11-28T08:00:00", "2026-11-28T08:20:00", "2026-11-28T08:40:00", "2026-12-05T08:00:00"]
    assert instants("cron(0 0 1 1 ? 2030)", "UTC", "2026-11-28T00:00:00+00:00", 1) == ["2030-01-01T00:00:00"]


def test_rate_days_are_24_hours_and_at_is_local_wall_time():
    rate = schedule_expr.parse("rate(1 day)")
    start = ts("2027-03-27T10:00:00+00:00")
    assert rate.next_after(start + 1, start) == start + 86400  # across Berlin's DST change: still 24 h
    assert schedule_expr.parse("rate(2 minute)").seconds == 120  # AWS accepts the singular with any value
    assert iso(schedule_expr.parse("at(2027-01-15T09:30:00)").instant(schedule_expr.zone("Asia/Tokyo"))) == \
        "2027-01-15T00:30:00"


# AWS-recorded: answered ValidationException "Invalid Schedule Expression <expression>." (LocalStack's snapshot
# tests/aws/services/scheduler/test_scheduler.snapshot.json, recorded against AWS), plus rate(0 minutes): the value
# is "a positive number" (schedule-types.html)
INVALID = ["cron(0 1 * * * *)", "cron(7 20 * * NOT *)", "cron(INVALID)", "cron(0 dummy ? * MON-FRI *)",
           "cron(71 8 1 * ? *)", "cron()", "rate(10 seconds)", "rate(10 years)", "rate()", "rate(10)",
           "rate(10 minutess)", "rate(foo minutes)", "rate(-10 minutes)", "rate( 10 minutes )", " rate(10 minutes)",
           "at(2021-12-31T23:59:59Z)", "at(2021-12-31)", "rate(0 minutes)", "cron(0 12 ? * ? *)"]
VALID = ["rate(1 minute)", "rate(2 minute)", "rate(5 minutes)", "rate(1 hour)", "rate(7 days)",
         "cron(0 9 ? * MON-FRI *)", "cron(0-15/1 8-8 ? * 2,3,4,5,6,7 *)", "cron(30-30 13-13 ? * 2,4,6 *)",
         "cron(1-31/30 1-1 ? * 1,7 *)", "cron(0 0 1/10,2,3/8 * ? *)", "at(2030-01-01T00:00:00)"]


@pytest.mark.parametrize("expression", INVALID)
def test_invalid_expressions_are_refused(expression):
    with pytest.raises(schedule_expr.ExpressionError):
        schedule_expr.parse(expression)


@pytest.mark.parametrize("expression", VALID)
def test_valid_expressions_parse(expression):
    schedule_expr.parse(expression)


# ---- on the local AWS -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def local():
    aws = LocalAws("--profile", "realistic", "--time-scale", "0.01")
    yield aws
    aws.stop()


class Env:
    def __init__(self, aws: LocalAws):
        self.aws = aws
        self.scheduler = aws.client("scheduler")
        self.sfn = aws.client("stepfunctions")
        self.iam = aws.client("iam")
        self.sqs = aws.client("sqs")

    def role(self, name: str, trust: dict = TRUST) -> str:
        try:
            return self.iam.get_role(RoleName=name)["Role"]["Arn"]
        except self.iam.exceptions.NoSuchEntityException:
            return self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]

    def machine(self, name: str) -> str:
        return self.sfn.create_state_machine(
            name=name, roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn",
            definition=json.dumps({"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}))[
            "stateMachineArn"]

    def executions(self, machine: str) -> list[dict]:
        return self.sfn.list_executions(stateMachineArn=machine)["executions"]

    def create(self, name: str, expression: str, target_arn: str, role: str | None = None, **kwargs):
        target = {"Arn": target_arn, "RoleArn": role or self.role("scheduler"), **kwargs.pop("target", {})}
        return self.scheduler.create_schedule(Name=name, ScheduleExpression=expression, Target=target,
                                              FlexibleTimeWindow=kwargs.pop("window", {"Mode": "OFF"}), **kwargs)

    def report(self) -> dict:
        return self.aws.get("/peerlab/scheduler")

    def attempts(self, name: str) -> list[dict]:
        return [a for a in self.report()["attempts"] if a["schedule_arn"].endswith(f"/{name}")]

    def exists(self, name: str) -> bool:
        try:
            self.scheduler.get_schedule(Name=name)
            return True
        except self.scheduler.exceptions.ResourceNotFoundException:
            return False


@pytest.fixture
def env(local) -> Env:
    return Env(local)


def test_at_fires_once_at_the_scaled_time_and_deletes_itself(env):
    machine = env.machine("at-delete")
    env.role("scheduler")  # IAM's first call loads its managed policies: seconds
    created = time.time()
    env.create("once", at(120), machine, ActionAfterCompletion="DELETE",
               target={"Input": json.dumps({"schedule": "<aws.scheduler.schedule-arn>", "attempt":
                                            "<aws.scheduler.attempt-number>"})})
    plan = next(s for s in env.report()["schedules"] if s["name"] == "once")
    # 120 s of AWS time at --time-scale 0.01: 1.2 s, plus up to the rest of that minute (60 s precision) scaled
    assert 1.0 <= plan["next_invocation_wall_epoch"] - created <= 1.2 + 0.6 + 0.5
    assert env.executions(machine) == [] and env.exists("once")
    runs = wait_for(lambda: env.executions(machine), timeout=15)
    assert time.time() - created >= 1.0  # not at once
    assert len(runs) == 1
    execution = env.sfn.describe_execution(executionArn=runs[0]["executionArn"])
    assert json.loads(execution["input"]) == {
        "schedule": f"arn:aws:scheduler:us-east-1:{ACCOUNT}:schedule/default/once", "attempt": "1"}
    wait_for(lambda: not env.exists("once"), timeout=10)  # ActionAfterCompletion DELETE
    time.sleep(1.0)
    assert len(env.executions(machine)) == 1


def test_at_with_none_fires_once_and_stays(env):
    machine = env.machine("at-none")
    env.create("kept", at(60), machine, ActionAfterCompletion="NONE")
    wait_for(lambda: env.executions(machine), timeout=15)
    time.sleep(1.5)
    assert len(env.executions(machine)) == 1
    schedule = env.scheduler.get_schedule(Name="kept")
    assert schedule["ActionAfterCompletion"] == "NONE" and schedule["State"] == "ENABLED"


def test_at_in_another_zone_and_in_the_past(env):
    machine = env.machine("at-zones")
    # the same instant written as Tokyo wall time: fires like a UTC one
    env.create("tokyo", at(60, "Asia/Tokyo"), machine, ScheduleExpressionTimezone="Asia/Tokyo")
    # an instant already past when created: accepted, never invoked
    env.create("past", at(-3600), machine)
    wait_for(lambda: env.executions(machine), timeout=15)
    time.sleep(1.0)
    assert len(env.executions(machine)) == 1
    assert not [a for a in env.report()["attempts"] if a["schedule_arn"].endswith("/past")]


def test_rate_fires_repeatedly_and_disabled_never(env):
    machine = env.machine("rate")
    idle = env.machine("disabled")
    env.create("every-minute", "rate(1 minute)", machine)  # every 0.6 s at 0.01, the first at once
    env.create("off", "rate(1 minute)", idle, State="DISABLED")
    wait_for(lambda: len(env.executions(machine)) >= 3, timeout=20)
    assert env.executions(idle) == []
    # enabled by UpdateSchedule: it starts then
    env.scheduler.update_schedule(Name="off", ScheduleExpression="rate(1 minute)", State="ENABLED",
                                  FlexibleTimeWindow={"Mode": "OFF"},
                                  Target={"Arn": idle, "RoleArn": env.role("scheduler")})
    wait_for(lambda: env.executions(idle), timeout=20)
    env.scheduler.delete_schedule(Name="every-minute")
    env.scheduler.delete_schedule(Name="off")
    time.sleep(1.5)  # an invocation already under way may still start its execution
    count = len(env.executions(machine))
    time.sleep(2.0)
    assert len(env.executions(machine)) == count  # a deleted schedule stops


def test_rate_with_a_start_date_waits_for_it_and_stops_at_its_end_date(env):
    machine = env.machine("dated")
    now = time.time()
    # StartDate 5 min ahead (3 s at 0.01), EndDate 8 min ahead: instants at +5, +6, +7 min only
    env.create("dated", "rate(1 minute)", machine, StartDate=datetime.datetime.fromtimestamp(now + 300, UTC),
               EndDate=datetime.datetime.fromtimestamp(now + 480, UTC), ActionAfterCompletion="DELETE")
    time.sleep(2.0)
    assert env.executions(machine) == []
    wait_for(lambda: not env.exists("dated"), timeout=20)  # completed at its EndDate: deleted
    assert len(env.executions(machine)) == 3


def test_cron_schedule_plans_its_next_instant_in_its_zone(env):
    machine = env.machine("cron")
    env.create("weekday-nine", "cron(0 9 ? * MON-FRI *)", machine, ScheduleExpressionTimezone="Europe/Berlin")
    plan = next(s for s in env.report()["schedules"] if s["name"] == "weekday-nine")
    anchor = plan["anchor_epoch"]
    expected = schedule_expr.parse("cron(0 9 ? * MON-FRI *)").next_after(anchor, schedule_expr.zone("Europe/Berlin"))
    assert plan["next_instant"] == iso(expected) + "Z"
    # that instant on the local AWS: anchor + (instant - anchor) x 0.01, plus under a minute's precision, scaled
    assert 0 <= plan["next_invocation_wall_epoch"] - (anchor + (expected - anchor) * 0.01) <= 0.6 + 1.0


def test_a_flexible_window_spreads_the_invocation_after_the_instant(env):
    machine = env.machine("flexible")
    env.create("flexible", at(600), machine, window={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15})
    plan = next(s for s in env.report()["schedules"] if s["name"] == "flexible")
    on_time = plan["anchor_epoch"] + (plan["next_instant_epoch"] - plan["anchor_epoch"]) * 0.01
    assert 0 <= plan["next_invocation_wall_epoch"] - on_time <= 15 * 60 * 0.01  # within the window, scaled


def test_universal_target_starts_the_execution(env):
    machine = env.machine("universal")
    env.create("utp", at(60), "arn:aws:scheduler:::aws-sdk:sfn:startExecution",
               target={"Input": json.dumps({"StateMachineArn": machine, "Name": "from-scheduler",
                                            "Input": json.dumps({"mode": "sweep"})})})
    runs = wait_for(lambda: env.executions(machine), timeout=15)
    assert runs[0]["name"] == "from-scheduler"
    assert json.loads(env.sfn.describe_execution(executionArn=runs[0]["executionArn"])["input"]) == {"mode": "sweep"}


def test_a_failing_target_is_retried_until_the_attempts_run_out_then_dead_lettered(env):
    machine = env.machine("deleted")
    env.sfn.delete_state_machine(stateMachineArn=machine)  # StartExecution: StateMachineDoesNotExist
    queue = env.sqs.create_queue(QueueName="scheduler-dlq")["QueueUrl"]
    queue_arn = env.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    env.create("failing", at(60), machine, ActionAfterCompletion="DELETE", target={
        "Input": "{}", "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600},
        "DeadLetterConfig": {"Arn": queue_arn}})
    attempts = wait_for(lambda: [a for a in env.attempts("failing") if a.get("exhausted")], timeout=20)
    every = env.attempts("failing")
    assert [a["attempt"] for a in every] == [1, 2, 3]  # the invocation and 2 retries
    assert {a["error_code"] for a in every} == {"StateMachineDoesNotExist"}
    assert attempts[0]["exhausted"] == "MaximumRetryAttempts"
    messages = env.sqs.receive_message(QueueUrl=queue, MessageAttributeNames=["All"], WaitTimeSeconds=1)["Messages"]
    attributes = {k: v["StringValue"] for k, v in messages[0]["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "StateMachineDoesNotExist" and attributes["RETRY_ATTEMPTS"] == "2"
    assert attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert attributes["SCHEDULE_ARN"].endswith(":schedule/default/failing") and attributes["TARGET_ARN"] == machine
    # "If all retries are exhausted because of failure for a schedule configured with automatic deletion, the
    # schedule is deleted shortly after the last unsuccessful attempt" (AWS Compute Blog, 2023-08)
    wait_for(lambda: not env.exists("failing"), timeout=10)
    time.sleep(1.0)
    assert len(env.attempts("failing")) == 3  # given up


def test_retries_stop_at_the_maximum_event_age(env):
    machine = env.machine("gone")
    env.sfn.delete_state_machine(stateMachineArn=machine)
    env.create("aging", at(60), machine, target={
        "RetryPolicy": {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 60}})
    last = wait_for(lambda: [a for a in env.attempts("aging") if a.get("exhausted")], timeout=20)[0]
    assert last["exhausted"] == "MaximumEventAgeInSeconds"
    # backoff 1, 2, 4, 8, 16, 32 s: at most 6 attempts fit in 60 s of AWS time (fewer when calls take time)
    assert 2 <= len(env.attempts("aging")) <= 6


def test_the_target_role_must_trust_the_scheduler(env):
    machine = env.machine("untrusted")
    stranger = env.role("stranger", trust={"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    other_account = env.role("other-account", trust={"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": "111122223333"}}}]})
    env.create("untrusted", at(60), machine, role=stranger, target={"RetryPolicy": {"MaximumRetryAttempts": 0}})
    env.create("confused", at(60), machine, role=other_account, target={"RetryPolicy": {"MaximumRetryAttempts": 0}})
    env.create("missing", at(60), machine, role=f"arn:aws:iam::{ACCOUNT}:role/nobody",
               target={"RetryPolicy": {"MaximumRetryAttempts": 0}})
    for name in ("untrusted", "confused", "missing"):
        failed = wait_for(lambda name=name: env.attempts(name), timeout=15)
        assert failed[0]["ok"] is False and failed[0]["error_code"] == "AccessDenied"
    assert env.executions(machine) == []



def test_an_explicit_deny_in_the_trust_policy_wins_whatever_its_condition_operator(env):
    # "an explicit deny in any policy overrides any allows" (IAM User Guide, "Policy evaluation logic"): a Deny
    # that holds refuses the scheduler whatever operator its condition uses. Scheduler's own trust evaluator skipped a
    # statement whose operator it did not model (here StringNotEquals, ArnNotLike) before reading its Effect, so the
    # Allow let the target start.
    machine = env.machine("denied")
    allow = {"Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"}, "Action": "sts:AssumeRole"}
    denies = {
        "deny-account": {"StringNotEquals": {"aws:SourceAccount": "111122223333"}},
        "deny-schedule": {"ArnNotLike": {"aws:SourceArn": f"arn:aws:scheduler:*:{ACCOUNT}:schedule/default/other"}},
    }
    for name, condition in denies.items():
        role = env.role(name, trust={"Version": "2012-10-17", "Statement": [allow, {
            "Effect": "Deny", "Principal": {"Service": "scheduler.amazonaws.com"}, "Action": "sts:AssumeRole",
            "Condition": condition}]})
        env.create(name, at(60), machine, role=role, target={"RetryPolicy": {"MaximumRetryAttempts": 0}})
    for name in denies:
        failed = wait_for(lambda name=name: env.attempts(name), timeout=15)
        assert failed[0]["ok"] is False and failed[0]["error_code"] == "AccessDenied", failed
    assert env.executions(machine) == []

def refused(call, **kwargs) -> str:
    with pytest.raises(botocore.exceptions.ClientError) as err:
        call(**kwargs)
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return err.value.response["Error"]["Message"]


def test_create_schedule_validation(env, local):
    role = env.role("scheduler")
    base = {"FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": {"Arn": f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:x", "RoleArn": role}}
    for expression in ("cron(0 1 * * * *)", "rate(0 minutes)", "rate(10 seconds)", "at(2021-12-31)"):
        assert refused(env.scheduler.create_schedule, Name="bad", ScheduleExpression=expression, **base) == \
            f"Invalid Schedule Expression {expression}."
    assert "Timezone" in refused(env.scheduler.create_schedule, Name="bad", ScheduleExpression="rate(1 hour)",
                                 ScheduleExpressionTimezone="Mars/Olympus_Mons", **base)
    message = refused(env.scheduler.create_schedule, Name="bad", ScheduleExpression="rate(1 hour)",
                      FlexibleTimeWindow={"Mode": "OFF"},
                      Target={**base["Target"], "RetryPolicy": {"MaximumEventAgeInSeconds": 86401}})
    assert "maximumEventAgeInSeconds" in message and "less than or equal to 86400" in message
    message = refused(env.scheduler.create_schedule, Name="bad", ScheduleExpression="rate(1 hour)",
                      FlexibleTimeWindow={"Mode": "OFF"},
                      Target={**base["Target"], "RetryPolicy": {"MaximumRetryAttempts": 186}})
    assert "maximumRetryAttempts" in message
    # what boto3 checks itself (a missing RoleArn) is refused by the service too
    raw = boto3.client("scheduler", endpoint_url=local.url, region_name="us-east-1", aws_access_key_id="test",
                       aws_secret_access_key="test",
                       config=botocore.config.Config(parameter_validation=False, retries={"max_attempts": 1}))
    assert "target.roleArn" in refused(raw.create_schedule, Name="bad", ScheduleExpression="rate(1 hour)",
                                       FlexibleTimeWindow={"Mode": "OFF"}, Target={"Arn": base["Target"]["Arn"]})
    assert "roleArn" in refused(env.scheduler.create_schedule, Name="bad", ScheduleExpression="rate(1 hour)",
                                FlexibleTimeWindow={"Mode": "OFF"},
                                Target={"Arn": base["Target"]["Arn"], "RoleArn": "not-a-role"})
    assert refused(env.scheduler.create_schedule, Name="bad", ScheduleExpression="rate(1 hour)",
                   FlexibleTimeWindow={"Mode": "FLEXIBLE"}, Target=base["Target"])
    assert not env.exists("bad")
    # and UpdateSchedule validates the same way
    env.scheduler.create_schedule(Name="good", ScheduleExpression="rate(1 hour)", State="DISABLED", **base)
    assert refused(env.scheduler.update_schedule, Name="good", ScheduleExpression="rate(1 fortnight)", **base) == \
        "Invalid Schedule Expression rate(1 fortnight)."
    # UpdateSchedule replaces ActionAfterCompletion as every other field (moto kept the old value)
    env.scheduler.update_schedule(Name="good", ScheduleExpression="rate(2 hours)", State="DISABLED",
                                  ActionAfterCompletion="DELETE", **base)
    assert env.scheduler.get_schedule(Name="good")["ActionAfterCompletion"] == "DELETE"
    env.scheduler.update_schedule(Name="good", ScheduleExpression="rate(2 hours)", State="DISABLED", **base)
    assert env.scheduler.get_schedule(Name="good")["ActionAfterCompletion"] == "NONE"


def test_the_sweeper_schedule_runs_teardown_in_sweep_mode(start_local):
    """The template's sweeper as SAM deploys it (a ScheduleV2 event of TeardownFunction: a schedule whose templated
    Lambda target is the function, Input {"mode": "sweep"}): it deletes the labs whose peerlab:expires-at passed."""
    import os
    from pathlib import Path

    from conftest import Patient, function_zip

    lambda_dir = os.environ.get("PEERLAB_LAMBDA_DIR", "")
    if not (Path(lambda_dir) / "teardown").is_file():
        pytest.fail(f"PEERLAB_LAMBDA_DIR={lambda_dir!r} has no built teardown: run `make build-functions` first")
    aws = start_local("--profile", "realistic", "--time-scale", "0.01", "--lambda-dir", lambda_dir)
    env = Env(aws)
    ec2 = Patient(aws.client("ec2"))
    expired = ec2.create_vpc(CidrBlock="10.0.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": [
        {"Key": "peerlab:lab-id", "Value": "old"}, {"Key": "peerlab:expires-at", "Value": "2020-01-01T00:00:00Z"}]}])[
        "Vpc"]["VpcId"]
    current = ec2.create_vpc(CidrBlock="10.1.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": [
        {"Key": "peerlab:lab-id", "Value": "new"}, {"Key": "peerlab:expires-at", "Value": "2099-01-01T00:00:00Z"}]}])[
        "Vpc"]["VpcId"]
    function = aws.client("lambda").create_function(
        FunctionName="teardown", Runtime="provided.al2023", Role=env.role("fn"), Handler="teardown",
        Code={"ZipFile": function_zip()}, Timeout=60)["FunctionArn"]
    env.create("stack-sweep", "rate(1 hour)", function, target={
        "Input": json.dumps({"mode": "sweep"}),
        "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600}})

    def vpcs():
        return {v["VpcId"] for v in aws.client("ec2").describe_vpcs(
            Filters=[{"Name": "tag-key", "Values": ["peerlab:expires-at"]}])["Vpcs"]}

    wait_for(lambda: expired not in vpcs(), timeout=60, interval=0.2)
    assert current in vpcs()
    # the attempt is logged when Invoke answers, which can be after the function has deleted the VPC
    first = wait_for(lambda: env.attempts("stack-sweep"), timeout=60, interval=0.2)[0]
    assert first["ok"] and first["target_arn"] == function
