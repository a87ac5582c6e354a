//! The lab's tags: every resource it creates carries `peerlab:lab-id` (what teardown finds it by),
//! `peerlab:expires-at` (what the sweeper deletes past) and a Name from the tutorial.

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};

pub const LAB_ID: &str = "peerlab:lab-id";
pub const EXPIRES_AT: &str = "peerlab:expires-at";
pub const SIDE: &str = "peerlab:side";

pub fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

/// Tags for one resource: the lab's own plus `Name` and any extra pairs.
pub fn spec(
    kind: ResourceType,
    lab_id: &str,
    expires_at: &str,
    name: &str,
    extra: &[(&str, &str)],
) -> TagSpecification {
    let mut builder = TagSpecification::builder()
        .resource_type(kind)
        .tags(tag(LAB_ID, lab_id))
        .tags(tag(EXPIRES_AT, expires_at))
        .tags(tag("Name", name));
    for (k, v) in extra {
        builder = builder.tags(tag(k, v));
    }
    builder.build()
}

pub fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

pub fn filter_many<I, S>(name: &str, values: I) -> Filter
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut builder = Filter::builder().name(name);
    for v in values {
        builder = builder.values(v);
    }
    builder.build()
}

pub fn lab_filter(lab_id: &str) -> Filter {
    filter(&format!("tag:{LAB_ID}"), lab_id)
}

pub fn tag_value<'a>(tags: &'a [Tag], key: &str) -> Option<&'a str> {
    tags.iter()
        .find(|t| t.key() == Some(key))
        .and_then(Tag::value)
}

/// The tutorial's Name for a resource of side "a" or "b": VpcA, PrivateSubnetB, InstanceA...
pub fn name(prefix: &str, side: crate::model::Side) -> String {
    format!("{prefix}{}", side.letter())
}
