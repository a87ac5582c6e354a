"""`python -m peerlab_local --port PORT ...`: start the local AWS on 127.0.0.1 (see infra/local/start)."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading

from moto.core.config import default_user_config
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from peerlab_local import cloudformation, ec2, events, iam, lambda_, servicequotas, ssm, stepfunctions
from peerlab_local.cli import parser
from peerlab_local.core import dispatch, patching
from peerlab_local.core import world as world_module
from peerlab_local.core.config import Config
from peerlab_local.events import scheduler
from peerlab_local.lambda_ import runtime as lambda_runtime
from peerlab_local.server import Middleware


def install_patches(iam_mode: str = "off") -> None:
    """Every change the local AWS makes to moto (core/patching.py), service by service, each package applying its own
    from its INSTALLS list, in order: later ones wrap earlier ones (EC2's first: SSM hooks into its instances; IAM's
    last: it signs what Lambda, Step Functions and EventBridge do, and judges every call). Raises
    patching.MotoChanged if moto lacks something patched (tests/test_patching.py checks that too)."""
    dispatch.install()  # moto's per-request lookups of its own code, memoized (same answers)
    ec2.install()  # asynchronous states, refusals, zones and offerings, quotas, eventual consistency
    ssm.install()  # an instance's SSM Agent boots when it is running; Run Command is served by the middleware
    servicequotas.install()  # GetServiceQuota / GetAWSDefaultServiceQuota
    lambda_.install()  # invocations run the real executables
    stepfunctions.install()  # Lambda.Unknown, time, stops, .sync:2, names, States.ALL, quota, definitions
    events.install()  # execution status-change events to rules; EventBridge Scheduler validates and fires
    cloudformation.install()  # complete models for the template's types, refuse the rest; IAM capabilities
    iam.install(iam_mode)  # who signs; --iam enforce: role sessions' calls evaluated against their policies


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"  # AmazonSSMManagedInstanceCore must exist to attach it
    logging.getLogger("werkzeug").setLevel(logging.INFO if args.verbose else logging.WARNING)
    # moto's Step Functions engine logs every failed state (a NotReady retry included) with its whole AST; the
    # execution history has the same facts
    logging.getLogger("moto.stepfunctions").setLevel(logging.DEBUG if args.verbose else logging.CRITICAL)
    # Bind first: with --port 0 the real port is known only now, and everything else needs it.
    holder: dict = {}

    def app(environ, start_response):
        return holder["app"](environ, start_response)

    try:
        server = make_server("127.0.0.1", args.port, app, threaded=True)
    except (OSError, SystemExit) as exc:  # werkzeug reports "in use" itself and exits; say it our way
        reason = getattr(exc, "strerror", None) or "address already in use"
        print(f"infra/local/start: cannot listen on 127.0.0.1:{args.port}: {reason}", file=sys.stderr)
        return 1
    port = server.server_port
    os.environ["MOTO_PORT"] = str(port)
    config = Config(port=port, profile=args.profile, time_scale=args.time_scale, fault_rate=args.fault_rate,
                    seed=args.seed, consistency_window=args.consistency_window, lambda_dir=args.lambda_dir,
                    log_dir=args.log_dir, region=args.region, ec2_rate_limits=args.ec2_rate_limits,
                    median_delays=args.median_delays, latency=args.latency, fault_kinds=args.fault_kinds,
                    quotas=tuple(args.quota))
    world_module.install(config)

    try:
        install_patches(args.iam)
    except patching.MotoChanged as exc:
        print(f"infra/local/start: {exc}", file=sys.stderr)
        return 1
    scheduler.start()  # EventBridge Scheduler runs its schedules (a thread; stopped below)
    default_user_config["stepfunctions"]["execute_state_machine"] = True
    default_user_config["lambda"]["use_docker"] = True  # our patched invoke runs the real executables
    holder["app"] = Middleware(DomainDispatcherApplication(create_backend_app))

    stopping = threading.Event()

    def stop(signum, frame):
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"ready http://127.0.0.1:{port}", flush=True)
    try:
        server.serve_forever()
    finally:
        scheduler.stop()
        lambda_runtime.POOLS.stop_all()
        server.server_close()
    return 0


if __name__ == "__main__":
    code = main()
    # Everything of ours is stopped and closed above. A normal interpreter exit would then wait for moto's
    # non-daemon threads and collect its object graph: seconds that every test starting a local AWS pays.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
