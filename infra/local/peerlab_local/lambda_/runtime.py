"""Lambda invocations run the project's real function executables under a local Lambda Runtime API.

moto would run functions in Docker, which these machines do not have. Here each invocation is handed to an
execution environment: a process of the function's executable with AWS_LAMBDA_RUNTIME_API pointing at a small
HTTP server of ours that speaks the Runtime API (next / response / error / init error). Environments are kept warm
and reused one invocation at a time, as Lambda does; concurrent invocations get more environments.

The executable is the `bootstrap` of the function's deployment zip when it has one (what `cargo lambda build`
packages), else `<lambda-dir>/<Handler>` or `<lambda-dir>/<FunctionName>` (fast local development: the binaries
of `cargo build`, no zipping).

Functions run as their execution role (`_role_credentials`). Two registration points let the IAM package take part
without this module knowing it (iam/__init__ installs after this one): `on_execution_role(check)` runs before Lambda
assumes a function's role and may refuse it (iam/trust.py: the role's trust policy must let lambda.amazonaws.com);
`on_invocation_end(listener)` gets each finished invocation's log lines (iam/identities.py sends them to CloudWatch
Logs with the execution role).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import math
import os
import queue
import signal
import stat
import subprocess
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from moto.awslambda.models import LambdaFunction
from moto.sts.models import sts_backends
from moto.utilities.utils import get_partition

from peerlab_local.core import faults
from peerlab_local.core.patching import once, replace
from peerlab_local.core.world import world

API = "/2018-06-01/runtime"
COLD_START_GRACE = 10.0  # Lambda allows a function's init phase 10 s beyond its timeout

# Registration points (module docstring): checks before the execution role is assumed (raise to refuse the
# invocation), listeners after each invocation (fn, environment, log lines as (epoch, text))
_ROLE_CHECKS: list[Callable[[LambdaFunction], None]] = []
_INVOCATION_LISTENERS: list[Callable[[LambdaFunction, Environment, list[tuple[float, str]]], None]] = []


def on_execution_role(check: Callable[[LambdaFunction], None]) -> None:
    """`check(fn)` runs before Lambda assumes `fn`'s execution role for a new execution environment; an exception it
    raises is Invoke's answer."""
    if check not in _ROLE_CHECKS:
        _ROLE_CHECKS.append(check)


def on_invocation_end(listener: Callable[[LambdaFunction, Environment, list[tuple[float, str]]], None]) -> None:
    """`listener(fn, environment, lines)` gets each finished invocation: the lines Lambda writes to its log (START,
    the function's own, END, REPORT: platform_lines)."""
    if listener not in _INVOCATION_LISTENERS:
        _INVOCATION_LISTENERS.append(listener)


class Invocation:
    def __init__(self, payload: bytes, deadline: float, function_arn: str):
        self.request_id = str(uuid.uuid4())
        self.payload = payload
        self.deadline = deadline
        self.function_arn = function_arn
        self.done = threading.Event()
        self.result: bytes | None = None
        self.error: dict | None = None
        # the local AWS's own time serving this invocation's requests (serving()): while one is open, and in total
        self._serving = threading.Lock()
        self._open, self._since, self._served = 0, 0.0, 0.0

    def serving_began(self) -> None:
        with self._serving:
            if self._open == 0:
                self._since = time.monotonic()
            self._open += 1

    def serving_ended(self) -> None:
        with self._serving:
            self._open -= 1
            if self._open == 0:
                self._served += time.monotonic() - self._since

    def served_seconds(self) -> float:
        """Wall seconds in which the local AWS was serving a request of this invocation (concurrent ones once)."""
        with self._serving:
            return self._served + (time.monotonic() - self._since if self._open else 0.0)


class Environment:
    def __init__(self, executable: str, env: dict[str, str], log_path: str):
        self.invocations: queue.Queue[Invocation] = queue.Queue()
        self.current: Invocation | None = None
        self.access_key = env.get("AWS_ACCESS_KEY_ID", "")  # its execution role's session: how its requests are known
        self.init_error: dict | None = None
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        env = dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{self.server.server_address[1]}")
        self.log = open(log_path, "ab")
        self.capture: list[tuple[float, str]] | None = None  # the current invocation's lines (identities.py)
        # Spawned from one long-lived thread: PR_SET_PDEATHSIG fires when the *thread* that forked exits, and
        # werkzeug serves each request on a short-lived thread, which would SIGTERM a warm environment.
        self.process = _SPAWNER.submit(
            subprocess.Popen, [executable], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, cwd=os.path.dirname(executable) or None, preexec_fn=_die_with_parent,
        ).result()
        threading.Thread(target=self._read_output, daemon=True).start()

    def _read_output(self) -> None:
        """The function's stdout/stderr: into its log file, and each line into the current invocation's capture
        (what Lambda sends to CloudWatch Logs for it)."""
        out = self.process.stdout
        assert out is not None  # Popen(stdout=PIPE)
        for line in iter(out.readline, b""):
            try:
                self.log.write(line)
                self.log.flush()
            except ValueError:  # closed by stop()
                pass
            capture = self.capture
            if capture is not None:
                capture.append((time.time(), line.decode("utf-8", "replace").rstrip("\r\n")))
        out.close()

    def alive(self) -> bool:
        return self.process.poll() is None and self.init_error is None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.server.shutdown()
        self.server.server_close()
        self.log.close()

    def _handler_class(self):
        environment = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet: the function's own log is what matters
                pass

            def _reply(self, code: int, body: bytes = b"{}", headers: dict | None = None):
                try:
                    self.send_response(code)
                    for key, value in (headers or {}).items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the function process went away (stopped, or killed at its timeout)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def do_GET(self):
                if self.path != f"{API}/invocation/next":
                    return self._reply(404)
                while True:
                    try:
                        invocation = environment.invocations.get(timeout=1.0)
                        break
                    except queue.Empty:
                        if environment.process.poll() is not None:
                            return None  # nobody is listening any more
                environment.current = invocation
                self._reply(200, invocation.payload, {
                    "Content-Type": "application/json",
                    "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(int(invocation.deadline * 1000)),
                    "Lambda-Runtime-Invoked-Function-Arn": invocation.function_arn,
                    "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0",
                })

            def do_POST(self):
                body = self._body()
                if self.path == f"{API}/init/error":
                    environment.init_error = _error_body(body, "Runtime.InitError")
                    if environment.current is not None:
                        environment.current.error = environment.init_error
                        environment.current.done.set()
                    return self._reply(202, b'{"status":"OK"}')
                parts = self.path.split("/")
                # /2018-06-01/runtime/invocation/<id>/<response|error>
                if len(parts) != 6 or parts[3] != "invocation":
                    return self._reply(404)
                invocation = environment.current
                if invocation is None or invocation.request_id != parts[4]:
                    return self._reply(400, b'{"errorType":"InvalidRequestID"}')
                if parts[5] == "response":
                    invocation.result = body
                elif parts[5] == "error":
                    invocation.error = _error_body(body, self.headers.get("Lambda-Runtime-Function-Error-Type")
                                                   or "Unhandled")
                else:
                    return self._reply(404)
                environment.current = None
                invocation.done.set()
                self._reply(202, b'{"status":"OK"}')

        return Handler


_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lambda-spawner")  # its thread lives on


def _die_with_parent() -> None:
    """Linux: the function process gets SIGTERM if the local AWS dies without cleaning up (kill -9)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _error_body(body: bytes, default_type: str) -> dict:
    try:
        parsed = json.loads(body or b"{}")
    except ValueError:
        parsed = {"errorMessage": body.decode("utf-8", "replace")}
    if not isinstance(parsed, dict):
        parsed = {"errorMessage": str(parsed)}
    parsed.setdefault("errorType", default_type)
    parsed.setdefault("errorMessage", "")
    return parsed


class Pools:
    def __init__(self):
        self._lock = threading.Lock()
        self._idle: dict[str, list[Environment]] = {}
        self._all: list[Environment] = []
        self._by_key: dict[str, Environment] = {}  # by its role session's access key (one per environment)
        self._extracted: dict[str, str] = {}
        self._tmp = tempfile.mkdtemp(prefix="peerlab-lambda-")

    def log_dir(self) -> str:
        configured = world().config.log_dir
        path = configured or os.path.join(self._tmp, "logs")
        os.makedirs(path, exist_ok=True)
        return path

    def executable(self, fn: LambdaFunction) -> str | None:
        code = getattr(fn, "code_bytes", b"") or b""
        if code:
            digest = hashlib.sha256(code).hexdigest()
            with self._lock:
                if digest not in self._extracted:
                    self._extracted[digest] = self._extract(code, digest)
                if self._extracted[digest]:
                    return self._extracted[digest]
        folder = world().config.lambda_dir or os.environ.get("PEERLAB_LAMBDA_DIR")
        if folder:
            for name in (fn.handler, fn.function_name):
                if name and os.path.isfile(os.path.join(folder, name)):
                    return os.path.join(folder, name)
        return None

    def _extract(self, code: bytes, digest: str) -> str:
        try:
            archive = zipfile.ZipFile(io.BytesIO(code))
        except zipfile.BadZipFile:
            return ""
        if "bootstrap" not in archive.namelist():
            return ""
        target = os.path.join(self._tmp, digest)
        archive.extractall(target)
        path = os.path.join(target, "bootstrap")
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        return path

    def acquire(self, fn: LambdaFunction, executable: str) -> tuple[Environment, bool]:
        key = fn.function_arn
        with self._lock:
            idle = self._idle.setdefault(key, [])
            while idle:
                env = idle.pop()
                if env.alive():
                    return env, False
                env.stop()
        cfg = world().config
        variables = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "RUST_LOG": os.environ.get("RUST_LOG", "info"),
            **{k: str(v) for k, v in (fn.environment_vars or {}).items()},
            "AWS_REGION": fn.region,
            "AWS_DEFAULT_REGION": fn.region,
            **_role_credentials(fn),
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{cfg.port}",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.function_name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "local",
            "_HANDLER": fn.handler or "bootstrap",
        }
        env = Environment(executable, variables, os.path.join(self.log_dir(), f"{fn.function_name}.log"))
        with self._lock:
            self._all.append(env)
            if env.access_key != "test":  # a role session's key is the environment's own; the admin key is anyone's
                self._by_key[env.access_key] = env
        return env, True

    def by_access_key(self, access_key: str) -> Environment | None:
        with self._lock:
            return self._by_key.get(access_key)

    def release(self, fn: LambdaFunction, env: Environment) -> None:
        with self._lock:
            if env.alive():
                self._idle.setdefault(fn.function_arn, []).append(env)
            else:
                env.stop()

    def stop_all(self) -> None:
        with self._lock:
            envs, self._all, self._idle, self._by_key = self._all, [], {}, {}
        # all at once: each environment's Runtime API server takes up to its poll interval (0.5 s) to shut down
        for env in envs:
            if env.process.poll() is None:
                env.process.terminate()
        stopping = [threading.Thread(target=env.stop, daemon=True) for env in envs]
        for thread in stopping:
            thread.start()
        for thread in stopping:
            thread.join()


POOLS = Pools()


# Which Step Functions Task attempt an Invoke is (its TASK_HEADER, stepfunctions/timing.py): the invocation it
# started, so that the Task's timeout can leave out the local AWS's time as the function's does
_TASK = threading.local()
_TASKS: dict[str, Invocation] = {}
_TASKS_LOCK = threading.Lock()


@contextlib.contextmanager
def for_task(key: str):
    """The request being served is the Invoke of Task attempt `key` ("" for none)."""
    _TASK.key = key
    try:
        yield
    finally:
        _TASK.key = ""


def task_invocation(key: str) -> Invocation | None:
    with _TASKS_LOCK:
        return _TASKS.get(key)


def forget_task(key: str) -> None:
    with _TASKS_LOCK:
        _TASKS.pop(key, None)


@contextlib.contextmanager
def serving(access_key: str):
    """While the local AWS serves a request made with `access_key`: when that is a function environment's, the
    time is its current invocation's `served_seconds`, which its timeout does not count (invoke()). On AWS a
    function's API calls answer in milliseconds, served by a fleet; here one process serves every lab's calls, on
    the machine's few cores, and with many labs at once a call waits seconds for its turn: the instrument's time,
    not AWS's, and not the function's to answer for."""
    env = POOLS.by_access_key(access_key) if access_key else None
    invocation = env.current if env else None
    if invocation is None:
        yield
        return
    invocation.serving_began()
    try:
        yield
    finally:
        invocation.serving_ended()


def _role_credentials(fn: LambdaFunction) -> dict[str, str]:
    """The execution role's temporary credentials, as Lambda gives them to a function's environment (Lambda
    Developer Guide, "Lambda execution role": Lambda assumes the role and exposes AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, "Defined runtime environment variables"). Every call a function
    makes is then the role session's, in the role's account (what IAM evaluation, when enforced, judges). Assumed
    through the local STS for 12 h, the longest role session AWS allows (sts AssumeRole, DurationSeconds); an
    environment lives as long as the local AWS. A function without a role (none here) keeps the admin test keys.
    The checks of `on_execution_role` run first."""
    if not fn.role:
        return {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    for check in _ROLE_CHECKS:
        check(fn)
    session = sts_backends[fn.account_id][get_partition(fn.region)].assume_role(
        region_name=fn.region, role_session_name=fn.function_name, role_arn=fn.role,
        policy=None, duration=43200, external_id=None)  # type: ignore[arg-type]  # moto's API passes None too
    return {"AWS_ACCESS_KEY_ID": session.access_key_id, "AWS_SECRET_ACCESS_KEY": session.secret_access_key,
            "AWS_SESSION_TOKEN": session.session_token}


def _max_memory_mb(process) -> int:
    """The environment's peak resident memory (VmHWM of its process), as REPORT's Max Memory Used."""
    try:
        with open(f"/proc/{process.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return max(1, round(int(line.split()[1]) / 1024))
    except (OSError, ValueError, IndexError):
        pass
    return 0


def platform_lines(fn, env, request_id: str, started: float, lines: list[tuple[float, str]]) -> list[tuple[float, str]]:
    """The invocation's log as Lambda writes it to CloudWatch Logs: the platform's START, the function's own lines,
    END and REPORT (Lambda developer guide, "Sending Lambda function logs to CloudWatch Logs": Lambda sends these
    platform lines for every invocation, whatever the function prints; their text format as published in users' logs,
    e.g. "REPORT RequestId: <id>\tDuration: 718.65 ms\tBilled Duration: 719 ms\tMemory Size: 128 MB\tMax Memory
    Used: 14 MB"; billing per 1 ms since 2020). So a function that prints nothing still writes its log stream: the
    execution role's logs:CreateLogStream/PutLogEvents are needed for every function."""
    ended = time.time()
    duration = (ended - started) * 1000
    return [(started, f"START RequestId: {request_id} Version: $LATEST"), *lines,
            (ended, f"END RequestId: {request_id}"),
            (ended, f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\tBilled Duration: "
                    f"{math.ceil(duration)} ms\tMemory Size: {fn.memory_size or 128} MB\tMax Memory Used: "
                    f"{_max_memory_mb(env.process)} MB")]


def invoke(fn: LambdaFunction, payload: bytes) -> tuple[bytes, dict | None]:
    """Run one invocation; returns (payload, None) or (error payload, error dict)."""
    executable = POOLS.executable(fn)
    if executable is None:
        error = {"errorType": "Runtime.InvalidEntrypoint",
                 "errorMessage": f"no executable for {fn.function_name}: the deployment zip has no bootstrap and "
                                 f"--lambda-dir has no file named {fn.handler!r} or {fn.function_name!r}"}
        return json.dumps(error).encode(), error
    env, cold = POOLS.acquire(fn, executable)
    timeout = float(fn.timeout or 3)
    invocation = Invocation(payload, time.time() + timeout, fn.function_arn)
    task = getattr(_TASK, "key", "")
    if task:
        with _TASKS_LOCK:
            _TASKS[task] = invocation
    lines: list[tuple[float, str]] = []
    env.capture = lines
    started = time.time()
    env.invocations.put(invocation)
    # the function's own time: wall time less the local AWS's serving its requests (serving())
    begun, limit = time.monotonic(), timeout + (COLD_START_GRACE if cold else 0)
    while not invocation.done.wait(0.05):
        if env.process.poll() is not None:
            invocation.error = {"errorType": "Runtime.ExitError",
                                "errorMessage": f"RequestId: {invocation.request_id} Error: Runtime exited with "
                                                f"error: exit status {env.process.returncode}"}
            break
        if time.monotonic() - begun - invocation.served_seconds() > limit:
            env.process.kill()
            invocation.error = {"errorType": "Sandbox.Timedout",
                                "errorMessage": f"RequestId: {invocation.request_id} Error: Task timed out after "
                                                f"{timeout:.2f} seconds"}
            break
    POOLS.release(fn, env)
    if _INVOCATION_LISTENERS:  # its logs (and trace) sent with the execution role, off this thread
        logged = platform_lines(fn, env, invocation.request_id, started, lines)
        for listener in _INVOCATION_LISTENERS:
            listener(fn, env, logged)
    if invocation.error is not None:
        error = {"errorType": invocation.error["errorType"], "errorMessage": invocation.error["errorMessage"]}
        return json.dumps(error).encode(), error
    return invocation.result or b"null", None


def _patched_invoke(self: LambdaFunction, body, request_headers, response_headers):
    if isinstance(body, str):
        body = body.encode()
    fault = faults.take_deferred()  # --fault-rate drew Sandbox.Timedout or Lambda.Unknown for this invoke
    started = time.monotonic()
    payload, error = invoke(self, body or b"{}")
    if fault is not None:
        # the function ran and its side effects stand; Lambda answers as if it was stopped at its timeout
        timeout = float(self.timeout or 3)
        remaining = started + world().config.simulated(timeout) - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)
        error = faults.function_error(fault, timeout)
        payload = json.dumps(error).encode()
    if error is not None:
        # AWS: HTTP 200, X-Amz-Function-Error: Unhandled, body {"errorType","errorMessage"}; Step Functions then
        # names the failure after errorType, which is what the state machine's Retry/Catch match.
        response_headers["x-amz-function-error"] = "Unhandled"
    if request_headers.get("x-amz-log-type", "").lower() == "tail":
        response_headers["x-amz-log-result"] = base64.b64encode(b"").decode()
    return payload


@once
def install() -> None:
    replace(LambdaFunction, "invoke", _patched_invoke)  # the real executables, not moto's Docker
