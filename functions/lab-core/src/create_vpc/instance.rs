//! The side's instance: found by tag, else launched with a ClientToken from the lab and side (however often the
//! step is retried, one instance), from the Amazon Linux 2023 AMI of the lab's architecture.

use aws_sdk_ec2::types::{
    IamInstanceProfileSpecification, InstanceStateName, InstanceType, ResourceType,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::{client_token, Ctx};
use crate::clients::Scope;
use crate::error::{aws_error, required, LabError, Result};
use crate::input::{Architecture, LabPlan, SidePlan};
use crate::tags;

pub const AMI_PARAMETER_X86: &str =
    "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";
pub const AMI_PARAMETER_ARM: &str =
    "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64";

/// An instance's id, state and primary private IP.
pub(super) type Facts = (String, InstanceStateName, String);

/// The public parameter naming the latest Amazon Linux 2023 AMI of an architecture (AWS Systems Manager User
/// Guide, "Calling AMI public parameters").
pub fn ami_parameter(architecture: Architecture) -> &'static str {
    match architecture {
        Architecture::X86_64 => AMI_PARAMETER_X86,
        Architecture::Arm64 => AMI_PARAMETER_ARM,
    }
}

async fn resolve_ami(ssm: &aws_sdk_ssm::Client, lab: &LabPlan) -> Result<String> {
    if let Some(ami) = &lab.ami {
        return Ok(ami.clone());
    }
    let architecture = lab.architecture.ok_or_else(|| {
        LabError::invalid(
            "lab.architecture: missing; validate-input asks EC2 for it (was this plan made by an older version?)",
        )
    })?;
    let parameter = ami_parameter(architecture);
    let out = ssm
        .get_parameter()
        .name(parameter)
        .send()
        .await
        .map_err(|e| aws_error(&format!("reading the AMI id from {parameter}"), e))?;
    out.parameter()
        .and_then(|p| p.value())
        .map(str::to_string)
        .ok_or_else(|| LabError::Aws {
            code: "NoAmi".into(),
            message: format!("{parameter} has no value"),
        })
}

/// The lab's live instance of a side, if any.
pub(super) async fn find_instance(ctx: &Ctx<'_>) -> Result<Option<Facts>> {
    let out = ctx
        .ec2
        .describe_instances()
        .set_filters(Some(ctx.side_filters().to_vec()))
        .filters(tags::filter_many(
            "instance-state-name",
            ["pending", "running"],
        ))
        .send()
        .await
        .map_err(|e| aws_error("finding the lab's instance", e))?;
    out.reservations()
        .iter()
        .flat_map(|r| r.instances())
        .next()
        .map(facts)
        .transpose()
}

/// An instance's id, state and primary private IP (EC2 assigns the IP at launch: RunInstances' answer has it). A
/// missing state is read as pending: the step asks again.
fn facts(i: &aws_sdk_ec2::types::Instance) -> Result<Facts> {
    let id = required(i.instance_id(), "an instance's id")?;
    Ok((
        id.to_string(),
        i.state()
            .and_then(|s| s.name())
            .cloned()
            .unwrap_or(InstanceStateName::Pending),
        required(i.private_ip_address(), &format!("the private IP of {id}"))?.to_string(),
    ))
}

/// Launch the side's instance (with the instance profile on the side that runs the ping).
pub(super) async fn launch(
    ctx: &Ctx<'_>,
    scope: &Scope,
    plan: &SidePlan,
    subnet_id: &str,
    group_id: &str,
    profile: Option<&str>,
) -> Result<Facts> {
    let (lab, side) = (ctx.lab, ctx.side);
    let ami = resolve_ami(&scope.ssm, lab).await?;
    let mut run = ctx
        .ec2
        .run_instances()
        .image_id(&ami)
        .instance_type(InstanceType::from(lab.instance_type.as_str()))
        .min_count(1)
        .max_count(1)
        .subnet_id(subnet_id)
        .security_group_ids(group_id)
        .client_token(client_token(&lab.lab_id, side, "instance"))
        .tag_specifications(ctx.spec(ResourceType::Instance, &tags::name("Instance", side)));
    if let Some(profile) = profile {
        run = run.iam_instance_profile(
            IamInstanceProfileSpecification::builder()
                .name(profile)
                .build(),
        );
    }
    let out = run.send().await.map_err(|e| {
        // A new instance profile is refused for a while (IAM is eventually consistent: IAM User Guide,
        // "Troubleshoot IAM", changes not immediately visible). AWS says so only in the message of a
        // generic code, so this one check reads the message.
        if e.code() == Some("InvalidParameterValue")
            && e.message()
                .is_some_and(|m| m.contains("IAM Instance Profile"))
        {
            LabError::not_ready(format!(
                "launching instance {}: the instance profile is not usable yet: {}",
                side.letter(),
                e.message().unwrap_or_default()
            ))
        } else if e.code() == Some("InsufficientInstanceCapacity") {
            // AWS's capacity in a zone shifts within minutes (EC2 User Guide, "Troubleshoot instance
            // launch issues", Insufficient instance capacity: wait a few minutes and submit again): the
            // create-vpc retrier tries again; the input's availability_zone can move a lab that keeps
            // meeting it.
            LabError::not_ready(format!(
                "launching instance {}: EC2 has no {} capacity in {} right now (InsufficientInstanceCapacity); trying again (set vpc_{}.availability_zone to move the lab): {}",
                side.letter(),
                lab.instance_type,
                plan.availability_zone.as_deref().unwrap_or("its zone"),
                side.key(),
                e.message().unwrap_or_default()
            ))
        } else {
            aws_error(&format!("launching instance {}", side.letter()), e)
        }
    })?;
    let instance = out
        .instances()
        .first()
        .ok_or_else(|| LabError::not_ready("RunInstances returned no instance"))?;
    facts(instance)
}
