"""The SSM state of one account in one region, kept as moto keeps its own (a BackendDict: created on first use,
emptied by moto's reset): its Run Command commands and the SSM Agents of its instances."""

from __future__ import annotations

from typing import Any

from moto.core.base_backend import BackendDict, BaseBackend


class SsmError(Exception):
    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class SsmBackend(BaseBackend):
    def __init__(self, region_name: str, account_id: str):
        super().__init__(region_name, account_id)
        # command id -> {"command": SendCommand's Command, "invocations": {instance id: delivery and result}}
        self.commands: dict[str, dict[str, Any]] = {}
        self.agents: dict[str, Any] = {}  # instance id -> its SSM Agent (agent.py)


ssm_backends: BackendDict[SsmBackend] = BackendDict(SsmBackend, "ssm")


def backend_of(instance) -> SsmBackend:
    """The SSM state of the account and region an EC2 instance belongs to."""
    ec2 = instance.ec2_backend
    return ssm_backends[ec2.account_id][ec2.region_name]
