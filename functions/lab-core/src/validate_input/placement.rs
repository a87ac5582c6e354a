//! Where each side's subnet goes: an Availability Zone that offers the lab's instance type and, for side A,
//! both SSM interface endpoint services. Part of validate-input, so that a zone that will not do is an
//! `InvalidInput` naming the field before anything is created.
//!
//! AWS does not offer every instance type in every zone (t3.micro is absent from use1-az3, for instance), and
//! CreateSubnet without a zone lets AWS pick one: a lab that never chooses fails `Unsupported` at RunInstances
//! some of the time. Sources: EC2 User Guide, "Find an Amazon EC2 instance type"
//! (`DescribeInstanceTypeOfferings --location-type availability-zone`); AWS PrivateLink guide, "Access an AWS
//! service using an interface VPC endpoint" (an endpoint can be created only in the zones its service lists in
//! `DescribeVpcEndpointServices`).

use std::collections::BTreeSet;

use aws_sdk_ec2::types::{
    ArchitectureType, ArchitectureValues, AvailabilityZoneState, ImageState, InstanceType,
    LocationType,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::create_vpc::SSM_SERVICES;
use crate::error::{aws_error, required, LabError, Result};
use crate::input::Architecture;
use crate::tags::filter;

/// A zone by its name (per account) and its id (the same physical zone in every account).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    pub name: String,
    pub id: String,
}

/// What one region offers the lab: its zones, and those that would do for a side.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Offerings {
    pub region: String,
    /// Every available zone of the region, in name order.
    pub zones: Vec<Zone>,
    /// Zone names that offer the instance type.
    pub offering_type: BTreeSet<String>,
    /// Zone names where every SSM endpoint service is offered (None: not asked, side B).
    pub offering_endpoints: Option<BTreeSet<String>>,
}

impl Offerings {
    /// Zones that would do, in name order.
    pub fn candidates(&self) -> Vec<&Zone> {
        self.zones
            .iter()
            .filter(|z| self.offering_type.contains(&z.name))
            .filter(|z| {
                self.offering_endpoints
                    .as_ref()
                    .is_none_or(|e| e.contains(&z.name))
            })
            .collect()
    }

    /// The zone for a side: the one asked for (by name or id) if it will do, else the first that will.
    /// `field` names the input field in errors (e.g. `vpc_a.availability_zone`).
    pub fn choose(
        &self,
        field: &str,
        requested: Option<&str>,
        instance_type: &str,
    ) -> Result<Zone> {
        let candidates = self.candidates();
        let names = |zones: &[&Zone]| {
            zones
                .iter()
                .map(|z| format!("{} ({})", z.name, z.id))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let Some(requested) = requested else {
            return candidates.first().map(|z| (*z).clone()).ok_or_else(|| {
                LabError::invalid(format!(
                    "instance_type: no Availability Zone of {} offers {instance_type}{}",
                    self.region,
                    if self.offering_endpoints.is_some() {
                        " together with the ssm and ssmmessages endpoint services"
                    } else {
                        ""
                    }
                ))
            });
        };
        let Some(zone) = self
            .zones
            .iter()
            .find(|z| z.name == requested || z.id == requested)
        else {
            return Err(LabError::invalid(format!(
                "{field}: {requested} is not an Availability Zone of {} (its zones: {})",
                self.region,
                names(&self.zones.iter().collect::<Vec<_>>())
            )));
        };
        if candidates.iter().any(|c| c.name == zone.name) {
            return Ok(zone.clone());
        }
        let missing = if !self.offering_type.contains(&zone.name) {
            instance_type.to_string()
        } else {
            "the ssm and ssmmessages endpoint services instance A needs".to_string()
        };
        Err(LabError::invalid(format!(
            "{field}: {} ({}) does not offer {missing}; these do: {}",
            zone.name,
            zone.id,
            if candidates.is_empty() {
                "none".to_string()
            } else {
                names(&candidates)
            }
        )))
    }
}

/// Ask EC2 what `region` offers: its zones, the zones of the instance type and (side A) of the SSM endpoints.
pub async fn offerings(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    instance_type: &str,
    needs_ssm_endpoints: bool,
) -> Result<Offerings> {
    let azs = ec2
        .describe_availability_zones()
        .filters(filter("zone-type", "availability-zone"))
        .send()
        .await
        .map_err(|e| aws_error(&format!("listing the Availability Zones of {region}"), e))?;
    let mut zones: Vec<Zone> = azs
        .availability_zones()
        .iter()
        .filter(|z| z.state() == Some(&AvailabilityZoneState::Available))
        .map(|z| {
            Ok(Zone {
                name: required(z.zone_name(), "a zone's name")?.to_string(),
                id: required(z.zone_id(), "a zone's id")?.to_string(),
            })
        })
        .collect::<Result<_>>()?;
    zones.sort_by(|a, b| a.name.cmp(&b.name));

    let mut offering_type = BTreeSet::new();
    let mut pages = ec2
        .describe_instance_type_offerings()
        .location_type(LocationType::AvailabilityZone)
        .filters(filter("instance-type", instance_type))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            aws_error(
                &format!("asking which zones of {region} offer {instance_type}"),
                e,
            )
        })?;
        offering_type.extend(
            page.instance_type_offerings()
                .iter()
                .filter_map(|o| o.location().map(str::to_string)),
        );
    }

    let offering_endpoints = if needs_ssm_endpoints {
        let names: Vec<String> = SSM_SERVICES
            .iter()
            .map(|s| format!("com.amazonaws.{region}.{s}"))
            .collect();
        let out = ec2
            .describe_vpc_endpoint_services()
            .set_service_names(Some(names.clone()))
            .send()
            .await
            .map_err(|e| {
                aws_error(
                    &format!("asking where {} are offered", names.join(" and ")),
                    e,
                )
            })?;
        let mut common: Option<BTreeSet<String>> = None;
        for name in &names {
            let here: BTreeSet<String> = out
                .service_details()
                .iter()
                .filter(|d| d.service_name() == Some(name.as_str()))
                .flat_map(|d| d.availability_zones().iter().cloned())
                .collect();
            common = Some(match common {
                None => here,
                Some(c) => c.intersection(&here).cloned().collect(),
            });
        }
        common
    } else {
        None
    };
    Ok(Offerings {
        region: region.to_string(),
        zones,
        offering_type,
        offering_endpoints,
    })
}

/// The instance type's architecture as EC2 describes it (`DescribeInstanceTypes`'
/// `ProcessorInfo.SupportedArchitectures`; EC2 API Reference, ProcessorInfo): x86_64 where it runs x86_64, else
/// arm64. Not from the name: Graviton families do not follow one pattern (a1, g5g, t4g, c7gn, im4gn). A type that
/// runs neither (a Mac, `arm64_mac`/`x86_64_mac`, or i386 only) has no Amazon Linux 2023 AMI: `InvalidInput`.
pub async fn architecture(ec2: &aws_sdk_ec2::Client, instance_type: &str) -> Result<Architecture> {
    let out = ec2
        .describe_instance_types()
        .instance_types(InstanceType::from(instance_type))
        .send()
        .await
        .map_err(|e| match e.code() {
            Some("InvalidInstanceType") => LabError::invalid(format!(
                "instance_type: EC2 has no instance type {instance_type:?}"
            )),
            _ => aws_error(&format!("describing instance type {instance_type}"), e),
        })?;
    let supported: Vec<ArchitectureType> = out
        .instance_types()
        .iter()
        .filter_map(|t| t.processor_info())
        .flat_map(|p| p.supported_architectures().iter().cloned())
        .collect();
    if supported.contains(&ArchitectureType::X8664) {
        Ok(Architecture::X86_64)
    } else if supported.contains(&ArchitectureType::Arm64) {
        Ok(Architecture::Arm64)
    } else {
        Err(LabError::invalid(format!(
            "instance_type: {instance_type} runs {}: the lab's Amazon Linux 2023 AMIs need x86_64 or arm64",
            if supported.is_empty() {
                "no architecture EC2 names".to_string()
            } else {
                supported
                    .iter()
                    .map(|a| a.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        )))
    }
}

/// The input's `ami`, checked where a side launches it (`where_`: "us-east-1", or "us-west-2, side B's region")
/// before anything exists: create-vpc's RunInstances may launch only Amazon's images (the roles' RunOnlyAmazonsImages:
/// `ec2:Owner` `amazon`), so any other image would fail there with AccessDenied after the VPCs, endpoints and groups
/// exist. DescribeImages by id (EC2 API Reference, DescribeImages): an id that names no image this account can see is
/// `InvalidAMIID.NotFound` (`InvalidAMIID.Malformed` for a bad shape), and "recently deregistered images appear in the
/// returned results for a short interval and then return empty results": both are "does not exist". Amazon's images
/// carry `ImageOwnerAlias` `amazon` (Image: "The owner alias (amazon | aws-backup-vault | aws-marketplace)"; the
/// same value as the `ec2:Owner` condition key, Service Authorization Reference), an account's own have none. The
/// image's `Architecture` must be the instance type's (a mismatch fails RunInstances too). AMI ids are per region:
/// the same id cannot name an image in two regions.
pub async fn image(
    ec2: &aws_sdk_ec2::Client,
    where_: &str,
    ami: &str,
    architecture: Architecture,
    instance_type: &str,
) -> Result<()> {
    let missing = || {
        LabError::invalid(format!(
            "ami: {ami} is no image this account can launch in {where_} (an AMI id names an image of one region)"
        ))
    };
    let out = match ec2.describe_images().image_ids(ami).send().await {
        Ok(out) => out,
        Err(e) if e.code().is_some_and(|c| c.starts_with("InvalidAMIID.")) => return Err(missing()),
        Err(e) => return Err(aws_error(&format!("describing image {ami} in {where_}"), e)),
    };
    let Some(image) = out.images().iter().find(|i| i.image_id() == Some(ami)) else {
        return Err(missing());
    };
    if image.state() != Some(&ImageState::Available) {
        return Err(LabError::invalid(format!(
            "ami: {ami} is {} in {where_}, not available",
            image
                .state()
                .map_or("in no state EC2 names", |s| s.as_str())
        )));
    }
    if image.image_owner_alias() != Some("amazon") {
        return Err(LabError::invalid(format!(
            "ami: {ami} is owned by {}, not Amazon: the lab launches only Amazon's images (ImageOwnerAlias amazon)",
            image
                .image_owner_alias()
                .or(image.owner_id())
                .unwrap_or("an owner EC2 does not name")
        )));
    }
    let wanted = match architecture {
        Architecture::X86_64 => ArchitectureValues::X8664,
        Architecture::Arm64 => ArchitectureValues::Arm64,
    };
    if image.architecture() != Some(&wanted) {
        return Err(LabError::invalid(format!(
            "ami: {ami} is an {} image, but instance_type {instance_type} runs {}",
            image
                .architecture()
                .map_or("unknown-architecture", |a| a.as_str()),
            wanted.as_str()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us_east_1() -> Offerings {
        let zones: Vec<Zone> = [
            ("us-east-1a", "use1-az6"),
            ("us-east-1b", "use1-az1"),
            ("us-east-1c", "use1-az2"),
            ("us-east-1d", "use1-az4"),
            ("us-east-1e", "use1-az3"),
            ("us-east-1f", "use1-az5"),
        ]
        .into_iter()
        .map(|(n, i)| Zone {
            name: n.into(),
            id: i.into(),
        })
        .collect();
        let all: BTreeSet<String> = zones.iter().map(|z| z.name.clone()).collect();
        let mut offering_type = all.clone();
        offering_type.remove("us-east-1e");
        Offerings {
            region: "us-east-1".into(),
            zones,
            offering_type,
            offering_endpoints: Some(all),
        }
    }

    #[test]
    fn without_a_request_the_first_zone_that_offers_everything() {
        let mut o = us_east_1();
        o.offering_type.remove("us-east-1a");
        let z = o
            .choose("vpc_a.availability_zone", None, "t3.micro")
            .unwrap();
        assert_eq!(z.name, "us-east-1b");
    }

    #[test]
    fn a_zone_without_the_type_is_refused_naming_the_field_and_the_zones_that_do() {
        let err = us_east_1()
            .choose("vpc_b.availability_zone", Some("us-east-1e"), "t3.micro")
            .unwrap_err();
        let LabError::InvalidInput(m) = err else {
            panic!("{err:?}")
        };
        assert!(m.starts_with("vpc_b.availability_zone: us-east-1e (use1-az3) does not offer t3.micro; these do: us-east-1a (use1-az6), us-east-1b"), "{m}");
        assert!(!m.contains("us-east-1e (use1-az3),"), "{m}");
    }

    #[test]
    fn a_zone_of_another_region_is_refused() {
        let err = us_east_1()
            .choose("vpc_a.availability_zone", Some("us-west-2a"), "t3.micro")
            .unwrap_err();
        assert_eq!(err.error_type(), "InvalidInput");
        assert!(err
            .to_string()
            .starts_with("vpc_a.availability_zone: us-west-2a is not an Availability Zone of us-east-1 (its zones: us-east-1a (use1-az6)"));
    }

    #[test]
    fn a_zone_may_be_named_by_its_id() {
        let z = us_east_1()
            .choose("vpc_a.availability_zone", Some("use1-az4"), "t3.micro")
            .unwrap();
        assert_eq!(z.name, "us-east-1d");
    }

    #[test]
    fn side_a_needs_the_endpoint_services_too() {
        let mut o = us_east_1();
        if let Some(e) = o.offering_endpoints.as_mut() {
            e.remove("us-east-1a");
        }
        assert_eq!(o.choose("f", None, "t3.micro").unwrap().name, "us-east-1b");
        let m = o
            .choose("vpc_a.availability_zone", Some("us-east-1a"), "t3.micro")
            .unwrap_err()
            .to_string();
        assert!(
            m.contains("does not offer the ssm and ssmmessages endpoint services"),
            "{m}"
        );
        o.offering_endpoints = None; // side B does not ask
        assert_eq!(o.choose("f", None, "t3.micro").unwrap().name, "us-east-1a");
    }

    #[test]
    fn no_zone_at_all_names_the_instance_type() {
        let mut o = us_east_1();
        o.offering_type.clear();
        let m = o
            .choose("vpc_a.availability_zone", None, "p5.48xlarge")
            .unwrap_err()
            .to_string();
        assert!(
            m.starts_with("instance_type: no Availability Zone of us-east-1 offers p5.48xlarge"),
            "{m}"
        );
    }
}
