"""Step Functions time scaled like EC2's: every wait and timeout of moto's Step Functions interpreter lasts
`--time-scale` x its AWS duration, so `wall / scale` is the execution's AWS time (as for the EC2 delays).

moto's interpreter (ported from LocalStack) waits in real time in five primitives; `install()` wraps each one,
converting the AWS seconds it is given into wall seconds with `wall(seconds)`:

- Wait state (`Seconds`, `SecondsPath`, `Timestamp`, `TimestampPath` and the JSONata forms): every wait function
  ends in `WaitFunction._wait_interval(env, seconds)`, replaced by a wait of `wall(seconds)` that still ends early
  when the execution stops. For a timestamp the *remaining* time `timestamp - now` (real UTC clock, whole seconds:
  AWS "considers the time value up to seconds and truncates milliseconds", state-wait.html) is scaled; a timestamp in
  the past does not wait. moto compares the UTC timestamp with the machine's *local* time; that is corrected here.
- Retry (`IntervalSeconds`, `BackoffRate`, `MaxDelaySeconds`, `JitterStrategy`): moto computes the AWS interval
  (interval x rate^n, capped at MaxDelaySeconds, then FULL jitter uniform in [0, capped]: as
  concepts-error-handling.html documents) and sleeps it with `time.sleep` in `retrier_decl`; that module's `time`
  becomes one whose `sleep` scales. The random draw stays moto's; only its duration is scaled.
- Task `TimeoutSeconds`/`TimeoutSecondsPath`: `ExecutionState._evaluate_with_timeout` waits on a `threading.Event`
  for the task; `execute_state`'s `threading` gets an `Event` whose `wait(timeout)` scales. The history still says
  the definition's value (`timeoutInSeconds`). Except for Lambda tasks: what a Lambda task's timeout bounds is the
  function's run, and the functions run here in real time (the real binaries, not a model of them), so their
  `TimeoutSeconds` is counted in real seconds. Scaled, a 60 s timeout at 0.02 would give a function 1.2 s,
  failing on a loaded machine what AWS would not.
- `HeartbeatSeconds` and the task timeout of `.waitForTaskToken` / activity tasks: `callback.py`'s `Event` scales.
- The state machine's top-level `TimeoutSeconds` (execution TIMED_OUT): `Program.eval` joins its worker thread with
  that timeout; `program`'s `threading` gets a `Thread` whose `join(timeout)` counts the execution's AWS time: its
  Lambda tasks' run 1:1 (real), everything else 1/scale.
- A Lambda task's `TimeoutSeconds` leaves out the local AWS's time serving its function's calls (lambda_/runtime.py
  `serving`): the Invoke names its Task attempt in an internal header, so the Task finds the invocation it started.

AWS sources (Step Functions Developer Guide, docs.aws.amazon.com/step-functions/latest/dg/...): state-wait.html
(Wait fields; timestamps truncated to seconds), concepts-error-handling.html (Retry fields, MaxDelaySeconds,
JitterStrategy FULL = random in [0, computed interval], also CDK's JitterType), sfn-stuck-execution.html and the
SendTaskHeartbeat API (Task TimeoutSeconds / HeartbeatSeconds -> States.Timeout), statemachine-structure.html
(top-level TimeoutSeconds). Scaling itself is the project's rule: `--time-scale` multiplies every AWS duration.

Not scaled: the time Lambda functions (and every other service call) really take. With `--time-scale 0` waits and
retry intervals are zero and timeouts are not enforced (a zero timeout would fail every Task at once).
"""

from __future__ import annotations

import datetime
import threading
import time
import types
from typing import overload

from peerlab_local.core.patching import MotoChanged, replace, wrap
from peerlab_local.core.world import world
from peerlab_local.lambda_ import runtime as lambda_runtime

_installed = False


def scale() -> float:
    return world().config.time_scale


def installed() -> bool:
    return _installed


@overload
def wall(seconds: float) -> float: ...
@overload
def wall(seconds: None) -> None: ...
def wall(seconds: float | None) -> float | None:
    """Wall-clock seconds for `seconds` of AWS time (None, "no timeout", stays None)."""
    if seconds is None:
        return None
    return max(0.0, float(seconds)) * scale()


def wall_timeout(seconds: float | None) -> float | None:
    """A timeout in wall seconds; under --time-scale 0 no timeout (None) rather than an instant one."""
    if seconds is None or scale() == 0:
        return None
    return wall(seconds)


_real_time = threading.local()  # set while a Lambda task's timeout is being waited for: on, key
_invoking = threading.local()  # set in the thread that invokes a Lambda task's function: key
_program = threading.local()  # set in the thread that runs an execution's Program.eval: execution
TASK_HEADER = "x-peerlab-task"  # internal: which Task attempt an Invoke is (never leaves 127.0.0.1)


def _task_key(env) -> str:
    """One attempt of one Task of one execution: its execution, state, entry time and retry count."""
    data = env.states.context_object.context_object_data
    state = data.get("State") or {}
    return f"{data['Execution']['Id']}|{state.get('Name')}|{state.get('EnteredTime')}|{state.get('RetryCount')}"


def _execution_id(env) -> str:
    return env.states.context_object.context_object_data["Execution"]["Id"]


class _LambdaTime:
    """Per execution, the wall seconds in which one of its Lambda tasks was running (Parallel branches once)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._runs: dict[str, list[float]] = {}  # execution -> [open tasks, since, total]

    def began(self, execution: str) -> None:
        with self._lock:
            run = self._runs.setdefault(execution, [0, 0.0, 0.0])
            if run[0] == 0:
                run[1] = time.monotonic()
            run[0] += 1

    def ended(self, execution: str) -> None:
        with self._lock:
            run = self._runs.get(execution)
            if run is None:  # its execution timed out and was forgotten while this task ran
                return
            run[0] -= 1
            if run[0] == 0:
                run[2] += time.monotonic() - run[1]

    def seconds(self, execution: str | None) -> float:
        with self._lock:
            run = self._runs.get(execution or "")
            if run is None:
                return 0.0
            return run[2] + (time.monotonic() - run[1] if run[0] else 0.0)

    def forget(self, execution: str | None) -> None:
        with self._lock:
            self._runs.pop(execution or "", None)


LAMBDA_TIME = _LambdaTime()


class ScaledEvent(threading.Event):
    """threading.Event whose wait(timeout) takes a timeout in AWS seconds (real seconds for a Lambda task, less
    the local AWS's own time serving its function's calls)."""

    def wait(self, timeout: float | None = None) -> bool:
        if getattr(_real_time, "on", False):
            return _wait_for_lambda_task(self, timeout, getattr(_real_time, "key", ""))
        return super().wait(wall_timeout(timeout))


def _wait_for_lambda_task(event: threading.Event, timeout: float | None, key: str) -> bool:
    """A Lambda task's TimeoutSeconds, in real seconds less those in which the local AWS was serving the calls of
    the function this attempt invoked (runtime.serving): what the local AWS's load adds is not the Task's time.
    On AWS a Lambda task's timeout bounds an invoke that never answers; a function's own timeout (its Timeout,
    below the Task's here) ends it first."""
    begun = time.monotonic()
    try:
        if timeout is None:
            return threading.Event.wait(event, None)
        while True:
            invocation = lambda_runtime.task_invocation(key)
            served = invocation.served_seconds() if invocation else 0.0
            remaining = timeout - (time.monotonic() - begun - served)
            if remaining <= 0:
                return event.is_set()
            if threading.Event.wait(event, min(remaining, 0.5)):
                return True
    finally:
        lambda_runtime.forget_task(key)


LAMBDA_TASKS = ("StateTaskLambda", "StateTaskServiceLambda")


def _lambda_timeouts_in_real_time(original, self, env):
    """Wraps ExecutionState._evaluate_with_timeout: a Lambda task's TimeoutSeconds counts real seconds (less the
    local AWS's own, _wait_for_lambda_task), and its run counts 1:1 in its execution's AWS time (ScaledThread)."""
    if type(self).__name__ not in LAMBDA_TASKS:
        return original(self, env)
    _real_time.on, _real_time.key = True, _task_key(env)
    execution = _execution_id(env)
    LAMBDA_TIME.began(execution)
    try:
        return original(self, env)
    finally:
        LAMBDA_TIME.ended(execution)
        _real_time.on = False


def _invoke_as_task(original, env, *args, **kwargs):
    """Wraps lambda_eval_utils.execute_lambda_function_integration (in the thread that invokes): its Invoke says
    which Task attempt it is."""
    _invoking.key = _task_key(env)
    try:
        return original(env, *args, **kwargs)
    finally:
        _invoking.key = None


def _client_naming_its_task(*args, **kwargs):
    """lambda_eval_utils.boto_client_for, replaced: the engine's client as boto_client.boto_client_for makes it
    (looked up at each call: iam/identities.py replaces that one with the state machine role's client), whose
    Invoke carries TASK_HEADER (_invoke_as_task)."""
    from moto.stepfunctions.parser.asl.utils import boto_client

    client = boto_client.boto_client_for(*args, **kwargs)

    def name_the_task(request, **_):
        key = getattr(_invoking, "key", None)
        if key:
            request.headers[TASK_HEADER] = key

    client.meta.events.register("before-send.lambda.Invoke", name_the_task, unique_id="peerlab-task")
    return client


class ScaledThread(threading.Thread):
    """threading.Thread whose join(timeout) takes a timeout in AWS seconds: the execution's (Program.eval) own AWS
    time, in which its Lambda tasks count 1:1 (the functions run in real time) and everything else 1/scale. Scaled
    whole, a lab's real function time would count 1/scale times against its TimeoutSeconds, and a busy machine
    time it out where AWS would not."""

    def join(self, timeout: float | None = None) -> None:
        limit = wall_timeout(timeout)
        if limit is None or timeout is None:
            return super().join(limit)
        execution = getattr(_program, "execution", None)
        begun = time.monotonic()
        try:
            while self.is_alive():
                real = LAMBDA_TIME.seconds(execution)
                aws = (time.monotonic() - begun - real) / scale() + real
                if aws >= timeout:
                    return None
                super().join(min((timeout - aws) * scale(), 1.0))
            return None
        finally:
            LAMBDA_TIME.forget(execution)


def _program_knows_its_execution(original, self, env):
    """Wraps Program.eval: the thread that joins the execution's worker knows which execution it is."""
    _program.execution = _execution_id(env)
    try:
        return original(self, env)
    finally:
        _program.execution = None


def _module_like(base: types.ModuleType, **overrides) -> types.SimpleNamespace:
    """A stand-in for module `base` inside one moto module: `base`'s names with a few replaced."""
    return types.SimpleNamespace(**{**vars(base), **overrides})


def _wait_interval(self, env, wait_seconds) -> None:
    """Replaces moto's WaitFunction._wait_interval: wait wall(wait_seconds), ending early if the execution stops.

    moto's own loop re-waits the remainder after an unrelated wake-up, counting whole wall seconds against AWS
    seconds; a deadline keeps that behaviour without mixing the two clocks."""
    deadline = time.monotonic() + wall(wait_seconds)
    while env.is_running():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        # in slices: moto sets and at once clears program_state_event on stop, so a wake-up can be missed
        env.program_state_event.wait(min(remaining, 1.0))


def _utc_wait_seconds(original, self, env) -> int:
    # moto: int(timestamp - datetime.now()), a UTC timestamp against the *local* clock; add the local offset
    offset = datetime.datetime.now().astimezone().utcoffset() or datetime.timedelta(0)
    return original(self, env) + int(offset.total_seconds())


def _stop_date_when_timed_out(original, self):
    """DescribeExecution gives `stopDate` "if the execution ended" (AWS API reference, DescribeExecution); moto
    leaves it out for TIMED_OUT, the status a scaled top-level TimeoutSeconds now reaches in seconds."""
    result = original(self)
    body = result.result
    if isinstance(body, dict) and body.get("status") == "TIMED_OUT" and "stopDate" not in body:
        execution = self.stepfunction_backend.describe_execution(body["executionArn"])
        if getattr(execution, "stop_date", None) is not None:
            body["stopDate"] = execution.stop_date
    return result


def _require(module, name: str):
    if not hasattr(module, name):
        raise MotoChanged(f"Step Functions time cannot be scaled: {module.__name__} has no {name!r} "
                          f"(moto changed? infra/local/peerlab_local/sfn_time.py wraps it)")
    return getattr(module, name)


def install() -> None:
    """Scale moto's Step Functions waits and timeouts by world().config.time_scale. Raises MotoChanged (at start-up)
    if anything it wraps is missing."""
    global _installed
    if _installed:
        return
    try:
        from moto.stepfunctions import responses
        from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
        from moto.stepfunctions.parser.asl.component.program import program
        from moto.stepfunctions.parser.asl.component.state.exec import execute_state
        from moto.stepfunctions.parser.asl.component.state.wait.wait_function import timestamp, wait_function
        from moto.stepfunctions.parser.asl.eval.callback import callback
    except ImportError as exc:
        raise MotoChanged(f"Step Functions time cannot be scaled: {exc} (moto changed?)") from exc

    # check everything before changing anything
    wait_cls = _require(wait_function, "WaitFunction")
    _require(wait_cls, "_wait_interval")
    timestamp_cls = _require(timestamp, "Timestamp")
    _require(timestamp_cls, "_get_wait_seconds")
    for module, name in ((retrier_decl, "time"), (execute_state, "threading"), (program, "threading"),
                         (callback, "Event")):
        _require(module, name)
    execution_state = _require(execute_state, "ExecutionState")
    _require(execution_state, "_evaluate_with_timeout")
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_lambda
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_lambda
    _require(state_task_lambda, LAMBDA_TASKS[0])
    _require(state_task_service_lambda, LAMBDA_TASKS[1])
    _require(_require(program, "Program"), "eval")
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    _require(lambda_eval_utils, "execute_lambda_function_integration")
    _require(lambda_eval_utils, "boto_client_for")
    response_cls = _require(responses, "StepFunctionResponse")
    _require(response_cls, "describe_execution")

    replace(wait_cls, "_wait_interval", _wait_interval)
    wrap(timestamp_cls, "_get_wait_seconds")(_utc_wait_seconds)  # TimestampPath inherits
    replace(retrier_decl, "time", _module_like(time, sleep=lambda seconds: time.sleep(wall(seconds))))
    replace(execute_state, "threading", _module_like(threading, Event=ScaledEvent))
    wrap(execution_state, "_evaluate_with_timeout")(_lambda_timeouts_in_real_time)
    replace(program, "threading", _module_like(threading, Thread=ScaledThread))
    wrap(program.Program, "eval")(_program_knows_its_execution)
    wrap(lambda_eval_utils, "execute_lambda_function_integration")(_invoke_as_task)
    replace(lambda_eval_utils, "boto_client_for", _client_naming_its_task)
    replace(callback, "Event", ScaledEvent)
    wrap(response_cls, "describe_execution")(_stop_date_when_timed_out)
    _installed = True
