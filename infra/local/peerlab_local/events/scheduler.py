"""EventBridge Scheduler that runs: moto 5.2.5 stores schedules (CreateSchedule/GetSchedule/UpdateSchedule/...) but
never invokes their targets. This validates schedules as CreateSchedule/UpdateSchedule do and runs them in a
background thread of the local AWS: at(), rate() and cron() in their time zone, StartDate/EndDate, State,
FlexibleTimeWindow, ActionAfterCompletion, the target's RetryPolicy and DeadLetterConfig; each invocation assumes the
target's RoleArn (its trust policy must let scheduler.amazonaws.com assume it) and calls the target with that role's
session credentials through the local AWS's own API, so that the role's permissions count once IAM is enforced.

Time. A schedule's clock runs at the local AWS's --time-scale, like Step Functions' waits (sfn_time.py): each schedule
keeps a scaled clock anchored at its CreateSchedule/UpdateSchedule (the wall time of that call is also its AWS time),
so AWS time t happens at wall time anchor + (t - anchor) x scale. A rate(1 hour) schedule at --time-scale 0.01 fires
every 36 s; at(<now + 2 minutes>) fires ~1.2 s after it was created; a cron() or at() instant hours away is reached
in hours x scale. GET /peerlab/scheduler says, per schedule, the next instant in AWS time and the wall time it will
be invoked at (what `peerlab schedule` shows for a local run). --time-scale 0 would make a rate() schedule start
executions in a busy loop; the scheduler's clock runs at most 1000x (MIN_SCALE).

AWS sources (EventBridge Scheduler User Guide, docs.aws.amazon.com/scheduler/latest/UserGuide/ ...; API Reference,
docs.aws.amazon.com/scheduler/latest/APIReference/ ...):
- schedule-types.html: expressions and DST (schedule_expr.py). "All schedule types on EventBridge Scheduler invoke
  their targets with 60 second precision ... between 1:00:00 and 1:00:59, assuming that a flexible time window is not
  set": an invocation is drawn uniformly in the rest of its minute (seeded by --seed, the schedule and the instant;
  none under the `instant` profile). A rate schedule without StartDate "starts invoking the target immediately".
- API_CreateSchedule.html: StartDate/EndDate ("EventBridge Scheduler ignores StartDate/EndDate for one-time
  schedules"); FlexibleTimeWindow (API_FlexibleTimeWindow.html: Mode OFF | FLEXIBLE, MaximumWindowInMinutes 1-1440;
  the invocation falls in the window after the scheduled time: drawn uniformly in it); ActionAfterCompletion
  NONE | DELETE ("the action that EventBridge Scheduler applies to the schedule after the schedule completes invoking
  the target": a one-time schedule after its invocation, a recurring one after its last before EndDate; none
  without EndDate: managing-schedule-delete.html). "If all retries are exhausted because of failure for a schedule
  configured with automatic deletion, the schedule is deleted shortly after the last unsuccessful attempt" (AWS
  Compute Blog, "Automatically delete schedules upon completion with Amazon EventBridge Scheduler").
- API_RetryPolicy.html: MaximumRetryAttempts 0-185 (default 185), MaximumEventAgeInSeconds 60-86400 (default 86400);
  "Retry attempts with exponential backoff continue until either the maximum number of attempts is made or until the
  duration of the MaximumEventAgeInSeconds is reached". AWS gives no interval: retries here wait 1 s, 2 s, 4 s ...
  capped at 467 s (judgement: 86400 s / 185 = 467 s, the cap with which the two defaults run out together, within a
  few percent), in AWS time, scaled. Every failed invocation is retried (the guide names no error AWS gives up on at
  once). A target call fails when the role cannot be assumed, or the target API answers an error.
- configuring-schedule-dlq.html: after the retries are exhausted, the dead-letter event goes to the SQS queue of
  Target.DeadLetterConfig (its body: the target's input; its message attributes: ERROR_CODE, ERROR_MESSAGE,
  EXECUTION_ID, EXHAUSTED_RETRY_CONDITION, IS_PAYLOAD_TRUNCATED, RETRY_ATTEMPTS, SCHEDULED_TIME, SCHEDULE_ARN,
  TARGET_ARN: the names of that page's "Retrieve the dead-letter event", as other AWS emulators send them too).
  EventBridge *rules* send some errors (a missing permission, a deleted target) to the DLQ without
  retrying (EventBridge User Guide, rule-dlq.html); the Scheduler guide says no such thing, so every failure is
  retried here.
- managing-schedule-context-attributes.html: <aws.scheduler.schedule-arn>, <aws.scheduler.scheduled-time>,
  <aws.scheduler.execution-id>, <aws.scheduler.attempt-number> in Target.Input are replaced per invocation.
- managing-targets-templated.html / managing-targets-universal.html: templated targets (a state machine ARN:
  StartExecution with Input; a Lambda function ARN: Invoke with InvocationType Event) and the universal target
  arn:aws:scheduler:::aws-sdk:<service>:<apiAction> (Input is the API's request, e.g. sfn:startExecution).
- setting-up.html (execution role): the role's trust policy names the service principal scheduler.amazonaws.com; the
  template adds Condition StringEquals aws:SourceAccount (confused-deputy, cross-service-confused-deputy-prevention).
  Scheduler sends aws:SourceAccount (the schedule's account) and aws:SourceArn (the schedule); the trust policy is
  judged by the local AWS's one IAM evaluator (iam/trust.py `service_trusts`: AWS's policy evaluation logic, an
  explicit Deny wins).
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import heapq
import inspect
import itertools
import json
import os
import random
import re
import threading
import time
import traceback
import uuid

from peerlab_local.core.patching import once, replace, wrap
from peerlab_local.core.world import LOCK, world
from peerlab_local.events import schedule_expr
from peerlab_local.iam import trust as iam_trust

LOG_LIMIT = 5000  # attempts kept for GET /peerlab/scheduler
MIN_SCALE = 0.001  # --time-scale 0: the scheduler's clock runs 1000x, never a busy loop
PRECISION_SECONDS = 60.0  # "invoke their targets with 60 second precision" (schedule-types.html)
RETRY_BASE, RETRY_CAP = 1.0, 86400 / 185  # AWS time; judgement (see above)
DEFAULT_RETRY = {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}  # API_RetryPolicy.html
ROLE_PATTERN = re.compile(r"^arn:aws(-[a-z]+)?:iam::\d{12}:role/[\w+=,.@/-]+$")  # API_Target.html RoleArn pattern
UNIVERSAL = "arn:aws:scheduler:::aws-sdk:"
SCHEDULER = "scheduler.amazonaws.com"  # the service principal that assumes a target's role (setting-up.html)
SERVICE_NAMES = {"sfn": "stepfunctions", "eventbridge": "events", "cloudwatchlogs": "logs"}


def epoch(value) -> float | None:
    """A StartDate/EndDate as epoch seconds: the API sends numbers; a CloudFormation provider may pass ISO 8601."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=datetime.UTC)).timestamp()
    try:
        return float(value)
    except (TypeError, ValueError):
        parsed = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return epoch(parsed)


class Invalid(ValueError):
    """CreateSchedule/UpdateSchedule refused with ValidationException and this message."""


# ---- validation ------------------------------------------------------------------------------------------------


def _constraint(value, path: str, rule: str) -> Invalid:
    """AWS's request-validation message (the form every AWS JSON service uses for its model's constraints)."""
    shown = "null" if value is None else f"'{value}'"
    return Invalid(f"1 validation error detected: Value {shown} at '{path}' failed to satisfy constraint: {rule}")


def _int_in(value, path: str, lo: int, hi: int) -> None:
    if value is None:
        return
    if not isinstance(value, int) or value < lo:
        raise _constraint(value, path, f"Member must have value greater than or equal to {lo}")
    if value > hi:
        raise _constraint(value, path, f"Member must have value less than or equal to {hi}")


def validate(request: dict) -> None:
    """Raise Invalid as CreateSchedule/UpdateSchedule answer a request AWS refuses."""
    expression = request.get("ScheduleExpression")
    if expression is None:
        raise _constraint(None, "scheduleExpression", "Member must not be null")
    try:
        schedule_expr.parse(expression)
    except schedule_expr.ExpressionError:
        raise Invalid(f"Invalid Schedule Expression {expression}.") from None
    tz = request.get("ScheduleExpressionTimezone")
    try:
        schedule_expr.zone(tz)
    except schedule_expr.ExpressionError:
        # AWS's wording for an unknown zone was not found in a recorded answer; the code is ValidationException
        raise Invalid(f"Invalid Schedule Expression Timezone {tz}.") from None
    window = request.get("FlexibleTimeWindow")
    if window is None:
        raise _constraint(None, "flexibleTimeWindow", "Member must not be null")
    mode = window.get("Mode")
    if mode not in ("OFF", "FLEXIBLE"):
        raise _constraint(mode, "flexibleTimeWindow.mode", "Member must satisfy enum value set: [OFF, FLEXIBLE]")
    _int_in(window.get("MaximumWindowInMinutes"), "flexibleTimeWindow.maximumWindowInMinutes", 1, 1440)
    if mode == "FLEXIBLE" and window.get("MaximumWindowInMinutes") is None:
        raise Invalid("MaximumWindowInMinutes must be provided when flexible time window mode is FLEXIBLE.")
    state = request.get("State")
    if state is not None and state not in ("ENABLED", "DISABLED"):
        raise _constraint(state, "state", "Member must satisfy enum value set: [ENABLED, DISABLED]")
    after = request.get("ActionAfterCompletion")
    if after is not None and after not in ("NONE", "DELETE"):
        raise _constraint(after, "actionAfterCompletion", "Member must satisfy enum value set: [NONE, DELETE]")
    target = request.get("Target")
    if target is None:
        raise _constraint(None, "target", "Member must not be null")
    if not target.get("Arn"):
        raise _constraint(None, "target.arn", "Member must not be null")
    role = target.get("RoleArn")
    if role is None:
        raise _constraint(None, "target.roleArn", "Member must not be null")
    if not ROLE_PATTERN.match(role):
        raise _constraint(role, "target.roleArn", "Member must satisfy regular expression pattern: "
                          r"arn:aws(-[a-z]+)?:iam::\d{12}:role\/[\w+=,.@\/-]+")
    retry = target.get("RetryPolicy") or {}
    _int_in(retry.get("MaximumEventAgeInSeconds"), "target.retryPolicy.maximumEventAgeInSeconds", 60, 86400)
    _int_in(retry.get("MaximumRetryAttempts"), "target.retryPolicy.maximumRetryAttempts", 0, 185)
    try:
        start, end = epoch(request.get("StartDate")), epoch(request.get("EndDate"))
    except ValueError:
        raise Invalid("Invalid StartDate or EndDate.") from None
    if start is not None and end is not None and end <= start:
        raise Invalid("The EndDate you specify cannot be earlier than the StartDate.")


# ---- the runner ------------------------------------------------------------------------------------------------


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def scale() -> float:
    return max(world().config.time_scale, MIN_SCALE)


@dataclasses.dataclass
class Plan:
    """One schedule as the runner sees it: its clock and its next invocation."""

    arn: str
    account: str
    region: str
    group: str
    name: str
    anchor: float  # wall time (epoch s) of its Create/UpdateSchedule: AWS time == wall time there
    fingerprint: tuple
    next_instant: float | None = None  # AWS time of the next scheduled instant
    next_wall: float | None = None  # wall time of its invocation
    invocations: int = 0
    done: bool = False

    def wall(self, aws_time: float) -> float:
        return self.anchor + (aws_time - self.anchor) * scale()

    def aws(self, wall_time: float) -> float:
        return self.anchor + (wall_time - self.anchor) / scale()


@dataclasses.dataclass
class Delivery:
    plan: Plan
    schedule: object  # the moto Schedule (its target as of the instant)
    target: dict
    instant: float  # the scheduled instant (AWS time)
    first_attempt: float  # AWS time of the first attempt
    attempt: int = 1
    last_of_schedule: bool = False


def _draw(*key) -> random.Random:
    return random.Random("|".join(str(k) for k in (world().config.seed, *key)))


class Scheduler:
    def __init__(self):
        self.plans: dict[str, Plan] = {}
        self.deliveries: list[tuple[float, int, Delivery]] = []  # (wall due, tie, delivery)
        self._tie = itertools.count()
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.log: list[dict] = []  # every attempt
        self.lock = threading.Lock()  # plans, deliveries, log

    # ---- lifecycle
    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="peerlab-scheduler", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        if self.thread is not None:
            self.thread.join(timeout=5)

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                pause = self.tick()
            except Exception:  # the runner must survive a bad schedule; the failure is reported
                traceback.print_exc()
                pause = 0.5
            self.wake.wait(max(0.005, min(pause, 0.5)))
            self.wake.clear()

    # ---- planning
    def _schedules(self):
        from moto.scheduler.models import scheduler_backends

        for account, regions in list(scheduler_backends.items()):
            for region, backend in list(regions.items()):
                for group in list(backend.schedule_groups.values()):
                    for schedule in list(group.schedules.values()):
                        yield account, region, group.name, schedule

    @staticmethod
    def _fingerprint(schedule) -> tuple:
        return (getattr(schedule, "peerlab_anchor", None), schedule.schedule_expression,
                schedule.schedule_expression_timezone, schedule.start_date, schedule.end_date, schedule.state,
                json.dumps(schedule.flexible_time_window, sort_keys=True, default=str))

    def _plan(self, plan: Plan, schedule, after: float) -> None:
        """The next instant at or after AWS time `after`, and the wall time it is invoked at."""
        plan.next_instant = plan.next_wall = None
        if plan.done or schedule.state != "ENABLED":
            return
        expr = schedule_expr.parse(schedule.schedule_expression)
        tz = schedule_expr.zone(schedule.schedule_expression_timezone)
        start, end = epoch(schedule.start_date), epoch(schedule.end_date)
        if isinstance(expr, schedule_expr.At):
            instant = expr.next_after(max(after, plan.anchor), tz) if plan.invocations == 0 else None
        else:
            if start is not None:
                after = max(after, start)
            if isinstance(expr, schedule_expr.Rate):
                instant = expr.next_after(after, start if start is not None else plan.anchor)
            else:
                instant = expr.next_after(after, tz)
            if instant is not None and end is not None and instant >= end:
                instant = None
        if instant is None:
            return
        window = schedule.flexible_time_window or {}
        rng = _draw(plan.arn, plan.anchor, instant)
        if window.get("Mode") == "FLEXIBLE":
            offset = rng.uniform(0, float(window.get("MaximumWindowInMinutes") or 1) * 60)
        elif world().config.profile == "instant":
            offset = 0.0
        else:  # within the rest of the minute of the instant
            offset = rng.uniform(0, PRECISION_SECONDS - (instant % 60))
        plan.next_instant = instant
        plan.next_wall = plan.wall(instant + offset)

    def _sync(self) -> None:
        """Plans for new and changed schedules; deleted ones dropped."""
        seen = set()
        now = time.time()
        for account, region, group, schedule in self._schedules():
            seen.add(schedule.arn)
            fingerprint = self._fingerprint(schedule)
            plan = self.plans.get(schedule.arn)
            if plan is not None and plan.fingerprint == fingerprint:
                continue
            anchor = getattr(schedule, "peerlab_anchor", None) or now
            plan = Plan(schedule.arn, account, region, group, schedule.name, anchor, fingerprint)
            self.plans[schedule.arn] = plan
            try:
                self._plan(plan, schedule, plan.anchor)
            except schedule_expr.ExpressionError:
                plan.done = True  # stored by an earlier moto path without validation: never runs
        for arn in [arn for arn in self.plans if arn not in seen]:
            del self.plans[arn]

    def tick(self) -> float:
        """Start what is due; returns how long (wall s) until the next thing is due."""
        due: list[Delivery] = []
        with LOCK, self.lock:
            self._sync()
            now = time.time()
            schedules = {s.arn: s for _, _, _, s in self._schedules()}
            for plan in self.plans.values():
                schedule = schedules.get(plan.arn)
                if schedule is None or plan.next_wall is None or plan.next_wall > now:
                    continue
                instant = plan.next_instant
                assert instant is not None  # set with next_wall (_plan)
                plan.invocations += 1
                self._plan(plan, schedule, instant + 1e-6)
                delivery = Delivery(plan, schedule, json.loads(json.dumps(schedule.target, default=str)),
                                    instant, plan.aws(now), last_of_schedule=plan.next_instant is None)
                if delivery.last_of_schedule:
                    plan.done = True
                due.append(delivery)
            while self.deliveries and self.deliveries[0][0] <= now:
                due.append(heapq.heappop(self.deliveries)[2])
            waits = [p.next_wall for p in self.plans.values() if p.next_wall is not None]
            waits += [d[0] for d in self.deliveries[:1]]
        for delivery in due:
            threading.Thread(target=self._deliver, args=(delivery,), daemon=True).start()
        return (min(waits) - time.time()) if waits else 0.5

    # ---- delivery
    def _deliver(self, delivery: Delivery) -> None:
        plan = delivery.plan
        execution_id = str(uuid.uuid4())
        started = time.time()
        entry = {"schedule_arn": plan.arn, "scheduled_time": _iso(delivery.instant), "attempt": delivery.attempt,
                 "wall_time": _iso(started), "execution_id": execution_id, "target_arn": delivery.target.get("Arn")}
        try:
            entry["result"] = invoke_target(plan, delivery, execution_id)
            entry["ok"] = True
        except TargetError as err:
            entry.update(ok=False, error_code=err.code, error_message=err.message)
        except Exception as err:  # noqa: BLE001 - any failure of the call is a failed invocation
            entry.update(ok=False, error_code=type(err).__name__, error_message=str(err))
        finished = False
        if entry["ok"]:
            finished = True
        else:
            retry = {**DEFAULT_RETRY, **(delivery.target.get("RetryPolicy") or {})}
            pause = min(RETRY_BASE * 2 ** (delivery.attempt - 1), RETRY_CAP)
            now_aws = plan.aws(time.time())
            if delivery.attempt - 1 >= int(retry["MaximumRetryAttempts"]):
                entry["exhausted"] = "MaximumRetryAttempts"
            elif now_aws + pause - delivery.first_attempt > int(retry["MaximumEventAgeInSeconds"]):
                entry["exhausted"] = "MaximumEventAgeInSeconds"
            if "exhausted" in entry:
                finished = True
                self._dead_letter(delivery, entry)
            else:
                nxt = dataclasses.replace(delivery, attempt=delivery.attempt + 1)
                entry["retry_at"] = _iso(plan.wall(now_aws + pause))
                with self.lock:
                    heapq.heappush(self.deliveries, (plan.wall(now_aws + pause), next(self._tie), nxt))
        with self.lock:
            self.log.append(entry)
            del self.log[:-LOG_LIMIT]  # a rate(1 minute) schedule at 0.01 makes 6000 an hour
        if finished and delivery.last_of_schedule:
            self._complete(delivery)
        self.wake.set()

    def _complete(self, delivery: Delivery) -> None:
        """ActionAfterCompletion DELETE: the schedule is deleted once it has completed invoking its target."""
        if (getattr(delivery.schedule, "action_after_completion", None) or "NONE") != "DELETE":
            return
        from moto.scheduler.models import scheduler_backends

        plan = delivery.plan
        with LOCK:
            group = scheduler_backends[plan.account][plan.region].schedule_groups.get(plan.group)
            if group is not None and group.schedules.get(plan.name) is delivery.schedule:
                del group.schedules[plan.name]

    def _dead_letter(self, delivery: Delivery, entry: dict) -> None:
        queue_arn = (delivery.target.get("DeadLetterConfig") or {}).get("Arn")
        if not queue_arn:
            return
        try:
            from moto.sqs.models import sqs_backends

            _, _, _, region, account, name = queue_arn.split(":", 5)
            attributes = {
                "ERROR_CODE": entry.get("error_code", ""), "ERROR_MESSAGE": entry.get("error_message", "")[:1000],
                "EXECUTION_ID": entry["execution_id"], "IS_PAYLOAD_TRUNCATED": "false",
                "EXHAUSTED_RETRY_CONDITION": entry["exhausted"], "RETRY_ATTEMPTS": str(delivery.attempt - 1),
                "SCHEDULE_ARN": delivery.plan.arn, "SCHEDULED_TIME": entry["scheduled_time"],
                "TARGET_ARN": delivery.target.get("Arn", ""),
            }
            with LOCK:
                sqs_backends[account][region].send_message(
                    name, delivery.target.get("Input") or "",
                    message_attributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()})
            entry["dead_letter"] = queue_arn
        except Exception as err:  # noqa: BLE001 - a DLQ that cannot take it: reported, not fatal
            entry["dead_letter_error"] = f"{type(err).__name__}: {err}"

    # ---- report
    def report(self) -> dict:
        with LOCK, self.lock:
            self._sync()
            schedules = []
            for plan in self.plans.values():
                schedules.append({"arn": plan.arn, "name": plan.name, "group": plan.group,
                                  "anchor": _iso(plan.anchor), "anchor_epoch": plan.anchor,
                                  "next_instant": _iso(plan.next_instant), "next_instant_epoch": plan.next_instant,
                                  "next_invocation_wall": _iso(plan.next_wall),
                                  "next_invocation_wall_epoch": plan.next_wall,
                                  "invocations": plan.invocations, "done": plan.done})
            log = list(self.log)
        return {"time_scale": scale(), "now": _iso(time.time()), "schedules": schedules,
                "invocations": [e for e in log if e["ok"]], "failures": [e for e in log if not e["ok"]],
                "attempts": log}


# ---- calling the target ----------------------------------------------------------------------------------------


class TargetError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


def assume(plan: Plan, role_arn: str):
    """The role's session credentials, as Scheduler gets them (sts:AssumeRole as scheduler.amazonaws.com)."""
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    account = role_arn.split(":")[4]
    with LOCK:
        try:
            role = iam_backends[account]["aws"].get_role_by_arn(role_arn)
        except Exception:  # noqa: BLE001 - moto raises IAMNotFoundException
            raise TargetError("AccessDenied", f"EventBridge Scheduler cannot assume {role_arn}: no such role") from None
        context = {"aws:SourceAccount": plan.account, "aws:SourceArn": plan.arn}
        if not iam_trust.service_trusts(role, SCHEDULER, context).allowed:
            raise TargetError("AccessDenied", f"EventBridge Scheduler cannot assume {role_arn}: its trust policy does "
                                              "not allow scheduler.amazonaws.com to call sts:AssumeRole")
        return sts_backends[account]["aws"].assume_role(
            region_name=plan.region, role_session_name=f"scheduler-{uuid.uuid4().hex[:16]}", role_arn=role_arn,
            policy=None, duration=3600, external_id=None)  # type: ignore[arg-type]  # moto's API passes None too


def _client(service: str, plan: Plan, credentials):
    import boto3
    from botocore.config import Config

    return boto3.client(service, endpoint_url=f"http://127.0.0.1:{os.environ['MOTO_PORT']}", region_name=plan.region,
                        aws_access_key_id=credentials.access_key_id,
                        aws_secret_access_key=credentials.secret_access_key,
                        aws_session_token=credentials.session_token,
                        config=Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=120))


def _input(delivery: Delivery, execution_id: str) -> str | None:
    text = delivery.target.get("Input")
    if text is None:
        return None
    for name, value in (("schedule-arn", delivery.plan.arn), ("scheduled-time", _iso(delivery.instant)),
                        ("execution-id", execution_id), ("attempt-number", str(delivery.attempt))):
        text = text.replace(f"<aws.scheduler.{name}>", value)
    return text


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def invoke_target(plan: Plan, delivery: Delivery, execution_id: str) -> dict:
    """Call the target once with the target role's credentials; TargetError if it fails."""
    from botocore.exceptions import BotoCoreError, ClientError

    target = delivery.target
    arn = target["Arn"]
    credentials = assume(plan, target["RoleArn"])
    payload = _input(delivery, execution_id)
    try:
        if arn.startswith(UNIVERSAL):
            service, _, action = arn[len(UNIVERSAL):].partition(":")
            client = _client(SERVICE_NAMES.get(service, service), plan, credentials)
            params = json.loads(payload) if payload else {}
            operation = client.meta.service_model.operation_model(action[:1].upper() + action[1:])
            # the request's members by the API's own names, whatever their case in Input (StateMachineArn for
            # Step Functions' stateMachineArn, as in Step Functions' own aws-sdk integrations)
            members = {m.lower(): m for m in operation.input_shape.members} if operation.input_shape else {}
            params = {members.get(k.lower(), k): v for k, v in params.items()}
            result = getattr(client, _snake(action))(**params)
        elif arn.split(":")[2:3] == ["states"] and ":stateMachine:" in arn:
            kwargs = {"stateMachineArn": arn, "name": execution_id}  # AWS names it; moto needs a name
            if payload is not None:
                kwargs["input"] = payload
            result = _client("stepfunctions", plan, credentials).start_execution(**kwargs)
        elif arn.split(":")[2:3] == ["lambda"]:
            result = _client("lambda", plan, credentials).invoke(
                FunctionName=arn, InvocationType="Event", Payload=(payload or "{}").encode())
            result.pop("Payload", None)
        else:
            raise TargetError("ValidationException", f"the local AWS runs no target {arn} (state machines, Lambda "
                                                     f"functions and {UNIVERSAL}<service>:<action> only)")
    except ClientError as err:
        error = err.response.get("Error", {})
        raise TargetError(error.get("Code", "ClientError"), error.get("Message", str(err))) from None
    except BotoCoreError as err:
        raise TargetError(type(err).__name__, str(err)) from None
    result.pop("ResponseMetadata", None)
    return json.loads(json.dumps(result, default=str))


# ---- wiring into moto ------------------------------------------------------------------------------------------

RUNNER: Scheduler | None = None  # the thread that runs the schedules (start())


_KWARGS = {"schedule_expression": "ScheduleExpression", "schedule_expression_timezone": "ScheduleExpressionTimezone",
           "flexible_time_window": "FlexibleTimeWindow", "state": "State",
           "action_after_completion": "ActionAfterCompletion", "target": "Target", "start_date": "StartDate",
           "end_date": "EndDate"}


_signature = functools.cache(inspect.signature)


def _checked(original, self, *args, action_after_completion=None, **kwargs):
    """Wraps the backend's create_schedule/update_schedule (whoever calls them: the API or a CloudFormation
    provider): validate as AWS does, start the schedule's clock, keep ActionAfterCompletion (default NONE; moto's
    update_schedule has no such parameter and kept the old value, AWS replaces every field)."""
    from moto.scheduler.exceptions import ValidationException

    signature = _signature(original)
    bound = signature.bind_partial(self, *args, **kwargs).arguments
    after = bound.get("action_after_completion", action_after_completion)
    request = {api: bound.get(name) for name, api in _KWARGS.items()}
    request["ActionAfterCompletion"] = after
    try:
        validate(request)
    except Invalid as err:
        raise ValidationException(str(err)) from None
    if "action_after_completion" in signature.parameters:
        kwargs["action_after_completion"] = after
    with LOCK:
        schedule = original(self, *args, **kwargs)
        schedule.peerlab_anchor = time.time()  # its clock starts now (see the module's docstring)
        schedule.action_after_completion = after or "NONE"
    if RUNNER is not None:
        RUNNER.wake.set()
    return schedule


def _update_response(self) -> str:
    """moto's UpdateSchedule handler, passing ActionAfterCompletion on (moto's drops it)."""
    name = self.uri.split("?")[0].split("/")[-1]
    schedule = self.scheduler_backend.update_schedule(
        description=self._get_param("Description"), end_date=self._get_param("EndDate"),
        flexible_time_window=self._get_param("FlexibleTimeWindow"), group_name=self._get_param("GroupName"),
        kms_key_arn=self._get_param("KmsKeyArn"), name=name,
        schedule_expression=self._get_param("ScheduleExpression"),
        schedule_expression_timezone=self._get_param("ScheduleExpressionTimezone"),
        start_date=self._get_param("StartDate"), state=self._get_param("State"), target=self._get_param("Target"),
        action_after_completion=self._get_param("ActionAfterCompletion"))
    return json.dumps({"ScheduleArn": schedule.arn})


@once
def install() -> None:
    """Validate Create/UpdateSchedule as AWS does (start() runs the schedules)."""
    from moto.scheduler.models import EventBridgeSchedulerBackend
    from moto.scheduler.responses import EventBridgeSchedulerResponse

    wrap(EventBridgeSchedulerBackend, "create_schedule")(_checked)
    wrap(EventBridgeSchedulerBackend, "update_schedule")(_checked)
    replace(EventBridgeSchedulerResponse, "update_schedule", _update_response)


def start() -> None:
    """Start the runner (a daemon thread; stop() ends it)."""
    global RUNNER
    if RUNNER is None:
        RUNNER = Scheduler()
        RUNNER.start()


def stop() -> None:
    if RUNNER is not None:
        RUNNER.stop()


def report() -> dict:
    if RUNNER is None:
        return {"running": False}
    return {"running": True, **RUNNER.report()}
