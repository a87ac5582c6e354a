"""Lambda: invocations run the project's real function executables under a local Lambda Runtime API
(runtime.py), as their execution role; Invoke's payload quotas (limits.py, with core/validation.py).
(`lambda_`: `lambda` is a Python keyword.)"""

from __future__ import annotations

from peerlab_local.lambda_ import limits, runtime

__all__ = ["limits", "runtime"]  # limits registers its rule on import

INSTALLS = (runtime.install,)


def install() -> None:
    for install_one in INSTALLS:
        install_one()
