"""IAM is eventually consistent: EC2 refuses a just-created instance profile, or one whose role was just added.

AWS: "Changes that I make are not always immediately visible" (IAM user guide, Troubleshooting IAM, general
issues): IAM changes take time to reach the services that use them. For RunInstances and
AssociateIamInstanceProfile this shows as InvalidParameterValue with these messages (quoted in the Terraform AWS
provider's aws_instance create retry, which retries both for iamPropagationTimeout = 2 min, and in many clients'
retry loops):
- "Value (NAME) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name"
- "Value (ARN) for parameter iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile ARN"
- 'IAM Instance Profile "ARN" has no associated IAM Roles' (the role added to the profile is not visible yet)
A profile that does not exist gets the first two as well (moto answered IAM's NoSuchEntity instead). The window is
the `instance_profile_propagation` delay (config.py), from CreateInstanceProfile and from AddRoleToInstanceProfile.
"""

from __future__ import annotations

from moto.core.base_backend import BackendDict, BaseBackend
from moto.ec2.exceptions import EC2ClientError
from moto.iam.models import IAMBackend, iam_backends
from moto.utilities.utils import PARTITION_NAMES

from peerlab_local.core.patching import once, replace, wrap
from peerlab_local.core.world import world


class Propagation(BaseBackend):
    """When an account's instance profiles appeared, and their roles (IAM is global: one per partition)."""

    def __init__(self, region_name: str, account_id: str):
        super().__init__(region_name, account_id)
        self.created: dict[str, float] = {}  # profile name -> when it was created
        self.role_added: dict[tuple[str, str], float] = {}  # (profile name, role name) -> when the role was added


propagation_backends: BackendDict[Propagation] = BackendDict(Propagation, "iam", use_boto3_regions=False,
                                                             additional_regions=PARTITION_NAMES)


def _of(iam_backend) -> Propagation:
    return propagation_backends[iam_backend.account_id][iam_backend.region_name]  # the partition, for IAM


def _create_profile(original, backend, name, path, role_names, tags=None):
    profile = original(backend, name, path, role_names, tags)
    now = world().now()
    state = _of(backend)
    state.created[name] = now
    for role in profile.roles:
        state.role_added[(name, role.name)] = now
    return profile


def _add_role(original, backend, profile_name, role_name):
    result = original(backend, profile_name, role_name)
    _of(backend).role_added[(profile_name, role_name)] = world().now()
    return result


def _delete_profile(original, backend, name, *args, **kwargs):
    result = original(backend, name, *args, **kwargs)
    _of(backend).created.pop(name, None)
    return result


def _visible(since: float | None, key: str) -> bool:
    if since is None:
        return True  # made before these records (or by moto itself): long visible
    return world().now() - since >= world().config.delay("instance_profile_propagation", key=key)


def check(account_id: str, partition: str, iam_instance_profile_arn: str | None,
          iam_instance_profile_name: str | None):
    """The instance profile EC2 sees for a launch or an association, or InvalidParameterValue as AWS answers."""
    backend = iam_backends[account_id][partition]
    by_arn = iam_instance_profile_arn and not iam_instance_profile_name
    ref = iam_instance_profile_arn if by_arn else iam_instance_profile_name
    profile = next((p for p in backend.get_instance_profiles()
                    if (p.arn if by_arn else p.name) == ref), None)
    if iam_instance_profile_arn and iam_instance_profile_name and profile is not None \
            and profile.arn != iam_instance_profile_arn:
        profile = None
    state = propagation_backends[account_id][partition]
    if profile is None or not _visible(state.created.get(profile.name), profile.name):
        if by_arn:
            raise EC2ClientError("InvalidParameterValue", f"Value ({ref}) for parameter iamInstanceProfile.arn is "
                                                          "invalid. Invalid IAM Instance Profile ARN")
        raise EC2ClientError("InvalidParameterValue", f"Value ({ref}) for parameter iamInstanceProfile.name is "
                                                      "invalid. Invalid IAM Instance Profile name")
    if not any(_visible(state.role_added.get((profile.name, role.name)), profile.name) for role in profile.roles):
        raise EC2ClientError("InvalidParameterValue",
                             f'IAM Instance Profile "{profile.arn}" has no associated IAM Roles')
    return profile


@once
def install() -> None:
    """Route moto's instance-profile lookups for RunInstances and AssociateIamInstanceProfile through `check`, and
    record when profiles and their roles appear."""
    from moto.ec2.models import iam_instance_profile
    from moto.ec2.responses import instances

    wrap(IAMBackend, "create_instance_profile")(_create_profile)
    wrap(IAMBackend, "add_role_to_instance_profile")(_add_role)
    wrap(IAMBackend, "delete_instance_profile")(_delete_profile)
    replace(instances, "filter_iam_instance_profiles", check)
    replace(iam_instance_profile, "filter_iam_instance_profiles", check)
