"""A stopped execution stays stopped: StopExecution ends an execution ABORTED, whatever its states do next.

AWS: "Stops an execution... the execution status is ABORTED" (Step Functions API reference, StopExecution). moto's
interpreter marks the program stopped, but a state still running when the stop arrives (a Task in a Parallel
branch, a Retry) then ends with its error, and `Environment.set_error` overwrote the stop: the execution ended
FAILED, its Catch ran, and the EventBridge event said FAILED instead of ABORTED. Here an error, a time-out or an
end that comes after the stop leaves the stop in place."""

from __future__ import annotations


class MotoChanged(RuntimeError):
    """moto no longer has what this module wraps."""


def _keep_stopped(original, stopped_cls):
    def wrapper(self, *args, **kwargs):
        with self._state_mutex:
            if isinstance(self._program_state, stopped_cls):
                return None
        return original(self, *args, **kwargs)

    wrapper.peerlab_sfn_stop = True
    return wrapper


def install() -> None:
    try:
        from moto.stepfunctions.parser.asl.eval import environment
        from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
    except ImportError as exc:
        raise MotoChanged(f"a stopped execution cannot be kept ABORTED: {exc} (moto changed?)") from exc
    env_cls = environment.Environment
    for name in ("set_error", "set_timed_out", "set_ended"):
        if not hasattr(env_cls, name):
            raise MotoChanged(f"a stopped execution cannot be kept ABORTED: Environment has no {name!r}")
    if getattr(env_cls.set_error, "peerlab_sfn_stop", False):
        return
    for name in ("set_error", "set_timed_out", "set_ended"):
        setattr(env_cls, name, _keep_stopped(getattr(env_cls, name), ProgramStopped))
