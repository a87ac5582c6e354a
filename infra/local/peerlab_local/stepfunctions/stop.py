"""A stopped execution stays stopped: StopExecution ends an execution ABORTED, whatever its states do next.

AWS: "Stops an execution... the execution status is ABORTED" (Step Functions API reference, StopExecution). moto's
interpreter marks the program stopped, but a state still running when the stop arrives (a Task in a Parallel
branch, a Retry) then ends with its error, and `Environment.set_error` overwrote the stop: the execution ended
FAILED, its Catch ran, and the EventBridge event said FAILED instead of ABORTED. Here an error, a time-out or an
end that comes after the stop leaves the stop in place."""

from __future__ import annotations

from peerlab_local.core.patching import MotoChanged, once, wrap


def _keep_stopped(original, self, *args, **kwargs):
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped

    with self._state_mutex:
        if isinstance(self._program_state, ProgramStopped):
            return None
    return original(self, *args, **kwargs)


@once
def install() -> None:
    try:
        from moto.stepfunctions.parser.asl.eval import environment
        from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped  # noqa: F401 - must exist
    except ImportError as exc:
        raise MotoChanged(f"a stopped execution cannot be kept ABORTED: {exc} (moto changed?)") from exc
    for name in ("set_error", "set_timed_out", "set_ended"):
        wrap(environment.Environment, name)(_keep_stopped)
