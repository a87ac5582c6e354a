"""Service Quotas: the quotas the local AWS models, their AWS defaults and applied values (--quota), and
GetServiceQuota / GetAWSDefaultServiceQuota (quotas.py). EC2 enforces them (ec2/quotas.py)."""

from __future__ import annotations

from peerlab_local.servicequotas import quotas

INSTALLS = (quotas.install,)


def install() -> None:
    for install_one in INSTALLS:
        install_one()
