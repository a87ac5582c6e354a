"""Every call the local AWS makes on a customer's behalf is signed as the identity AWS uses for it, so that `--iam
enforce` judges it against that identity's policies (enforce.py) as AWS does. Whether a service may assume a role is
the role's trust policy, judged by trust.py's `service_trusts` (evaluation.py's one evaluator); the service's own
calls with the role go through enforce.judge (the one record of decisions).

- Step Functions: a task's calls (Lambda Invoke of `arn:aws:states:::lambda:invoke` and of a function-ARN Resource)
  are made with a session of the execution's role (the state machine's roleArn, or the task's Credentials.RoleArn),
  which Step Functions assumes as states.amazonaws.com ("Creating an IAM role for your state machine", Step Functions
  developer guide). Session name: 32 random letters, as AWS's own denial messages show it
  ("assumed-role/<role>/GGzJDbzYyvarbIioekwoULLKpGuSfJRc" in awslabs/aws-deployment-framework#460,
  ".../ImNaYhDWEWEnqwXHDyUIJYXvRnZUCQNG" in doug-macleod/Pipe-1Dev#13). Sessions are cached per role until 5 minutes
  before they expire (1 h, AssumeRole's default), so a task costs no AssumeRole.
  A refused Invoke fails the task as AWS names it: Step Functions calls Lambda with the AWS SDK for Java and names the
  error "Lambda." + the SDK's exception class, which for a code Lambda's model does not define (AccessDeniedException
  is not among Invoke's errors) is the service's base class: "Lambda.AWSLambdaException", cause "<message> (Service:
  AWSLambda; Status Code: 403; Error Code: AccessDeniedException; Request ID: ...; Proxy: null)" (that exact pair in
  awslabs/aws-deployment-framework#460; the Step Functions console's default Lambda Retry names
  Lambda.ServiceException, Lambda.AWSLambdaException, Lambda.SdkClientException, Lambda.TooManyRequestsException).
  moto named it "Lambda.AccessDeniedException" (service integration) or "Exception" (function ARN).
- A state machine whose role states.amazonaws.com may not assume: CreateStateMachine/UpdateStateMachine answer 400
  AccessDeniedException "Neither the global service principal states.amazonaws.com, nor the regional one is
  authorized to assume the provided role." (quoted from AWS in Terraform and CloudFormation users' reports, and a
  constant of aws-cloudformation/aws-cloudformation-resource-providers-stepfunctions). A role that stops being
  assumable later (its trust policy changed, the role deleted) fails each task with that message ("during the Loop
  step", lumigo-io/lumigo-CLI#83); its error name is not published: States.TaskFailed here (a judgement).
- A state machine with a LoggingConfiguration (Level not OFF): CreateStateMachine/UpdateStateMachine answer 400
  AccessDeniedException "The state machine IAM Role is not authorized to access the Log Destination" unless the role
  allows the log-delivery actions of "IAM policies for logging to CloudWatch Logs" (Step Functions developer guide,
  cw-logs.html: logs:CreateLogDelivery, GetLogDelivery, UpdateLogDelivery, DeleteLogDelivery, ListLogDeliveries,
  PutResourcePolicy, DescribeResourcePolicies, DescribeLogGroups on "*"); the message as AWS returns it in
  aws-samples/serverless-patterns#102 and aws/aws-cdk#26432. AWS does not say which of them it checks: all are
  required here (a judgement). The logs themselves are delivered by Step Functions (vended logs; moto's engine
  writes them), not with the role.
- A state machine with TracingConfiguration enabled: each execution puts its trace segment with the role
  (xray:PutTraceSegments: "IAM policies for X-Ray" in the developer guide's X-Ray page); a denial drops the trace
  and is recorded; the execution is unaffected.
- Lambda: after each invocation the function's log lines (what it wrote to stdout/stderr) go to its log group
  (LoggingConfig.LogGroup, else /aws/lambda/<name>) with the execution role's permissions: logs:CreateLogGroup when
  the group does not exist, logs:CreateLogStream once per execution environment (stream
  "YYYY/MM/DD/[$LATEST]<environment id>"), logs:PutLogEvents per invocation ("Lambda execution role" and "Sending
  Lambda function logs to CloudWatch Logs", Lambda developer guide: the execution role needs these to send logs;
  AWSLambdaBasicExecutionRole grants exactly them). With TracingConfig Active, one xray:PutTraceSegments per
  invocation ("Using AWS Lambda with AWS X-Ray": the execution role needs xray:PutTraceSegments and
  xray:PutTelemetryRecords). A denial never fails the invocation: the logs/trace are dropped, the denial is listed
  in GET /peerlab/iam. Shipped off the invocation's thread (AWS's logs arrive later too).
- EventBridge rules (events/rules.py) start their targets with the target's RoleArn session (`service_session`), the
  role's trust policy evaluated for events.amazonaws.com; EventBridge Scheduler (events/scheduler.py) assumes its
  target's role itself, its trust policy judged by the same `service_trusts` for scheduler.amazonaws.com.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import logging
import queue
import random
import string
import threading
import time
import uuid

from moto.core.base_backend import BackendDict, BaseBackend
from moto.iam.models import iam_backends
from moto.logs.models import logs_backends
from moto.utilities.utils import PARTITION_NAMES
from moto.xray.models import xray_backends

from peerlab_local.core.patching import once, replace, wrap
from peerlab_local.core.world import LOCK
from peerlab_local.iam import enforce as iam_enforce
from peerlab_local.iam import trust as iam_trust
from peerlab_local.iam.model import Request
from peerlab_local.lambda_ import runtime as lambda_runtime

log = logging.getLogger("peerlab.identities")

STATES = "states.amazonaws.com"
EVENTS = "events.amazonaws.com"
LAMBDA = "lambda.amazonaws.com"
CANNOT_ASSUME = ("Neither the global service principal states.amazonaws.com, nor the regional one is authorized to "
                 "assume the provided role.")
LOG_DESTINATION = "The state machine IAM Role is not authorized to access the Log Destination"
LOG_DELIVERY_ACTIONS = ["logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
                        "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
                        "logs:DescribeResourcePolicies", "logs:DescribeLogGroups"]
SESSION_SECONDS = 3600  # sts:AssumeRole's default DurationSeconds
RENEW_BEFORE = 300  # a cached session is renewed when less than this is left

_LOCK = threading.Lock()


class ServiceSessions(BaseBackend):
    """The role sessions services hold for an account's roles: (role ARN, service, name) -> (credentials, expiry
    epoch). Kept per account like the STS sessions they are (a moto BackendDict: moto's reset forgets them too)."""

    def __init__(self, region_name: str, account_id: str):
        super().__init__(region_name, account_id)
        self.sessions: dict[tuple[str, str, str], tuple[dict, float]] = {}


session_backends: BackendDict[ServiceSessions] = BackendDict(ServiceSessions, "sts", use_boto3_regions=False,
                                                             additional_regions=PARTITION_NAMES)


class NotAssumable(Exception):
    """The service principal may not assume the role (it does not exist, or its trust policy does not allow it)."""


# ---- trust and sessions ----------------------------------------------------------------------------------------


def role_of(role_arn: str):
    """moto's Role for an ARN, or None."""
    try:
        account = role_arn.split(":")[4]
        return iam_backends[account]["aws"].get_role_by_arn(role_arn)
    except Exception:  # noqa: BLE001 - malformed ARN, no such role
        return None


def trusts(role, service: str, context: dict | None = None, region: str | None = None) -> bool:
    """Does the role's trust policy let `service` (or its regional principal in `region`) call sts:AssumeRole, with
    the context the service sends (aws:SourceAccount, aws:SourceArn)? trust.service_trusts: AWS's evaluation."""
    return iam_trust.service_trusts(role, service, context, region).allowed


def service_session(role_arn: str | None, service: str, region: str, context: dict | None = None,
                    session_name: str | None = None) -> dict:
    """Session credentials of `role_arn` as `service` gets them (sts:AssumeRole as the service principal), cached per
    (role, service) until RENEW_BEFORE s before they expire. The trust policy is evaluated on every call (it may have
    changed); NotAssumable if it refuses. Returns STS's Credentials (AccessKeyId, SecretAccessKey, SessionToken,
    Expiration)."""
    role = role_of(role_arn) if role_arn else None
    if role is None or not role_arn:
        raise NotAssumable(f"{service} cannot assume {role_arn or '(no role)'}: no such role")
    if not trusts(role, service, context, region):
        raise NotAssumable(f"{service} cannot assume {role_arn}: its trust policy does not allow {service} to call "
                           "sts:AssumeRole")
    key = (role_arn, service, session_name or "")
    held = session_backends[role_arn.split(":")[4]][role_arn.split(":")[1]].sessions  # the role's account, partition
    now = time.time()
    with _LOCK:
        cached = held.get(key)
        if cached is not None and cached[1] - RENEW_BEFORE > now:
            return cached[0]
    name = session_name or "".join(random.choices(string.ascii_letters, k=32))
    credentials = iam_enforce.assume(role_arn, name, region, duration=SESSION_SECONDS)
    with _LOCK:
        held[key] = (credentials, now + SESSION_SECONDS)
    return credentials


# ---- Step Functions --------------------------------------------------------------------------------------------


def task_credentials(state_credentials, region: str) -> dict:
    """boto3 client keyword arguments for a task's calls: the execution role's session (see the module docstring).
    With enforcement off, a role Step Functions could not assume (tests' placeholder roles) keeps the local AWS's
    administrator keys; with it on, the task fails with AWS's message."""
    role_arn = getattr(state_credentials, "role_arn", None)
    context = {}
    machine = getattr(state_credentials, "peerlab_state_machine_arn", None)
    if machine:
        context = {"aws:SourceArn": machine, "aws:SourceAccount": machine.split(":")[4]}
    try:
        creds = service_session(role_arn, STATES, region, context)
    except NotAssumable:
        if iam_enforce.enabled():
            raise RoleNotAssumable(CANNOT_ASSUME) from None
        return {"aws_access_key_id": "ak", "aws_secret_access_key": "sk"}
    return {"aws_access_key_id": creds["AccessKeyId"], "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"]}


class RoleNotAssumable(Exception):
    """A task's role could not be assumed when the task ran."""


@functools.lru_cache(maxsize=1)
def _invoke_errors() -> frozenset[str]:
    """The errors Lambda's model (botocore's, the same service model the AWS SDKs are generated from) gives Invoke."""
    try:
        from moto.core.utils import get_service_model

        return frozenset(shape.name for shape in get_service_model("lambda").operation_model("Invoke").error_shapes)
    except Exception:  # noqa: BLE001
        return frozenset()


def _lambda_error_name(code: str) -> str:
    """Step Functions' name of a Lambda API error: "Lambda." + the AWS SDK for Java exception class, the modelled
    error's own name or AWSLambdaException for a code Lambda's model lacks (module docstring)."""
    return f"Lambda.{code}" if code in _invoke_errors() else "Lambda.AWSLambdaException"


def _cause(client_error) -> str:
    response = client_error.response
    meta = response.get("ResponseMetadata", {})
    error = response.get("Error", {})
    return (f"{error.get('Message', '')} (Service: AWSLambda; Status Code: {meta.get('HTTPStatusCode')}; Error Code: "
            f"{error.get('Code')}; Request ID: {meta.get('RequestId')}; Proxy: null)")


def _boto_client_for(region: str, service: str, state_credentials=None):
    """moto's Step Functions engine's client for a task's service call (moto's boto_client_for, replaced): at
    http://127.0.0.1:PORT explicitly (moto says localhost), signed with the execution role's session
    (task_credentials), no retries and moto's timeouts as moto had them."""
    import boto3
    from botocore.config import Config
    from moto.core.models import botocore_stubber
    from moto.settings import moto_server_port
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds

    kwargs = {}
    if not botocore_stubber.enabled:
        kwargs["endpoint_url"] = f"http://127.0.0.1:{moto_server_port()}"
    return boto3.client(
        **task_credentials(state_credentials, region), region_name=region, service_name=service,
        config=Config(parameter_validation=False, retries={"max_attempts": 0, "total_max_attempts": 1},
                      connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                      read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS),
        **kwargs)


def _install_sfn() -> None:
    from botocore.exceptions import ClientError
    from moto.stepfunctions.parser.api import (
        HistoryEventType,
        LambdaFunctionFailedEventDetails,
        TaskFailedEventDetails,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda import (
        StateTaskServiceLambda,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task import StateTask
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import StateTaskLambda
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
    from moto.stepfunctions.parser.asl.utils import boto_client

    # every module that imported boto_client_for by name gets ours too
    replace(boto_client, "boto_client_for", _boto_client_for, rebind=True)

    def state_credentials(eval_credentials, self, env):
        """The task's credentials, remembering which state machine they act for (aws:SourceArn of the AssumeRole)."""
        found = eval_credentials(self, env)
        try:
            data = env.states.context_object.context_object_data
            found.peerlab_state_machine_arn = data["StateMachine"]["Id"]
        except Exception:  # noqa: BLE001 - a context without a state machine (TestState)
            pass
        return found

    wrap(StateTask, "_eval_state_credentials")(state_credentials)

    def _name(error: str):
        if error == "States.TaskFailed":
            return StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed)
        return CustomErrorName(error)

    def _task_failed(self, env, error: str, cause: str):
        return FailureEvent(
            env=env, error_name=_name(error), event_type=HistoryEventType.TaskFailed,
            # one key, as moto builds it itself (its EventDetails TypedDict is declared total)
            event_details=EventDetails(taskFailedEventDetails=TaskFailedEventDetails(  # type: ignore[typeddict-item]
                error=error, cause=cause, resource=self._get_sfn_resource(),
                resourceType=self._get_sfn_resource_type())))

    def service_lambda(service_from_error, self, env, ex):  # Resource: arn:aws:states:::lambda:invoke
        if isinstance(ex, RoleNotAssumable):
            return _task_failed(self, env, "States.TaskFailed", str(ex))
        if isinstance(ex, ClientError):
            return _task_failed(self, env, _lambda_error_name(ex.response["Error"]["Code"]), _cause(ex))
        return service_from_error(self, env, ex)

    def _lambda_failed(env, error: str, cause: str):
        return FailureEvent(
            env=env, error_name=_name(error), event_type=HistoryEventType.LambdaFunctionFailed,
            # one key, as moto builds it itself (its EventDetails TypedDict is declared total)
            event_details=EventDetails(lambdaFunctionFailedEventDetails=LambdaFunctionFailedEventDetails(  # type: ignore[typeddict-item]
                error=error, cause=cause)))

    def direct_lambda(direct_from_error, self, env, ex):  # Resource: a function ARN
        if isinstance(ex, RoleNotAssumable):
            return _lambda_failed(env, "States.TaskFailed", str(ex))
        if isinstance(ex, ClientError):
            return _lambda_failed(env, _lambda_error_name(ex.response["Error"]["Code"]), _cause(ex))
        return direct_from_error(self, env, ex)

    wrap(StateTaskServiceLambda, "_from_error")(service_lambda)
    wrap(StateTaskLambda, "_from_error")(direct_lambda)


def check_state_machine(role_arn: str | None, region: str, logging_configuration=None) -> None:
    """CreateStateMachine/UpdateStateMachine's checks of the role (enforcement on): AccessDeniedException (400) as AWS
    answers (module docstring)."""
    if not iam_enforce.enabled() or not role_arn:
        return
    role = role_of(role_arn)
    if role is None or not trusts(role, STATES, {"aws:SourceAccount": role_arn.split(":")[4]}, region):
        raise _access_denied(CANNOT_ASSUME)
    config = logging_configuration or {}
    level = config.get("level") or config.get("Level") or "OFF"
    destinations = config.get("destinations") or config.get("Destinations") or []
    if level == "OFF" or not destinations:
        return
    creds = service_session(role_arn, STATES, region)
    session = iam_enforce.session_for(creds["AccessKeyId"], region)
    assert session is not None  # keys STS just issued for the role
    # one evaluated "call" of the state machine's role with a request per log-delivery action (recorded as such)
    requests = [Request(a, "*", {}) for a in LOG_DELIVERY_ACTIONS]
    if iam_enforce.judge(session, "states:CreateStateMachine (log delivery)", requests, region) is not None:
        raise _access_denied(LOG_DESTINATION)


def _access_denied(message: str):
    from moto.core.exceptions import AWSError

    class AccessDeniedException(AWSError):
        TYPE = "AccessDeniedException"
        STATUS = 400

    return AccessDeniedException(message)


def _install_state_machine_checks() -> None:
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    @wrap(StepFunctionsParserBackend, "create_state_machine")
    def create(original, self, name, definition, roleArn, *args, **kwargs):
        check_state_machine(roleArn, self.region_name, kwargs.get("loggingConfiguration"))
        return original(self, name, definition, roleArn, *args, **kwargs)

    @wrap(StepFunctionsParserBackend, "update_state_machine")
    def update(original, self, arn, *args, **kwargs):
        names = ["definition", "role_arn", "logging_configuration"]
        given = dict(zip(names, args, strict=False))  # the positional ones given
        given.update({k: v for k, v in kwargs.items() if k in names})
        role = given.get("role_arn")
        logging_configuration = given.get("logging_configuration")
        if role or logging_configuration:
            try:
                machine = self.describe_state_machine(arn)
            except Exception:  # noqa: BLE001 - moto answers the missing machine itself
                machine = None
            role = role or getattr(machine, "roleArn", None) or getattr(machine, "role_arn", None)
            if logging_configuration is None and machine is not None:
                logging_configuration = getattr(machine, "loggingConfiguration", None)
            check_state_machine(role, self.region_name, logging_configuration)
        return original(self, arn, *args, **kwargs)


def _install_execution_traces() -> None:
    """TracingConfiguration enabled: one PutTraceSegments per execution, with the role, when it ends."""
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

    @wrap(BaseExecutionWorkerCommunication, "terminated")
    def traced(terminated, self) -> None:
        terminated(self)
        try:
            execution = self.execution
            machine = execution.state_machine
            tracing = getattr(machine, "tracingConfiguration", None) or getattr(machine, "tracing_config", None) or {}
            if tracing.get("enabled"):
                SHIPPER.put(("sfn-trace", execution.role_arn, execution.region_name, execution.exec_arn))
        except Exception:  # noqa: BLE001 - tracing never breaks an execution
            log.exception("tracing")


# ---- the service's own calls with a role: logs and traces ---------------------------------------------------------


def _allowed(creds: dict, action: str, params: dict, region: str, requests=None) -> bool:
    """Would the role session be allowed `action`? A denial is recorded (GET /peerlab/iam). Always True with
    enforcement off."""
    if not iam_enforce.enabled():
        return True
    session = iam_enforce.session_for(creds["AccessKeyId"], region)
    if session is None:
        return True
    if requests is None:
        requests = iam_enforce.requests_for(action, params, session.account, region)
    return iam_enforce.judge(session, action, requests, region) is None


def _trace_document(name: str, origin: str, resource_arn: str | None = None) -> str:
    now = time.time()
    trace_id = f"1-{int(now):08x}-{uuid.uuid4().hex[:24]}"
    segment = {"name": name, "id": uuid.uuid4().hex[:16], "trace_id": trace_id, "start_time": now,
               "end_time": now, "origin": origin}
    if resource_arn:
        segment["resource_arn"] = resource_arn
    return json.dumps(segment)


def _put_trace(creds: dict, region: str, account: str, document: str) -> None:
    if not _allowed(creds, "xray:PutTraceSegments", {}, region):
        return
    with LOCK:
        xray_backends[account][region].process_segment(document)


class Shipper:
    """One background thread that delivers logs and traces after invocations and executions end."""

    DELAY = 0.2  # s: lets the function's last lines reach the environment's reader before they are shipped

    def __init__(self):
        self.queue: queue.Queue = queue.Queue()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def put(self, item) -> None:
        with self.lock:
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="peerlab-shipper", daemon=True)
                self.thread.start()
        self.queue.put((time.monotonic() + self.DELAY, item))

    def _run(self) -> None:
        while True:
            due, item = self.queue.get()
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            try:
                if item[0] == "lambda":
                    _ship_lambda(*item[1:])
                elif item[0] == "sfn-trace":
                    _ship_sfn_trace(*item[1:])
            except Exception:  # noqa: BLE001 - delivery never breaks the local AWS
                log.exception("shipping %s", item[0])

    def drain(self, timeout: float = 5.0) -> None:
        """Wait until everything queued so far is shipped (tests)."""
        deadline = time.monotonic() + timeout
        while not self.queue.empty() and time.monotonic() < deadline:
            time.sleep(0.05)


SHIPPER = Shipper()


def log_group_of(fn) -> str:
    config = getattr(fn, "peerlab_logging_config", None) or getattr(fn, "logging_config", None) or {}
    return config.get("LogGroup") or f"/aws/lambda/{fn.function_name}"


def stream_name(environment_id: str) -> str:
    """Lambda's log stream of an execution environment: "YYYY/MM/DD/[$LATEST]<id>" (Lambda developer guide,
    "Sending Lambda function logs to CloudWatch Logs": date, function version, environment GUID)."""
    return f"{_dt.datetime.now(_dt.UTC):%Y/%m/%d}/[$LATEST]{environment_id}"


def after_invocation(fn, environment, lines: list[tuple[float, str]]) -> None:
    """After each invocation (lambda_.runtime calls it, `install` sets it): its log lines, and a trace if TracingConfig
    is Active, shipped with the execution role."""
    if not fn.role:
        return
    tracing = (getattr(fn, "tracing_config", None) or {}).get("Mode") == "Active"
    SHIPPER.put(("lambda", fn.role, fn.function_name, fn.function_arn, fn.account_id, fn.region, log_group_of(fn),
                 environment, lines, tracing))


def _function_session(role_arn: str, name: str, region: str) -> dict | None:
    try:
        return service_session(role_arn, LAMBDA, region, session_name=name)
    except NotAssumable:
        return None  # Lambda refuses such a function at CreateFunction; nothing the role could send


def _ship_lambda(role_arn, name, function_arn, account, region, group, environment, lines, tracing) -> None:
    creds = _function_session(role_arn, name, region)
    if creds is None:
        return
    if tracing:
        _put_trace(creds, region, account, _trace_document(name, "AWS::Lambda::Function", function_arn))
    lines = list(lines)
    if not lines:
        return
    backend = logs_backends[account][region]
    with LOCK:
        exists = group in backend.groups
    if not exists:
        arn = f"arn:aws:logs:{region}:{account}:log-group:{group}"
        if not _allowed(creds, "logs:CreateLogGroup", {}, region, [Request("logs:CreateLogGroup", arn, {})]):
            return
        with LOCK:
            if group not in backend.groups:
                backend.create_log_group(group, {})
    stream = getattr(environment, "peerlab_log_stream", None)
    if stream is None:
        stream = stream_name(uuid.uuid4().hex)
        params = {"logGroupName": group, "logStreamName": stream}
        if not _allowed(creds, "logs:CreateLogStream", params, region):
            return
        with LOCK:
            if stream not in backend.groups[group].streams:
                backend.create_log_stream(group, stream)
        environment.peerlab_log_stream = stream
    params = {"logGroupName": group, "logStreamName": stream}
    if not _allowed(creds, "logs:PutLogEvents", params, region):
        return
    events = [{"timestamp": int(t * 1000), "message": text} for t, text in sorted(lines, key=lambda x: x[0])]
    with LOCK:
        if group in backend.groups:
            backend.put_log_events(group, stream, events)


def _ship_sfn_trace(role_arn, region, execution_arn) -> None:
    try:
        creds = service_session(role_arn, STATES, region)
    except NotAssumable:
        return
    account = execution_arn.split(":")[4]
    _put_trace(creds, region, account, _trace_document(execution_arn.split(":")[-2], "AWS::StepFunctions::StateMachine",
                                                       execution_arn))


@once
def install() -> None:
    """After lambda_, stepfunctions and events: their patches are wrapped, not replaced. Lambda hands each finished
    invocation to `after_invocation` (its logs and trace, sent with the execution role)."""
    _install_sfn()
    _install_state_machine_checks()
    _install_execution_traces()
    lambda_runtime.on_invocation_end(after_invocation)
