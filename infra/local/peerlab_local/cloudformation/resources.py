"""The local CloudFormation: what infra/template.yaml (after the SAM transform) needs of moto's, and a refusal of the
rest.

moto 5.2.5's CloudFormation skips a resource type it has no model for (a log warning, the stack still ends
CREATE_COMPLETE) and drops properties its models do not read (an IAM role's ManagedPolicyArns, a state machine's
DefinitionS3Location and DefinitionSubstitutions, a function's Architectures). Here:
- `SUPPORTED` lists, per resource type, the properties the local AWS honours and those it stores without effect;
  CreateStack, CreateChangeSet and UpdateStack refuse any other type or property with a `ValidationError` naming the
  resource, its type and the property — before anything is created, as AWS refuses a template it cannot process
  ("Template format error: Unrecognized resource types: [...]", CloudFormation user guide, "Troubleshooting").
  A template still carrying `Transform:` is refused too: the local CloudFormation runs no macros;
  peerlab_local.tools.stack applies the SAM transform first (aws-sam-translator, the SAM CLI's library).
- the models that ignored properties get complete create/update/delete (IAM role and instance profile, log group,
  Lambda function, Step Functions state machine) and AWS::Scheduler::Schedule gets a model;
- ExecuteChangeSet leaves the stack with its template, description and outputs (moto kept the empty template of a
  new change-set stack, so it had no outputs), and a failure of a resource ends the stack CREATE_FAILED /
  UPDATE_FAILED with the reason, instead of an HTTP 500 and a stack left "in progress".

Property semantics are the CloudFormation resource reference's (docs.aws.amazon.com/AWSCloudFormation/latest/
TemplateReference/aws-resource-<service>-<type>.html); what needs replacement vs an update in place is from the
"Update requires" line of each property there.
"""

from __future__ import annotations

import json
import re
import traceback
from typing import Any

from moto.awslambda.models import LambdaFunction
from moto.cloudformation import parsing
from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import CloudFormationBackend, Stack
from moto.core.common_models import CloudFormationModel
from moto.iam.models import InstanceProfile, Role, iam_backends
from moto.logs.models import LogGroup, logs_backends
from moto.s3.models import s3_backends
from moto.scheduler.exceptions import ScheduleGroupNotFound, ScheduleNotFound
from moto.scheduler.models import scheduler_backends
from moto.stepfunctions.models import StateMachine
from moto.stepfunctions.responses import get_backend as stepfunctions_backend
from moto.utilities.utils import get_partition

from peerlab_local.core.patching import once, replace, wrap
from peerlab_local.lambda_.runtime import POOLS

# type -> (properties honoured, properties accepted and stored but without effect locally). Anything else fails.
SUPPORTED: dict[str, tuple[set[str], set[str]]] = {
    "AWS::IAM::Role": ({"AssumeRolePolicyDocument", "Description", "ManagedPolicyArns", "MaxSessionDuration", "Path",
                        "Policies", "RoleName", "Tags"}, set()),
    "AWS::IAM::InstanceProfile": ({"InstanceProfileName", "Path", "Roles"}, set()),
    "AWS::Logs::LogGroup": ({"LogGroupName", "RetentionInDays", "Tags"}, set()),
    # TracingConfig: no X-Ray locally; LoggingConfig: a function's log goes to --log-dir, not CloudWatch Logs.
    "AWS::Lambda::Function": ({"Architectures", "Code", "Description", "Environment", "FunctionName", "Handler",
                               "MemorySize", "Role", "Runtime", "Tags", "Timeout"},
                              {"LoggingConfig", "TracingConfig"}),
    # LoggingConfiguration / TracingConfiguration are stored (DescribeStateMachine shows them); no log delivery.
    "AWS::StepFunctions::StateMachine": ({"Definition", "DefinitionS3Location", "DefinitionString",
                                          "DefinitionSubstitutions", "RoleArn", "StateMachineName",
                                          "StateMachineType", "Tags"},
                                         {"LoggingConfiguration", "TracingConfiguration"}),
    # Rules with an EventPattern deliver to state machines (events.py); a target's RetryPolicy is stored.
    "AWS::Events::Rule": ({"Description", "EventBusName", "EventPattern", "Name", "RoleArn", "ScheduleExpression",
                           "State", "Targets"}, set()),
    "AWS::Scheduler::Schedule": ({"ActionAfterCompletion", "Description", "EndDate", "FlexibleTimeWindow",
                                  "GroupName", "KmsKeyArn", "Name", "ScheduleExpression",
                                  "ScheduleExpressionTimezone", "StartDate", "State", "Target"}, set()),
}


def problems(template: dict[str, Any]) -> list[str]:
    """What in `template` the local CloudFormation cannot deploy, one sentence each (empty: all of it can)."""
    found = []
    transform = template.get("Transform")
    if transform:
        found.append(f"Transform {transform} is not run by the local CloudFormation (deploy with "
                     f"`python -m peerlab_local.tools.stack deploy`, which applies the SAM transform first)")
    for logical_id, resource in (template.get("Resources") or {}).items():
        kind = resource.get("Type", "")
        if kind not in SUPPORTED:
            found.append(f"resource {logical_id}: type {kind} is not supported")
            continue
        honoured, no_effect = SUPPORTED[kind]
        for prop in sorted(set(resource.get("Properties") or {}) - honoured - no_effect):
            found.append(f"resource {logical_id} ({kind}): property {prop} is not supported")
    return found


def validate(template_body: Any) -> None:
    if not template_body:
        return
    template = Stack.parse_template(template_body) if isinstance(template_body, str) else template_body
    found = problems(template or {})
    if found:
        raise ValidationError(message="Template error: the local AWS cannot deploy this template: "
                                      + "; ".join(found))


# ---- IAM ---------------------------------------------------------------------------------------------------------

def _iam(account_id: str, region_name: str):
    return iam_backends[account_id][get_partition(region_name)]


def _document(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _tag_list(tags: Any) -> list[dict[str, str]]:
    if isinstance(tags, dict):
        return [{"Key": k, "Value": v} for k, v in tags.items()]
    return list(tags or [])


def _put_inline(iam, role_name: str, policy_name: str, document: Any) -> None:
    """PutRolePolicy, with IAM's validation. A document without Version is valid on AWS ("If you do not include a
    Version element, the value defaults to 2008-10-17", IAM JSON policy reference, "Version"); the policies the SAM
    transform writes for its event roles have none, and moto's validator refuses that, so those are stored as is."""
    text = _document(document)
    parsed = json.loads(text)
    if "Version" not in parsed:
        iam.get_role(role_name).put_policy(policy_name, text)
        return
    iam.put_role_policy(role_name, policy_name, text)


def _role_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    props = cloudformation_json["Properties"]
    iam = _iam(account_id, region_name)
    role = iam.create_role(
        role_name=props.get("RoleName", resource_name),
        assume_role_policy_document=_document(props["AssumeRolePolicyDocument"]),
        path=props.get("Path", "/"), permissions_boundary="", description=props.get("Description", ""),
        tags=_tag_list(props.get("Tags")), max_session_duration=props.get("MaxSessionDuration", 3600))
    for policy in props.get("Policies", []):
        _put_inline(iam, role.name, policy["PolicyName"], policy["PolicyDocument"])
    for arn in props.get("ManagedPolicyArns", []):
        iam.attach_role_policy(arn, role.name)
    return role


def _role_update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
    props = cloudformation_json["Properties"]
    iam = _iam(account_id, region_name)
    name = props.get("RoleName", original_resource.name)
    if name != original_resource.name or props.get("Path", "/") != original_resource.path:
        # RoleName, Path: "Update requires: Replacement"
        new = _role_create(cls, new_resource_name, cloudformation_json, account_id, region_name)
        cls.delete_from_cloudformation_json(original_resource.name, cloudformation_json, account_id, region_name)
        return new
    role = original_resource
    iam.update_assume_role_policy(name, _document(props["AssumeRolePolicyDocument"]))
    iam.update_role(name, props.get("Description", ""), props.get("MaxSessionDuration", 3600))
    wanted = {p["PolicyName"]: _document(p["PolicyDocument"]) for p in props.get("Policies", [])}
    for policy_name in list(role.policies):
        if policy_name not in wanted:
            iam.delete_role_policy(name, policy_name)
    for policy_name, document in wanted.items():
        _put_inline(iam, name, policy_name, document)
    attached = set(role.managed_policies)
    wanted_arns = set(props.get("ManagedPolicyArns", []))
    for arn in attached - wanted_arns:
        iam.detach_role_policy(arn, name)
    for arn in wanted_arns - attached:
        iam.attach_role_policy(arn, name)
    return role


def _role_delete(original, cls, resource_name, cloudformation_json, account_id, region_name):
    """CloudFormation detaches the managed policies a role got from ManagedPolicyArns; IAM refuses to delete a role
    with attached policies (DeleteConflict), which moto's delete left to happen."""
    iam = _iam(account_id, region_name)
    for role in list(iam.roles.values()):
        if role.name == resource_name:
            for arn in list(role.managed_policies):
                iam.detach_role_policy(arn, resource_name)
    original(cls, resource_name, cloudformation_json, account_id, region_name)


def _profile_update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
    props = cloudformation_json["Properties"]
    iam = _iam(account_id, region_name)
    if props.get("InstanceProfileName", original_resource.name) != original_resource.name or \
            props.get("Path", "/") != original_resource.path:
        new = cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)
        cls.delete_from_cloudformation_json(original_resource.name, cloudformation_json, account_id, region_name)
        return new
    current = {r.name for r in original_resource.roles}
    wanted = set(props.get("Roles", []))
    for role in current - wanted:
        iam.remove_role_from_instance_profile(original_resource.name, role)
    for role in wanted - current:
        iam.add_role_to_instance_profile(original_resource.name, role)
    return original_resource


def _profile_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    props = cloudformation_json["Properties"]
    return _iam(account_id, region_name).create_instance_profile(
        name=props.get("InstanceProfileName", resource_name), path=props.get("Path", "/"),
        role_names=props.get("Roles", []))


# ---- CloudWatch Logs ---------------------------------------------------------------------------------------------

def _log_group_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    props = cloudformation_json["Properties"]
    tags = {t["Key"]: t["Value"] for t in props.get("Tags", [])}
    group = logs_backends[account_id][region_name].create_log_group(props.get("LogGroupName", resource_name), tags)
    if props.get("RetentionInDays") is not None:
        # an integer, as moto's own PutRetentionPolicy passes it (its annotation says str)
        group.set_retention_policy(int(props["RetentionInDays"]))  # type: ignore[arg-type]
    return group


def _log_group_attribute(original, self, attribute_name: str) -> str:
    """GetAtt Arn of a log group ends in ":*" on AWS (AWS::Logs::LogGroup return values: "arn:aws:logs:us-west-1:
    123456789012:log-group:/mystack-testgroup-12ABC1AHYI2HK:*"; Step Functions' CloudWatchLogsLogGroup.logGroupArn
    "must end with :*", and the template passes it there). moto gave the bare group ARN, which a policy's Resource
    then fails to match on the group's log streams (logs:CreateLogStream/PutLogEvents, identities.py)."""
    if attribute_name == "Arn":
        return f"{self.arn}:*"
    return original(self, attribute_name)


def _log_group_update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
    props = cloudformation_json["Properties"]
    if props.get("LogGroupName", original_resource.name) != original_resource.name:  # Replacement
        new = _log_group_create(cls, new_resource_name, cloudformation_json, account_id, region_name)
        original_resource.delete(account_id, region_name)
        return new
    retention = props.get("RetentionInDays")
    original_resource.set_retention_policy(int(retention) if retention is not None else None)
    return original_resource


# ---- Lambda ------------------------------------------------------------------------------------------------------

def _function_extras(fn: LambdaFunction, props: dict[str, Any]) -> LambdaFunction:
    """What moto's create/update from a template dropped: Architectures, Tags, and the stored-only configs."""
    if "Architectures" in props:
        fn.architectures = list(props["Architectures"])
    if "Tags" in props:
        fn.tags = {t["Key"]: t["Value"] for t in _tag_list(props["Tags"])}
    fn.tracing_config = props.get("TracingConfig") or {"Mode": "PassThrough"}
    fn.peerlab_logging_config = props.get("LoggingConfig")  # type: ignore[attr-defined]  # read by get_configuration
    return fn


def _function_create(original, cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    props = cloudformation_json["Properties"]
    fn = original(cls, props.get("FunctionName", resource_name), cloudformation_json, account_id,
                               region_name, **kwargs)
    return _function_extras(fn, props)


def _function_update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
    props = cloudformation_json["Properties"]
    if props.get("FunctionName", original_resource.function_name) != original_resource.function_name:
        new = cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)
        original_resource.delete(account_id, region_name)
        return new
    config = {k: v for k, v in props.items() if k != "Code"}
    config.setdefault("Environment", {"Variables": {}})
    original_resource.update_configuration(config)
    original_resource.update_function_code(dict(props["Code"]))
    _retire_warm_environments(original_resource)
    return _function_extras(original_resource, props)


def _retire_warm_environments(fn: LambdaFunction) -> None:
    """After an update, invocations run the new code and configuration, not a warm process of the old binary or
    environment variables: an execution environment is initialised with one version of the function's code and
    configuration (Lambda developer guide, "Understanding the Lambda execution environment lifecycle"; paraphrase)."""
    with POOLS._lock:
        idle = POOLS._idle.pop(fn.function_arn, [])
    for env in idle:
        env.stop()


def _function_configuration(original, self, *args, **kwargs):
    config = original(self, *args, **kwargs)
    logging = getattr(self, "peerlab_logging_config", None)
    if logging:
        config["LoggingConfig"] = logging
    return config


# ---- Step Functions ----------------------------------------------------------------------------------------------

def _definition(props: dict[str, Any], account_id: str, region_name: str) -> str:
    """The definition as AWS builds it: Definition (an object), DefinitionString, or the file at
    DefinitionS3Location, with each ${key} of DefinitionSubstitutions replaced by its value."""
    if "Definition" in props:
        text = json.dumps(props["Definition"])
    elif "DefinitionS3Location" in props:
        where = props["DefinitionS3Location"]
        key = s3_backends[account_id][get_partition(region_name)].get_object(where["Bucket"], where["Key"],
                                                                            where.get("Version"))
        if key is None:
            raise ValidationError(message=f"DefinitionS3Location s3://{where['Bucket']}/{where['Key']} not found")
        text = key.value.decode()
    else:
        text = props.get("DefinitionString", "")
    substitutions = {k: str(v) for k, v in (props.get("DefinitionSubstitutions") or {}).items()}
    return re.sub(r"\$\{([^}]+)\}", lambda m: substitutions.get(m.group(1), m.group(0)), text)


def _logging_configuration(cfn: dict[str, Any] | None) -> dict[str, Any] | None:
    if not cfn:
        return None
    return {"level": cfn.get("Level", "OFF"), "includeExecutionData": bool(cfn.get("IncludeExecutionData", False)),
            "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": d["CloudWatchLogsLogGroup"]["LogGroupArn"]}}
                             for d in cfn.get("Destinations", [])]}


def _tracing_configuration(cfn: dict[str, Any] | None) -> dict[str, Any] | None:
    return {"enabled": bool(cfn.get("Enabled", False))} if cfn else None


def _state_machine_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    props = cloudformation_json["Properties"]
    # the backend the API uses: with execute_state_machine on, moto's Step Functions parser (moto's own model
    # created the machine in the other backend, where StartExecution never finds it)
    backend = stepfunctions_backend(account_id, region_name)
    tags = [{"key": t["Key"], "value": t["Value"]} for t in _tag_list(props.get("Tags"))]
    return backend.create_state_machine(
        props.get("StateMachineName", resource_name), _definition(props, account_id, region_name),
        props.get("RoleArn", ""), tags=tags,
        loggingConfiguration=_logging_configuration(props.get("LoggingConfiguration")),
        tracingConfiguration=_tracing_configuration(props.get("TracingConfiguration")),
        sm_type=props.get("StateMachineType", "STANDARD"))


def _state_machine_update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
    props = cloudformation_json["Properties"]
    backend = stepfunctions_backend(account_id, region_name)
    name = props.get("StateMachineName", original_resource.name)
    kind = props.get("StateMachineType", "STANDARD")
    if name != original_resource.name or kind != (getattr(original_resource, "type", None) or "STANDARD"):
        # StateMachineName, StateMachineType: "Update requires: Replacement"
        new = _state_machine_create(cls, name if "StateMachineName" in props else new_resource_name,
                                    cloudformation_json, account_id, region_name)
        backend.delete_state_machine(original_resource.arn)
        return new
    return backend.update_state_machine(
        original_resource.arn, definition=_definition(props, account_id, region_name),
        role_arn=props.get("RoleArn", original_resource.roleArn),
        logging_configuration=_logging_configuration(props.get("LoggingConfiguration")),
        tracing_configuration=_tracing_configuration(props.get("TracingConfiguration")))


def _state_machine_delete(cls, resource_name, cloudformation_json, account_id, region_name):
    stepfunctions_backend(account_id, region_name).delete_state_machine(resource_name)  # the ARN (physical id)


# ---- EventBridge Scheduler ---------------------------------------------------------------------------------------

class ScheduleResource(CloudFormationModel):
    """AWS::Scheduler::Schedule through moto's Scheduler backend (its public create/update/delete, so whatever the
    local AWS adds to schedules applies to these too). Ref is the schedule's name, GetAtt Arn its ARN (resource
    reference: "Ref returns the schedule name")."""

    def __init__(self, schedule, group_name: str):
        self.schedule = schedule
        self.group_name = group_name

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Scheduler::Schedule"

    @property
    def physical_resource_id(self) -> str:
        return self.schedule.name

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        if attribute_name == "Arn":
            return self.schedule.arn
        raise UnformattedGetAttTemplateException()

    @staticmethod
    def _arguments(resource_name: str, props: dict[str, Any]) -> dict[str, Any]:
        return dict(description=props.get("Description"), end_date=props.get("EndDate"),
                    flexible_time_window=props["FlexibleTimeWindow"], group_name=props.get("GroupName"),
                    kms_key_arn=props.get("KmsKeyArn"), name=props.get("Name", resource_name),
                    schedule_expression=props["ScheduleExpression"],
                    schedule_expression_timezone=props.get("ScheduleExpressionTimezone"),
                    start_date=props.get("StartDate"), state=props.get("State", "ENABLED"),
                    target=dict(props["Target"]))

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json["Properties"]
        backend = scheduler_backends[account_id][region_name]
        schedule = backend.create_schedule(**cls._arguments(resource_name, props),
                                           action_after_completion=props.get("ActionAfterCompletion"))
        return cls(schedule, props.get("GroupName") or "default")

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id,
                                        region_name):
        props = cloudformation_json["Properties"]
        backend = scheduler_backends[account_id][region_name]
        if props.get("Name", original_resource.schedule.name) != original_resource.schedule.name or \
                (props.get("GroupName") or "default") != original_resource.group_name:  # Replacement
            new = cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)
            original_resource.delete(account_id, region_name)
            return new
        arguments = cls._arguments(original_resource.schedule.name, props)
        arguments["group_name"] = original_resource.group_name
        schedule = backend.update_schedule(**arguments)
        schedule.action_after_completion = props.get("ActionAfterCompletion")
        original_resource.schedule = schedule
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        backend = scheduler_backends[account_id][region_name]
        try:
            backend.delete_schedule(self.group_name, self.schedule.name)
        except (ScheduleNotFound, ScheduleGroupNotFound):
            pass  # already gone (ActionAfterCompletion DELETE after a one-off fired): a delete of nothing succeeds

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        backend = scheduler_backends[account_id][region_name]
        backend.delete_schedule(cloudformation_json["Properties"].get("GroupName"), resource_name)


# ---- the stack ---------------------------------------------------------------------------------------------------

def _create_stack(original, self: CloudFormationBackend, name, template, *args, **kwargs):
    validate(template)
    return original(self, name, template, *args, **kwargs)


def _create_change_set(original, self: CloudFormationBackend, stack_name, change_set_name, template, *args,
                       **kwargs):
    validate(template)
    change_set_id, stack_id = original(self, stack_name, change_set_name, template, *args, **kwargs)
    _list_what_will_change(self, self.change_sets[change_set_id])
    return change_set_id, stack_id


def _list_what_will_change(backend: CloudFormationBackend, change_set) -> None:
    """The change set's Changes as CloudFormation lists them: resources whose Condition is false are not added
    (and are removed if they exist), and a resource whose properties refer to a changed parameter is modified.
    moto listed a plain template diff (a false-condition resource as Add, a parameter-only change not at all)."""
    from moto.cloudformation.models import Change

    stack = change_set.stack
    template = change_set.template_dict
    try:
        probe = parsing.ResourceMap(stack.stack_id, stack.name, dict(change_set.parameters or {}), {},
                                    region_name=backend.region_name, account_id=backend.account_id,
                                    template=template, cross_stack_resources=backend.exports)
        probe.load()
    except Exception:  # the parameters or conditions do not resolve: ExecuteChangeSet will say so
        return
    resources = template.get("Resources") or {}
    existing = {k for k, v in stack.resource_map._parsed_resources.items() if hasattr(v, "logical_resource_id")}
    wanted = {k for k, r in resources.items() if not r.get("Condition") or probe.lazy_condition_map[r["Condition"]]}
    modified = set(stack.resource_map.build_resource_diff(template, change_set.parameters)["Modify"]) \
        if existing else set()
    old_types = {k: r.get("Type", "") for k, r in stack.resource_map._resource_json_map.items()}
    changes = [Change("Add", k, resources[k]["Type"]) for k in resources if k in wanted and k not in existing]
    changes += [Change("Modify", k, resources[k]["Type"]) for k in resources
                if k in wanted and k in existing and k in modified]
    changes += [Change("Remove", k, old_types.get(k, "")) for k in sorted(existing - wanted)]
    change_set.changes = changes


def _update_stack(original, self: CloudFormationBackend, name, template, *args, **kwargs):
    validate(template)
    return original(self, name, template, *args, **kwargs)


def _find_change_set(backend: CloudFormationBackend, name: str):
    if name in backend.change_sets:
        return backend.change_sets[name]
    return next((cs for cs in backend.change_sets.values() if cs.change_set_name == name), None)


def _execute_change_set(original, self: CloudFormationBackend, change_set_name, stack_name=None):
    change_set = _find_change_set(self, change_set_name)
    if change_set is None or change_set.execution_status != "AVAILABLE":
        # AWS: only a change set whose ExecutionStatus is AVAILABLE can be executed (ExecuteChangeSet reference,
        # InvalidChangeSetStatus)
        raise ValidationError(message=f"ChangeSet [{change_set_name}] cannot be executed in its current status of "
                                      f"[{getattr(change_set, 'execution_status', 'UNKNOWN')}]")
    stack = self.stacks[change_set.stack_id]
    kind = change_set.change_set_type
    try:
        original(self, change_set_name, stack_name)
    except Exception as err:  # a resource failed: the stack says so (no rollback is simulated)
        traceback.print_exc()  # the local AWS's stderr: where a failing model is debugged
        change_set.execution_status = "EXECUTE_FAILED"
        stack.status = f"{kind}_FAILED"
        reason = f"{type(err).__name__}: {err}"  # in the stack's events (moto's Stack has no status reason)
        stack._add_stack_event(f"{kind}_FAILED", resource_status_reason=reason)
        return
    _delete_resources_whose_condition_turned_false(stack)
    stack.template = change_set.template
    stack.parameters = change_set.parameters  # what the next change set is compared with ("no changes")
    stack._parse_template()
    stack.description = stack.template_dict.get("Description")
    stack.output_map = stack._create_output_map()
    for export in stack.exports:
        self.exports[export.name] = export


def _delete_resources_whose_condition_turned_false(stack: Stack) -> None:
    """An update that makes a resource's Condition false deletes the resource (CloudFormation user guide,
    "Conditions": "resources ... are created or updated only when the condition is true"); moto kept it."""
    resources = stack.resource_map
    for logical_id, resource_json in list(resources._resource_json_map.items()):
        condition = resource_json.get("Condition")
        if condition and not resources.lazy_condition_map[condition] and logical_id in resources._parsed_resources:
            parsed = resources._parsed_resources.pop(logical_id)
            if parsed is not None and not isinstance(parsed, str):
                resources._delete_resource(parsed, resource_json)


def _update_resource(original, logical_id, resource_json, resources_map, account_id, region_name):
    """A resource whose Condition is now false is deleted, not updated (moto updated it, or failed on it)."""
    condition = resource_json.get("Condition")
    if condition and not resources_map.lazy_condition_map[condition]:
        parsed = resources_map._parsed_resources.pop(logical_id, None)
        if parsed is not None and not isinstance(parsed, str):
            resources_map._delete_resource(parsed, resource_json)
        return None
    return original(logical_id, resource_json, resources_map, account_id=account_id, region_name=region_name)


NOT_FOUND = {"ResourceNotFoundException", "NoSuchEntity", "ScheduleNotFound", "StateMachineDoesNotExist",
             "ResourceNotFound"}


def _delete_resource(original, self, parsed_resource, resource_json):
    """A resource already deleted outside the stack counts as deleted: stack deletion completes (CloudFormation
    resource handler contract: a delete of a resource that does not exist answers NotFound, which CloudFormation
    takes as deleted). moto failed the whole DeleteStack (HTTP 500) on, e.g., a log group deleted by hand."""
    try:
        original(self, parsed_resource, resource_json)
    except Exception as err:
        if getattr(err, "error_type", type(err).__name__) not in NOT_FOUND:
            raise


def _stack_resources(self) -> list:
    """A resource whose Condition is false does not exist: DescribeStackResources listed it as an empty entry."""
    return [r for r in self.resource_map.values() if hasattr(r, "logical_resource_id")]


@once
def install() -> None:
    for cls, create, update in ((Role, _role_create, _role_update), (InstanceProfile, _profile_create,
                                _profile_update), (LogGroup, _log_group_create, _log_group_update),
                                (StateMachine, _state_machine_create, _state_machine_update)):
        replace(cls, "create_from_cloudformation_json", classmethod(create))
        replace(cls, "update_from_cloudformation_json", classmethod(update))
    wrap(LambdaFunction, "create_from_cloudformation_json")(_function_create)  # moto's, then what it dropped
    replace(LambdaFunction, "update_from_cloudformation_json", classmethod(_function_update))
    wrap(Role, "delete_from_cloudformation_json")(_role_delete)
    replace(StateMachine, "delete_from_cloudformation_json", classmethod(_state_machine_delete))
    wrap(LambdaFunction, "get_configuration")(_function_configuration)
    wrap(LogGroup, "get_cfn_attribute")(_log_group_attribute)
    wrap(CloudFormationBackend, "create_stack")(_create_stack)
    wrap(CloudFormationBackend, "create_change_set")(_create_change_set)
    wrap(CloudFormationBackend, "update_stack")(_update_stack)
    wrap(CloudFormationBackend, "execute_change_set")(_execute_change_set)
    replace(Stack, "stack_resources", property(_stack_resources))
    wrap(parsing.ResourceMap, "_delete_resource")(_delete_resource)
    wrap(parsing, "parse_and_update_resource")(_update_resource)
    # the model map is built once from CloudFormationModel's subclasses: rebuild it with ScheduleResource
    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()
