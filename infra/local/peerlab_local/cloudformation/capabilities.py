"""The local CloudFormation asks for the capabilities AWS asks for (moto 5.2.5 ignored `Capabilities`).

CloudFormation API reference, CreateStack / CreateChangeSet / UpdateStack, `Capabilities`: "If you have IAM resources,
you can specify either capability [CAPABILITY_IAM or CAPABILITY_NAMED_IAM]. If you have IAM resources with custom
names, you must specify CAPABILITY_NAMED_IAM. If you don't specify either of these capabilities, CloudFormation
returns an InsufficientCapabilities error" — for the resource types AWS::IAM::AccessKey, Group, InstanceProfile,
ManagedPolicy, Policy, Role, User, UserToGroupAddition. The error is `InsufficientCapabilitiesException` (HTTP 400,
botocore's CloudFormation model) with the message "Requires capabilities : [CAPABILITY_NAMED_IAM]" (as the
CloudFormation CLI prints it, e.g. "An error occurred (InsufficientCapabilitiesException) when calling the
CreateChangeSet operation: Requires capabilities : [CAPABILITY_NAMED_IAM]"). So infra/peer-account.yaml, whose
role has a RoleName, deploys only with CAPABILITY_NAMED_IAM, as with `aws cloudformation deploy` on AWS.
A template still carrying a Transform is refused by cfn_resources.validate (no macros run here), so
CAPABILITY_AUTO_EXPAND is not asked for.
"""

from __future__ import annotations

from moto.cloudformation.exceptions import CloudFormationError
from moto.cloudformation.models import Stack
from moto.cloudformation.responses import CloudFormationResponse

from peerlab_local.core.patching import once, wrap

IAM_TYPES = {"AWS::IAM::AccessKey", "AWS::IAM::Group", "AWS::IAM::InstanceProfile", "AWS::IAM::ManagedPolicy",
             "AWS::IAM::Policy", "AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::UserToGroupAddition"}
# the properties that give an IAM resource a custom name (each type's page of the CloudFormation resource reference)
NAME_PROPERTIES = {"AWS::IAM::Group": "GroupName", "AWS::IAM::InstanceProfile": "InstanceProfileName",
                   "AWS::IAM::ManagedPolicy": "ManagedPolicyName", "AWS::IAM::Role": "RoleName",
                   "AWS::IAM::User": "UserName"}


class InsufficientCapabilities(CloudFormationError):
    code = "InsufficientCapabilitiesException"


def required(template: dict) -> str | None:
    """The capability a template needs: "CAPABILITY_NAMED_IAM", "CAPABILITY_IAM" or None."""
    need = None
    for resource in (template.get("Resources") or {}).values():
        kind = resource.get("Type") if isinstance(resource, dict) else None
        if kind not in IAM_TYPES:
            continue
        name = NAME_PROPERTIES.get(kind)
        if name and name in (resource.get("Properties") or {}):
            return "CAPABILITY_NAMED_IAM"
        need = "CAPABILITY_IAM"
    return need


def check(template_body, capabilities: list[str]) -> None:
    if not template_body:
        return
    try:
        template = Stack.parse_template(template_body) if isinstance(template_body, str) else template_body
    except Exception:  # noqa: BLE001 - a template that does not parse is refused elsewhere, with its own message
        return
    need = required(template or {})
    if need is None:
        return
    given = set(capabilities or [])
    if need == "CAPABILITY_NAMED_IAM" and "CAPABILITY_NAMED_IAM" not in given or \
            need == "CAPABILITY_IAM" and not given & {"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"}:
        raise InsufficientCapabilities(f"Requires capabilities : [{need}]")


def _checked(original, response):
    body = response._get_param("TemplateBody")
    if not body and response._get_param("TemplateURL"):
        body = response._get_stack_from_s3_url(response._get_param("TemplateURL"))
    check(body, response._get_param("Capabilities", []) or [])
    return original(response)


@once
def install() -> None:
    for name in ("create_stack", "create_change_set", "update_stack"):
        wrap(CloudFormationResponse, name)(_checked)
