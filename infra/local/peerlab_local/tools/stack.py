"""Deploy infra/template.yaml onto a running local AWS the way `sam deploy` deploys it onto AWS, non-interactively.

    python -m peerlab_local.tools.stack deploy --endpoint URL [--stack NAME] [--template infra/template.yaml]
                                         [--parameter K=V ...] [--lambda-dir DIR] [--code local|zip] [--json]
    python -m peerlab_local.tools.stack delete --endpoint URL [--stack NAME]
    python -m peerlab_local.tools.stack outputs --endpoint URL [--stack NAME]     (one JSON object; exit 1 if no stack)
    ... [--account ID [--account-role NAME]]: in another account, as its administrator (below)

What `sam deploy` does, in its order (aws-sam-cli: samcli/commands/deploy, samcli/lib/package/
packageable_resources.py, samcli/lib/deploy/deployer.py):
1. package: each AWS::Serverless::Function's local CodeUri is uploaded to S3 and becomes "s3://bucket/key"; each
   AWS::Serverless::StateMachine's local DefinitionUri becomes {Bucket, Key} (`ServerlessFunctionResource`,
   `ServerlessStateMachineResource`); keys are the artifact's MD5 under a prefix (the stack name, as
   `--resolve-s3` uses it);
2. CreateChangeSet (type CREATE for a new stack, UPDATE otherwise; CAPABILITY_IAM), wait for it; a change set
   "didn't contain changes" means nothing to deploy (sam prints "No changes to deploy" and succeeds);
3. ExecuteChangeSet, wait for CREATE_COMPLETE / UPDATE_COMPLETE, print the stack's outputs.
On AWS, CloudFormation applies the template's `Transform: AWS::Serverless-2016-10-31` itself; the local
CloudFormation runs no macros, so step 2 sends the template already transformed by aws-sam-translator (the SAM
transform's own library, the one the SAM CLI uses for `sam validate`), with managed policy names resolved against
the local IAM (its `ManagedPolicyLoader`, ListPolicies Scope=AWS).

The local AWS runs a function's code in-process (lambda_bridge.py): the `bootstrap` of its zip. `--code local`
(the default) uploads, for each function, a zip whose `bootstrap` is a two-line shell script that execs the
function's binary from the cargo build, `<lambda-dir>/<crate>`, where <crate> is the folder of CodeUri
(`../build/lambda/create-vpc/bootstrap.zip` -> `create-vpc`, the crate and binary name): a custom runtime's
bootstrap may be any executable (Lambda developer guide, "Building a custom runtime"). The Architecture parameter
then defaults to this machine's. `--code zip` uploads the CodeUri zips as they are (`make build ARCH=x86_64`).

`--account ID` deploys into another account (e.g. infra/peer-account.yaml into the peer account of cross-account
labs) as that account's administrator, the way an organization's management account administers a member
account: with the credentials given (the local AWS's administrator of the default account, the management
account) it calls STS AssumeRole on `arn:aws:iam::ID:role/OrganizationAccountAccessRole` (`--account-role` to name
another role) and makes every call of the deploy with that session (Organizations user guide, "Accessing member
accounts in an organization"; the local AWS has that role in every member account: peerlab_local/iam_trust.py).
`--capabilities` acknowledges what the template does, as `sam deploy --capabilities` (default CAPABILITY_IAM; a
template that names its IAM resources, such as peer-account.yaml's RoleName, needs CAPABILITY_NAMED_IAM:
CloudFormation API reference, CreateChangeSet, Capabilities).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import io
import json
import os
import platform
import sys
import time
import zipfile
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[4]
TEMPLATE = ROOT / "infra" / "template.yaml"
SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
ACCOUNT_ROLE = "OrganizationAccountAccessRole"  # AWS Organizations' administrator role of a member account


class DeployError(Exception):
    pass


def clients(endpoint: str, region: str, account: str | None = None, account_role: str = ACCOUNT_ROLE):
    """Clients with the credentials of the environment (the local AWS's administrator by default); with `account`
    (another account than theirs), with a session of that account's `account_role`."""
    kw = dict(endpoint_url=endpoint, region_name=region,
              aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
              aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
              aws_session_token=os.environ.get("AWS_SESSION_TOKEN") or None)
    if account:
        sts = boto3.client("sts", **kw)
        if sts.get_caller_identity()["Account"] != account:
            partition = "aws-cn" if region.startswith("cn-") else \
                "aws-us-gov" if region.startswith("us-gov-") else "aws"
            try:
                credentials = sts.assume_role(RoleArn=f"arn:{partition}:iam::{account}:role/{account_role}",
                                              RoleSessionName="peerlab-deploy")["Credentials"]
            except sts.exceptions.ClientError as err:
                raise DeployError(f"cannot act in account {account}: {err}") from err
            kw.update(aws_access_key_id=credentials["AccessKeyId"],
                      aws_secret_access_key=credentials["SecretAccessKey"],
                      aws_session_token=credentials["SessionToken"])
    return {name: boto3.client(name, **kw) for name in ("cloudformation", "s3", "iam", "sts")}


def host_architecture() -> str:
    return "arm64" if platform.machine().lower() in ("aarch64", "arm64") else "x86_64"


def bucket_name(account: str, region: str) -> str:
    """One artifacts bucket per account and region, like the SAM CLI's managed bucket."""
    return f"peerlab-sam-artifacts-{account}-{region}"


def _fixed_zip(files: dict[str, tuple[bytes, int]]) -> bytes:
    """A zip whose bytes depend only on its files (fixed timestamps): an unchanged function is an unchanged key."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, (data, mode) in sorted(files.items()):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return out.getvalue()


def local_code(code_uri: Path, lambda_dir: Path) -> bytes:
    """The zip of --code local: `bootstrap` execs <lambda-dir>/<crate>. The binary's size and mtime are in it, so a
    rebuilt binary is a new artifact and the deploy updates the function (as a new build.zip would on AWS)."""
    crate = code_uri.parent.name
    binary = lambda_dir / crate
    if not binary.is_file():
        raise DeployError(f"{binary} does not exist: build the functions first (make build-functions), or point "
                          f"--lambda-dir / PEERLAB_LAMBDA_DIR at the cargo build")
    stat = binary.stat()
    script = (f"#!/bin/sh\n# peerlab local AWS: crate {crate}, {stat.st_size} bytes, mtime {stat.st_mtime_ns}\n"
              f"exec '{binary.resolve()}' \"$@\"\n")
    return _fixed_zip({"bootstrap": (script.encode(), 0o755)})


def package(template: dict, template_dir: Path, s3, bucket: str, prefix: str, code: str,
            lambda_dir: Path | None) -> tuple[dict, list[str]]:
    """`sam package`: upload each local artifact, point the template at it. Returns (template, uploaded keys)."""
    packaged = copy.deepcopy(template)
    keys = []

    def upload(data: bytes) -> str:
        key = f"{prefix}/{hashlib.md5(data).hexdigest()}"
        s3.put_object(Bucket=bucket, Key=key, Body=data)
        keys.append(key)
        return key

    for logical_id, resource in (packaged.get("Resources") or {}).items():
        props = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Serverless::Function" and isinstance(props.get("CodeUri"), str) \
                and not props["CodeUri"].startswith("s3://"):
            path = (template_dir / props["CodeUri"]).resolve()
            if code == "local":
                if lambda_dir is None:
                    raise DeployError("--code local needs --lambda-dir or PEERLAB_LAMBDA_DIR (the cargo build)")
                data = local_code(path, lambda_dir)
            else:
                if not path.is_file():
                    raise DeployError(f"{logical_id}: CodeUri {path} does not exist: run make build")
                data = path.read_bytes()
            props["CodeUri"] = f"s3://{bucket}/{upload(data)}"
        if resource.get("Type") == "AWS::Serverless::StateMachine" and isinstance(props.get("DefinitionUri"), str) \
                and not props["DefinitionUri"].startswith("s3://"):
            path = (template_dir / props["DefinitionUri"]).resolve()
            props["DefinitionUri"] = {"Bucket": bucket, "Key": upload(path.read_bytes())}
    return packaged, keys


def sam_transform(template: dict, parameters: dict[str, str], region: str, iam) -> dict:
    """The SAM transform (aws-sam-translator, as samtranslator.translator.transform.transform runs it), with the
    region given explicitly and managed policies looked up in the local IAM."""
    if template.get("Transform") != SAM_TRANSFORM:
        return template
    from samtranslator.metrics.metrics import DummyMetricsPublisher, Metrics
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
    from samtranslator.translator.translator import Translator
    from samtranslator.utils.py27hash_fix import to_py27_compatible_template, undo_mark_unicode_str_in_template

    loader = ManagedPolicyLoader(iam)
    values = dict(parameters)
    to_py27_compatible_template(template, values)
    metrics = Metrics("ServerlessTransform", DummyMetricsPublisher())  # published (to nowhere) below
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region), metrics=metrics)
    try:
        out = translator.translate(template, parameter_values=values, get_managed_policy_map=loader.load)
    except InvalidDocumentException as err:
        raise DeployError("SAM transform failed: " + "; ".join(str(e) for e in err.causes)) from err
    finally:
        metrics.publish()
    return undo_mark_unicode_str_in_template(out)


def _load_template(path: Path) -> dict:
    from samtranslator.yaml_helper import yaml_parse

    return yaml_parse(path.read_text())


def _stack(cfn, name: str) -> dict | None:
    try:
        stacks = cfn.describe_stacks(StackName=name)["Stacks"]
    except cfn.exceptions.ClientError as err:
        if "does not exist" in str(err) or err.response["Error"]["Code"] == "ValidationError":
            return None
        raise
    live = [s for s in stacks if s["StackStatus"] != "DELETE_COMPLETE"]
    return live[0] if live else None


def _wait(cfn, name: str, done: set[str], timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        stack = _stack(cfn, name)
        status = stack["StackStatus"] if stack else "DELETE_COMPLETE"
        if status in done:
            return stack or {}
        if status.endswith("_FAILED") or status.endswith("ROLLBACK_COMPLETE"):
            reasons = [e.get("ResourceStatusReason", "") for e in cfn.describe_stack_events(StackName=name)[
                "StackEvents"] if e.get("ResourceStatus", "").endswith("FAILED")]
            raise DeployError(f"stack {name} is {status}: {'; '.join(r for r in reasons if r) or 'no reason given'}")
        if time.monotonic() > deadline:
            raise DeployError(f"stack {name} still {status} after {timeout:.0f} s")
        time.sleep(0.2)


def deploy(endpoint: str, stack: str = "peerlab", template: Path = TEMPLATE, parameters: dict | None = None,
           region: str = "us-east-1", lambda_dir: Path | str | None = None, code: str = "local",
           timeout: float = 300, out=print, account: str | None = None, account_role: str = ACCOUNT_ROLE,
           capabilities: tuple[str, ...] | list[str] = ("CAPABILITY_IAM",)) -> dict[str, str]:
    """Package, transform, CreateChangeSet + ExecuteChangeSet, wait. Returns the stack's outputs {key: value}.
    `account`: deploy into that account as its administrator (see the module's docstring)."""
    c = clients(endpoint, region, account, account_role)
    cfn, s3 = c["cloudformation"], c["s3"]
    if lambda_dir is None and os.environ.get("PEERLAB_LAMBDA_DIR"):
        lambda_dir = os.environ["PEERLAB_LAMBDA_DIR"]
    parameters = dict(parameters or {})
    source = _load_template(Path(template))
    if code == "local" and "Architecture" in (source.get("Parameters") or {}):
        parameters.setdefault("Architecture", host_architecture())
    account = c["sts"].get_caller_identity()["Account"]
    bucket = bucket_name(account, region)
    try:
        s3.head_bucket(Bucket=bucket)
    except s3.exceptions.ClientError:
        s3.create_bucket(Bucket=bucket)
    packaged, _ = package(source, Path(template).resolve().parent, s3, bucket, stack, code,
                          Path(lambda_dir) if lambda_dir else None)
    transformed = sam_transform(packaged, parameters, region, c["iam"])
    existing = _stack(cfn, stack)
    kind = "UPDATE" if existing and existing["StackStatus"] != "REVIEW_IN_PROGRESS" else "CREATE"
    change_set = f"peerlab-deploy-{int(time.time() * 1000)}"
    try:
        created = cfn.create_change_set(
            StackName=stack, ChangeSetName=change_set, ChangeSetType=kind, TemplateBody=json.dumps(transformed),
            Parameters=[{"ParameterKey": k, "ParameterValue": str(v)} for k, v in parameters.items()],
            Capabilities=list(capabilities), Description=f"peerlab local deploy of {Path(template).name}")
    except cfn.exceptions.ClientError as err:
        message = err.response["Error"].get("Message", str(err))
        if "No updates are to be performed" in message:
            out(f"No changes to deploy. Stack {stack} is up to date")
            return _outputs(cfn, stack)
        raise DeployError(message) from err
    described = cfn.describe_change_set(ChangeSetName=created["Id"], StackName=stack)
    if described["Status"] == "FAILED":
        reason = described.get("StatusReason", "")
        if "didn't contain changes" in reason or "No updates" in reason:
            cfn.delete_change_set(ChangeSetName=created["Id"], StackName=stack)
            out(f"No changes to deploy. Stack {stack} is up to date")
            return _outputs(cfn, stack)
        raise DeployError(f"change set {change_set} failed: {reason}")
    for change in described.get("Changes", []):
        rc = change.get("ResourceChange", {})
        out(f"{rc.get('Action', '?'):8} {rc.get('LogicalResourceId', '?'):40} {rc.get('ResourceType', '?')}")
    cfn.execute_change_set(ChangeSetName=created["Id"], StackName=stack)
    _wait(cfn, stack, {f"{kind}_COMPLETE"}, timeout)
    result = _outputs(cfn, stack)
    out(f"Successfully created/updated stack - {stack} in {region}")
    for key, value in sorted(result.items()):
        out(f"{key}\t{value}")
    return result


def outputs(endpoint: str, stack: str, region: str = "us-east-1", account: str | None = None,
            account_role: str = ACCOUNT_ROLE) -> dict[str, str]:
    return _outputs(clients(endpoint, region, account, account_role)["cloudformation"], stack)


def _outputs(cfn, stack: str) -> dict[str, str]:
    found = _stack(cfn, stack) or {}
    return {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs") or []}


def delete(endpoint: str, stack: str = "peerlab", region: str = "us-east-1", timeout: float = 300, out=print,
           account: str | None = None, account_role: str = ACCOUNT_ROLE) -> None:
    """`sam delete --no-prompts`: delete the stack, wait, then delete its artifacts in the bucket."""
    c = clients(endpoint, region, account, account_role)
    cfn, s3 = c["cloudformation"], c["s3"]
    if _stack(cfn, stack) is None:
        out(f"Stack {stack} does not exist")
        return
    cfn.delete_stack(StackName=stack)
    _wait(cfn, stack, {"DELETE_COMPLETE"}, timeout)
    bucket = bucket_name(c["sts"].get_caller_identity()["Account"], region)
    try:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{stack}/").get("Contents", [])
    except s3.exceptions.ClientError:
        listed = []
    for item in listed:
        s3.delete_object(Bucket=bucket, Key=item["Key"])
    out(f"Deleted stack {stack} and its {len(listed)} artifacts")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m peerlab_local.tools.stack", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("deploy", "delete", "outputs"):
        p = sub.add_parser(name)
        p.add_argument("--endpoint", required=True, help="the local AWS, e.g. http://127.0.0.1:4566")
        p.add_argument("--stack", default="peerlab")
        p.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"))
        p.add_argument("--account", help="another account to act in, as its administrator (12 digits)")
        p.add_argument("--account-role", default=ACCOUNT_ROLE,
                       help=f"the role assumed in --account (default {ACCOUNT_ROLE})")
        if name == "deploy":
            p.add_argument("--template", default=str(TEMPLATE))
            p.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE")
            p.add_argument("--lambda-dir", default=os.environ.get("PEERLAB_LAMBDA_DIR"))
            p.add_argument("--code", choices=("local", "zip"), default="local")
            p.add_argument("--capabilities", nargs="+", default=["CAPABILITY_IAM"],
                           choices=("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"))
            p.add_argument("--json", action="store_true",
                           help="stdout: only the outputs, one JSON object (progress goes to stderr)")
    args = parser.parse_args(argv)
    try:
        if args.command == "deploy":
            params = {}
            for item in args.parameter:
                key, sep, value = item.partition("=")
                if not sep:
                    parser.error(f"--parameter {item!r}: expected KEY=VALUE")
                params[key] = value
            progress = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
            result = deploy(args.endpoint, args.stack, Path(args.template), params, args.region, args.lambda_dir,
                            args.code, out=progress, account=args.account, account_role=args.account_role,
                            capabilities=args.capabilities)
            if args.json:
                print(json.dumps(result, sort_keys=True))
        elif args.command == "outputs":
            if _stack(clients(args.endpoint, args.region)["cloudformation"], args.stack) is None:
                print(f"stack {args.stack} does not exist on {args.endpoint} (make deploy ENDPOINT=...)",
                      file=sys.stderr)
                return 1
            print(json.dumps(outputs(args.endpoint, args.stack, args.region), sort_keys=True))
        else:
            delete(args.endpoint, args.stack, args.region, account=args.account, account_role=args.account_role)
    except DeployError as err:
        print(f"deploy failed: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
