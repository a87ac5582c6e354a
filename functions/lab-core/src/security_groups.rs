//! Security-group operations more than one step needs: admitting a rule (create-vpc's endpoint group, update-sg's
//! InstanceB) and reading an instance's groups (update-sg keeps B's, the diagnosis reads both sides').

use aws_sdk_ec2::types::IpPermission;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::error::{aws_error, LabError, Result};

/// Add an ingress rule; one that is already there is success (a re-run), a group not visible yet is
/// `NotReady`. `what` names the source for the message.
pub async fn admit(
    ec2: &aws_sdk_ec2::Client,
    group_id: &str,
    permission: IpPermission,
    what: &str,
) -> Result<()> {
    match ec2
        .authorize_security_group_ingress()
        .group_id(group_id)
        .ip_permissions(permission)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("InvalidPermission.Duplicate") => Ok(()),
        Err(e) if e.code() == Some("InvalidGroup.NotFound") => Err(LabError::not_ready(format!(
            "a group of the rule for {group_id} is not visible yet: {}",
            e.message().unwrap_or("InvalidGroup.NotFound")
        ))),
        Err(e) => Err(aws_error(&format!("admitting {what} into {group_id}"), e)),
    }
}

/// The security groups an instance has now.
pub async fn instance_group_ids(
    ec2: &aws_sdk_ec2::Client,
    instance_id: &str,
) -> Result<Vec<String>> {
    let described = ec2
        .describe_instances()
        .instance_ids(instance_id)
        .send()
        .await
        .map_err(|e| aws_error(&format!("reading the security groups of {instance_id}"), e))?;
    Ok(described
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .flat_map(|i| i.security_groups())
        .filter_map(|g| g.group_id().map(str::to_string))
        .collect())
}
