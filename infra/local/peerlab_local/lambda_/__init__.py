"""Lambda: invocations run the project's real function executables under a local Lambda Runtime API
(runtime.py), as their execution role. (`lambda_`: `lambda` is a Python keyword.)"""

from __future__ import annotations

from peerlab_local.lambda_ import runtime

INSTALLS = (runtime.install,)


def install() -> None:
    for install_one in INSTALLS:
        install_one()
