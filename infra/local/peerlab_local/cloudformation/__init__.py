"""CloudFormation: complete models for the resource types infra/template.yaml uses and a refusal of the rest
(resources.py), and the IAM capabilities AWS asks for (capabilities.py)."""

from __future__ import annotations

from peerlab_local.cloudformation import capabilities, resources

INSTALLS = (resources.install, capabilities.install)


def install() -> None:
    for install_one in INSTALLS:
        install_one()
