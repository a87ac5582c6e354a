"""`python -m peerlab_local --port PORT ...`: start the local AWS on 127.0.0.1 (see infra/local/start)."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading


def _sfn_calls_loopback() -> None:
    """moto's Step Functions engine calls services at http://localhost:PORT; make that 127.0.0.1 explicitly."""
    from moto.stepfunctions.parser.asl.utils import boto_client

    def boto_client_for(region, service, state_credentials=None):
        kwargs = {}
        if not botocore_stubber.enabled:  # noqa: F821 - resolved in boto_client's globals
            kwargs["endpoint_url"] = f"http://127.0.0.1:{moto_server_port()}"  # noqa: F821
        # the execution role's session (identities.py); the engine's admin key "ak" until that is installed
        credentials = _peerlab_credentials(state_credentials, region)  # noqa: F821
        return boto3.client(  # noqa: F821
            **credentials, region_name=region, service_name=service,
            config=Config(parameter_validation=False,  # noqa: F821
                          retries={"max_attempts": 0, "total_max_attempts": 1},
                          connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,  # noqa: F821
                          read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS),  # noqa: F821
            **kwargs)

    boto_client._peerlab_credentials = lambda state_credentials, region: {"aws_access_key_id": "ak",
                                                                          "aws_secret_access_key": "sk"}
    boto_client.boto_client_for.__code__ = boto_client_for.__code__


def main(argv: list[str] | None = None) -> int:
    from .config import Config, parser

    args = parser().parse_args(argv)
    from werkzeug.serving import make_server

    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"  # AmazonSSMManagedInstanceCore must exist to attach it
    logging.getLogger("werkzeug").setLevel(logging.INFO if args.verbose else logging.WARNING)
    # moto's Step Functions engine logs every failed state (a NotReady retry included) with its whole AST; the
    # execution history has the same facts
    logging.getLogger("moto.stepfunctions").setLevel(logging.DEBUG if args.verbose else logging.CRITICAL)
    from moto.core.config import default_user_config
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from . import world as world_module

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
                    median_delays=args.median_delays, fault_kinds=args.fault_kinds)
    world_module.install(config)

    from . import ec2_patches, events, iam_propagation, lambda_bridge
    from .server import Middleware

    ec2_patches.install()
    iam_propagation.install()
    from . import zones

    zones.install()  # after ec2_patches: wraps its RunInstances/CreateVpcEndpoint checks
    lambda_bridge.install()
    events.install()
    from . import cfn_resources

    cfn_resources.install()  # the local CloudFormation: complete models for the template's types, refuse the rest
    from . import cfn_capabilities

    cfn_capabilities.install()  # CreateStack/CreateChangeSet/UpdateStack ask for CAPABILITY_(NAMED_)IAM as AWS does
    _sfn_calls_loopback()
    from . import sfn_stop, sfn_time

    try:
        sfn_time.install()  # Wait/Retry/timeouts of Step Functions last --time-scale x their AWS time
        sfn_stop.install()  # StopExecution ends ABORTED, even when a running state fails after it
    except (sfn_time.MotoChanged, sfn_stop.MotoChanged) as exc:
        print(f"infra/local/start: {exc}", file=sys.stderr)
        return 1
    from . import scheduler

    scheduler.install()  # EventBridge Scheduler runs its schedules (a thread; stopped below)
    from . import identities

    identities.install()  # tasks, logs, traces signed as the role AWS uses (after lambda_bridge and events)
    default_user_config["stepfunctions"]["execute_state_machine"] = True
    default_user_config["lambda"]["use_docker"] = True  # our patched invoke runs the real executables

    from . import iam_enforce

    iam_enforce.install(args.iam)  # --iam enforce: role sessions' calls evaluated against their policies
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
        lambda_bridge.POOLS.stop_all()
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
