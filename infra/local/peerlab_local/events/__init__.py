"""EventBridge: rules that start Step Functions targets on execution status changes (rules.py), and EventBridge
Scheduler that validates and fires its schedules (scheduler.py, schedule_expr.py)."""

from __future__ import annotations

from peerlab_local.events import rules, scheduler

INSTALLS = (rules.install, scheduler.install)


def install() -> None:
    for install_one in INSTALLS:
        install_one()
