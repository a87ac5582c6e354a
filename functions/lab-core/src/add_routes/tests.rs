use super::*;
use crate::exercise::Exercise;
use crate::test_support::*;

fn tables(vpc_route: Option<(&'static str, &'static str)>) -> Rule {
    // only the lab's own tables are asked for: a VPC's main table (untagged) is never changed
    mock!(Ec2::describe_route_tables)
        .match_requests(|req| {
            req.filters()
                .iter()
                .any(|f| f.name() == Some("tag:peerlab:lab-id") && f.values() == ["demo-1"])
        })
        .then_compute_output(move |req| {
            let vpc = req
                .filters()
                .first()
                .and_then(|f| f.values().first())
                .cloned()
                .unwrap_or_default();
            let mut routes = vec![route("10.0.0.0/8", "local", RouteState::Active)];
            routes.extend(vpc_route.map(|(dest, via)| route(dest, via, RouteState::Active)));
            route_tables([table(&format!("rtb-{}", &vpc[4..]), routes)])
        })
}

#[tokio::test]
async fn add_routes_creates_in_every_table_of_both_vpcs() {
    let describe = tables(None);
    let create = mock!(Ec2::create_route)
        .then_output(|| CreateRouteOutput::builder().r#return(true).build());
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&describe, &create]);
    let out = handler(
        event!("add-routes/events/pair.json"),
        &clients(ec2, no_ssm()),
    )
    .await
    .unwrap();
    let got: Vec<_> = out
        .routes
        .iter()
        .map(|r| (r.route_table_id.as_str(), r.destination.as_str(), r.action))
        .collect();
    assert_eq!(
        got,
        [
            ("rtb-0a", "10.1.0.0/16", RouteAction::Created),
            ("rtb-0b", "10.0.0.0/16", RouteAction::Created)
        ]
    );
    assert_eq!(create.num_calls(), 2);
}

#[tokio::test]
async fn add_routes_existing_route_via_this_peering_is_success() {
    // both tables already hold a route to the *other* CIDR through pcx-0ab (the rule answers per call)
    let describe = mock!(Ec2::describe_route_tables)
        .sequence()
        .output(|| {
            route_tables([table(
                "rtb-0a",
                [route("10.1.0.0/16", "pcx-0ab", RouteState::Active)],
            )])
        })
        .output(|| {
            route_tables([table(
                "rtb-0b",
                [route("10.0.0.0/16", "pcx-0ab", RouteState::Active)],
            )])
        })
        .build();
    let ec2 = mock_client!(aws_sdk_ec2, [&describe]);
    let out = handler(
        event!("add-routes/events/pair.json"),
        &clients(ec2, no_ssm()),
    )
    .await
    .unwrap();
    assert!(out.routes.iter().all(|r| r.action == RouteAction::Existing));
}

#[tokio::test]
async fn add_routes_replaces_a_blackhole_route_of_an_earlier_peering() {
    // both tables route the other VPC through pcx-0old, deleted since (state blackhole)
    let describe = mock!(Ec2::describe_route_tables).then_compute_output(|req| {
        let vpc = req.filters()[0].values()[0].clone();
        let dest = if vpc == "vpc-0a" {
            "10.1.0.0/16"
        } else {
            "10.0.0.0/16"
        };
        route_tables([table(
            &format!("rtb-{}", &vpc[4..]),
            [route(dest, "pcx-0old", RouteState::Blackhole)],
        )])
    });
    let replace = mock!(Ec2::replace_route)
        .match_requests(|r| r.vpc_peering_connection_id() == Some("pcx-0ab"))
        .then_output(|| ReplaceRouteOutput::builder().build());
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&describe, &replace]);
    let out = handler(
        event!("add-routes/events/pair.json"),
        &clients(ec2, no_ssm()),
    )
    .await
    .unwrap();
    assert_eq!(replace.num_calls(), 2);
    let done: Vec<_> = out
        .routes
        .iter()
        .map(|r| (r.route_table_id.as_str(), r.destination.as_str(), r.action))
        .collect();
    assert_eq!(
        done,
        [
            ("rtb-0a", "10.1.0.0/16", RouteAction::Replaced),
            ("rtb-0b", "10.0.0.0/16", RouteAction::Replaced)
        ]
    );
    // the report says so in the JSON the state machine passes on
    assert_eq!(
        serde_json::to_value(&out.routes[0]).unwrap()["action"],
        "replaced"
    );
}

#[tokio::test]
async fn add_routes_route_via_something_else_is_a_conflict() {
    let describe = tables(Some(("10.1.0.0/16", "igw-0ff")));
    let ec2 = mock_client!(aws_sdk_ec2, [&describe]);
    let err = handler(
        event!("add-routes/events/pair.json"),
        &clients(ec2, no_ssm()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "RouteConflict");
    assert!(
        err.to_string()
            .contains("rtb-0a already routes 10.1.0.0/16 to igw-0ff"),
        "{err}"
    );
}

#[tokio::test]
async fn add_routes_race_with_route_already_exists_is_not_ready() {
    let describe = tables(None);
    let create = mock!(Ec2::create_route).then_error(fails(err_meta("RouteAlreadyExists")));
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&describe, &create]);
    let err = handler(
        event!("add-routes/events/pair.json"),
        &clients(ec2, no_ssm()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "NotReady");
}

#[tokio::test]
async fn the_missing_route_exercises_leave_out_exactly_one_sides_route() {
    for (exercise, kept) in [
        (Exercise::MissingRouteA, ("rtb-0b", "10.0.0.0/16")),
        (Exercise::MissingRouteB, ("rtb-0a", "10.1.0.0/16")),
    ] {
        let describe = tables(None);
        let create = mock!(Ec2::create_route)
            .then_output(|| CreateRouteOutput::builder().r#return(true).build());
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&describe, &create]);
        let mut event: PairEvent = event!("add-routes/events/pair.json");
        event.lab.exercise = Some(exercise);
        let out = handler(event, &clients(ec2, no_ssm())).await.unwrap();
        let got: Vec<_> = out
            .routes
            .iter()
            .map(|r| (r.route_table_id.as_str(), r.destination.as_str()))
            .collect();
        assert_eq!(got, [kept], "{exercise:?}");
        assert_eq!(create.num_calls(), 1);
        assert_eq!(
            describe.num_calls(),
            1,
            "the other VPC's tables are not even read"
        );
    }
}
