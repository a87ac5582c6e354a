"""Step Functions as AWS runs it, on moto's interpreter: Lambda errors named as AWS names them (lambda_errors.py),
waits and timeouts on the local AWS's time scale (timing.py), StopExecution that stays stopped (stop.py), the
states:startExecution(.sync:2) integration (sync.py), StartExecution's name rules (names.py), what States.ALL
does not catch (errors.py), the 256 KiB payload quota (limits.py) and definitions AWS refuses
(definition.py)."""

from __future__ import annotations

from peerlab_local.stepfunctions import definition, errors, lambda_errors, limits, names, stop, sync, timing

INSTALLS = (lambda_errors.install, timing.install, stop.install, sync.install, names.install, errors.install,
            limits.install, definition.install)


def install() -> None:
    for install_one in INSTALLS:
        install_one()
