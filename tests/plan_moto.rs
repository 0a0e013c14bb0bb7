//! `strata plan` against a real AWS wire protocol: moto server, started per test by the harness.
//!
//! moto never fills a change set's `Replacement` field, so the replacement flags asserted here
//! come from strata's own table of replacing properties (reported as "predicted").

mod support;

use std::collections::{BTreeMap, BTreeSet};

use predicates::str::contains;
use serde_json::Value;
use strata::aws::SdkCloudFormation;
use strata::aws::cloudformation::CloudFormation;
use strata::project::Project;
use support::Fixture;
use support::moto::Moto;

/// A moto server on which the shipped dev environment is deployed, and a copy of the project.
fn deployed_dev() -> (Moto, Fixture) {
    let moto = Moto::start();
    let fixture = Fixture::copy_of_project();
    support::deploy::apply(fixture.root(), "dev", &moto);
    (moto, fixture)
}

fn plan_json(fixture: &Fixture, moto: &Moto, expected_code: i32) -> Value {
    let output = support::strata_on(fixture.root(), moto)
        .args(["plan", "--env", "dev", "--json", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(expected_code),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("plan --json prints JSON")
}

fn stack<'a>(plan: &'a Value, name: &str) -> &'a Value {
    plan["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stack"] == name)
        .expect("stack in plan")
}

fn changes(plan: &Value, stack_name: &str) -> Vec<(String, String)> {
    stack(plan, stack_name)["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["action"].as_str().unwrap().to_string(),
                c["logical_id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_fresh_environment_plans_every_stack_as_a_creation() {
    let moto = Moto::start();
    let fixture = Fixture::copy_of_project();
    let plan = plan_json(&fixture, &moto, 2);

    assert_eq!(plan["environment"], "dev");
    assert_eq!(plan["account_id"], "111111111111");
    let rendered = Project::open(fixture.root())
        .unwrap()
        .render("dev")
        .unwrap();
    for rendered_stack in &rendered.stacks {
        let planned = stack(&plan, &rendered_stack.name);
        assert_eq!(planned["action"], "create", "{}", rendered_stack.name);
        let listed: BTreeSet<String> = changes(&plan, &rendered_stack.name)
            .into_iter()
            .map(|(action, id)| {
                assert_eq!(action, "add");
                id
            })
            .collect();
        let expected: BTreeSet<String> =
            rendered_stack.template.resources.keys().cloned().collect();
        assert_eq!(
            listed, expected,
            "every resource of {} is listed",
            rendered_stack.name
        );
    }
    // New stacks are planned from their templates: no change set, so nothing is left in AWS.
    for planned in plan["stacks"].as_array().unwrap() {
        assert!(planned.get("change_set_id").is_none(), "{planned}");
    }
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let clients = support::clients(&moto).await;
        let cloudformation = SdkCloudFormation::new(clients.cloudformation.clone());
        for rendered_stack in &rendered.stacks {
            let described = cloudformation
                .describe_stack(&rendered_stack.stack_name)
                .await
                .unwrap();
            assert_eq!(
                described, None,
                "plan created {}",
                rendered_stack.stack_name
            );
        }
    });
    assert_eq!(
        stack(&plan, "database")["waits_for"],
        serde_json::json!(["network"])
    );
    assert_eq!(
        stack(&plan, "bastion")["waits_for"],
        serde_json::json!(["database", "network"])
    );

    support::strata_on(fixture.root(), &moto)
        .args(["plan", "--env", "dev"])
        .assert()
        .success()
        .stdout(contains("photofeed-dev-network  create (31 resources)"))
        .stdout(contains("+ AWS::EC2::VPC"))
        .stdout(contains("created after network (it imports their exports)"));
}

#[test]
fn unchanged_inputs_plan_no_changes_and_leave_no_change_set() {
    let (moto, fixture) = deployed_dev();

    support::strata_on(fixture.root(), &moto)
        .args(["plan", "--env", "dev", "--detailed-exitcode"])
        .assert()
        .code(0)
        .stdout(contains("No changes."));

    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let clients = support::clients(&moto).await;
        for stack in ["network", "database", "bastion", "storage"] {
            let listed = clients
                .cloudformation
                .list_change_sets()
                .stack_name(format!("photofeed-dev-{stack}"))
                .send()
                .await
                .unwrap();
            assert!(
                listed.summaries().is_empty(),
                "{stack}: no change set left behind: {:?}",
                listed.summaries()
            );
        }
    });
}

/// The CloudFormation calls of a no-change plan, counted on the wire by the test proxy (no faults): the
/// network, storage and app are judged unchanged from DescribeStacks and GetTemplate (the app's
/// parameters from the database's outputs compare as values); the database (a
/// `{{resolve:secretsmanager:...}}` password) and the bastion (an SSM-typed image parameter) still get a
/// change set, since CloudFormation resolves those values itself (src/plan/unchanged.rs).
#[test]
fn a_no_change_plan_reads_each_stack_twice_unless_cloudformation_resolves_values() {
    let (moto, fixture) = deployed_dev();
    let proxy = support::faults::FaultProxy::start(moto.port(), support::faults::Faults::none());
    support::strata(fixture.root())
        .envs(support::moto_env(&moto))
        .envs(support::endpoint_env(&proxy.endpoint_url()))
        .env_remove("AWS_SESSION_TOKEN")
        .args(["plan", "--env", "dev", "--detailed-exitcode"])
        .assert()
        .code(0)
        .stdout(contains("No changes."));

    let mut per_stack: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut others = Vec::new();
    for seen in proxy.seen() {
        let mut words = seen.call.splitn(3, ' ');
        let (service, action, target) = (
            words.next().unwrap_or_default(),
            words.next().unwrap_or_default(),
            words.next().unwrap_or_default(),
        );
        match service {
            "cloudformation" if target.starts_with("photofeed-dev-") => per_stack
                .entry(target.to_owned())
                .or_default()
                .push(action.to_owned()),
            "cloudformation" | "sts" => others.push(format!("{service} {action}")),
            _ => {}
        }
    }
    for quiet in [
        "photofeed-dev-network",
        "photofeed-dev-storage",
        "photofeed-dev-app",
    ] {
        assert_eq!(
            per_stack[quiet],
            ["DescribeStacks", "GetTemplate"],
            "{quiet}: {per_stack:?}"
        );
    }
    for resolved in ["photofeed-dev-database", "photofeed-dev-bastion"] {
        assert!(
            per_stack[resolved].iter().any(|a| a == "CreateChangeSet"),
            "{resolved}: {per_stack:?}"
        );
    }
    // The account check, and one ListStacks for stacks without a definition.
    assert_eq!(
        others,
        ["sts GetCallerIdentity", "cloudformation ListStacks"],
        "{others:?}"
    );
    let total = per_stack.values().map(Vec::len).sum::<usize>() + others.len();
    println!("calls of a no-change plan of dev: {total}: {per_stack:?} and {others:?}");
}

#[test]
fn a_changed_setting_shows_exactly_that_modification() {
    let (moto, fixture) = deployed_dev();
    fixture.edit(
        "environments/dev.yaml",
        "visibility_timeout_seconds: 30",
        "visibility_timeout_seconds: 45",
    );
    fixture.edit(
        "environments/dev.yaml",
        "  instance_class: db.t4g.micro\n  storage_gb",
        "  instance_class: db.t4g.small\n  storage_gb",
    );

    let plan = plan_json(&fixture, &moto, 2);
    assert_eq!(stack(&plan, "network")["action"], "no_changes");
    assert_eq!(stack(&plan, "bastion")["action"], "no_changes");
    assert_eq!(
        changes(&plan, "storage"),
        [
            ("modify".into(), "FeedFanoutQueue".into()),
            ("modify".into(), "PhotoUploadedQueue".into())
        ]
    );
    let queue = &stack(&plan, "storage")["changes"][1];
    assert_eq!(
        queue["properties"],
        serde_json::json!([{"path": "VisibilityTimeout", "before": 30, "after": 45, "replacement": "never"}])
    );
    assert_eq!(
        changes(&plan, "database"),
        [("modify".into(), "DatabasePrimary".into())]
    );
    let primary = &stack(&plan, "database")["changes"][0];
    assert_eq!(primary["replacement"], "never");
    assert_eq!(primary["properties"][0]["path"], "DBInstanceClass");

    support::strata_on(fixture.root(), &moto)
        .args(["plan", "--env", "dev"])
        .assert()
        .success()
        .stdout(contains("~ AWS::SQS::Queue"))
        .stdout(contains("VisibilityTimeout: 30 -> 45"))
        .stdout(contains(
            "DBInstanceClass: \"db.t4g.micro\" -> \"db.t4g.small\"",
        ))
        .stdout(contains(
            "Plan: 0 to add, 3 to modify (0 replacements), 0 to remove.",
        ));
}

#[test]
fn a_dependent_whose_inputs_change_with_its_upstream_is_planned_with_values_known_later() {
    let (moto, fixture) = deployed_dev();
    fixture.edit(
        "environments/dev.yaml",
        "  replicas:\n    count: 1",
        "  replicas:\n    count: 2",
    );

    let plan = plan_json(&fixture, &moto, 2);
    assert_eq!(
        changes(&plan, "database"),
        [("add".into(), "DatabaseReplica2".into())]
    );
    // The bastion's template is unchanged: moto creates its change set with no changes at all (and would
    // for a parameter-only update too), so what it does comes from strata's prediction.
    let bastion = stack(&plan, "bastion");
    assert_eq!(bastion["action"], "update");
    let readers = bastion["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "DatabaseReaderEndpoints")
        .unwrap();
    assert_eq!(readers["from"], "stack_output");
    assert_eq!(readers["value"]["state"], "after_apply");
    assert_eq!(readers["value"]["after"], "database");
    assert_eq!(readers["deployed"], readers["value"]["now"]);
    let writer = bastion["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "DatabaseWriterEndpoint")
        .unwrap();
    assert_eq!(
        writer["value"]["state"], "known",
        "the primary is untouched"
    );
    // The user data may replace the instance (conditionalCreateOnly in its schema), which moves the EIP.
    assert_eq!(
        changes(&plan, "bastion"),
        [
            ("modify".into(), "BastionEip".into()),
            ("modify".into(), "BastionInstance".into())
        ]
    );
    let instance = &bastion["changes"][1];
    assert_eq!(instance["replacement"], "conditional");
    assert_eq!(instance["replacement_source"], "predicted");
    assert_eq!(instance["properties"][0]["path"], "UserData");
    assert_eq!(
        instance["properties"][0]["parameter"],
        "DatabaseReaderEndpoints"
    );

    support::strata_on(fixture.root(), &moto)
        .args(["plan", "--env", "dev"])
        .assert()
        .success()
        .stdout(contains(
            "parameter DatabaseReaderEndpoints (output ReaderEndpoints of database): ",
        ))
        .stdout(contains(
            "-> known after database applies (apply plans this stack again then)",
        ))
        .stdout(contains(
            "UserData (through parameter DatabaseReaderEndpoints): ",
        ));
}

#[test]
fn replacements_are_flagged_and_stateful_ones_are_danger() {
    let (moto, fixture) = deployed_dev();
    fixture.edit(
        "environments/dev.yaml",
        "vpc_cidr: 10.10.0.0/16",
        "vpc_cidr: 10.11.0.0/16",
    );
    fixture.edit(
        "environments/base.yaml",
        "  name: feed\n",
        "  name: feeds\n",
    );

    let plan = plan_json(&fixture, &moto, 2);
    let vpc = stack(&plan, "network")["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["logical_id"] == "Vpc")
        .unwrap()
        .clone();
    assert_eq!(vpc["replacement"], "always");
    assert_eq!(vpc["replacement_source"], "predicted");
    assert_eq!(vpc["properties"][0]["path"], "CidrBlock");
    let primary = &stack(&plan, "database")["changes"][0];
    assert_eq!(primary["logical_id"], "DatabasePrimary");
    assert_eq!(primary["replacement"], "always");
    assert_eq!(primary["stateful"], true);

    support::strata_on(fixture.root(), &moto)
        .args(["plan", "--env", "dev"])
        .assert()
        .success()
        .stdout(contains("Vpc  [replacement (predicted)]"))
        .stdout(contains(
            "CidrBlock: \"10.10.0.0/16\" -> \"10.11.0.0/16\"  (forces replacement)",
        ))
        .stdout(contains(
            "!! DANGER DatabasePrimary (AWS::RDS::DBInstance) will be REPLACED",
        ));
}

#[test]
fn a_saved_plan_records_what_apply_needs() {
    let (moto, fixture) = deployed_dev();
    fixture.edit(
        "environments/dev.yaml",
        "visibility_timeout_seconds: 30",
        "visibility_timeout_seconds: 45",
    );
    let out = fixture.path("plan.json");
    support::strata_on(fixture.root(), &moto)
        .args(["plan", "--env", "dev", "--out"])
        .arg(&out)
        .assert()
        .success()
        .stdout(contains("Saved plan to"));
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(saved["environment"], "dev");
    assert_eq!(saved["account_id"], "111111111111");
    assert_eq!(saved["region"], "eu-west-1");
    assert_eq!(saved["strata_version"], env!("CARGO_PKG_VERSION"));
    let storage = stack(&saved, "storage");
    assert_eq!(storage["action"], "update");
    assert_eq!(storage["deployed_status"], "CREATE_COMPLETE");
    assert!(
        storage["change_set_id"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:cloudformation:")
    );
    assert_eq!(storage["template_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(
        storage["deployed_template_sha256"].as_str().unwrap().len(),
        64
    );
    assert_eq!(stack(&saved, "network")["action"], "no_changes");
}

#[test]
fn a_different_account_is_refused_before_any_stack_call() {
    let moto = Moto::start_in(&support::moto::default_venv(), "999999999999");
    let fixture = Fixture::copy_of_project();
    support::strata_on(fixture.root(), &moto)
        .args(["plan", "--env", "dev"])
        .assert()
        .code(1)
        .stderr(contains("refusing to touch environment `dev`: it belongs to account 111111111111, but the credentials in use are for account 999999999999"));
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let clients = support::clients(&moto).await;
        let stacks = clients.cloudformation.list_stacks().send().await.unwrap();
        assert!(
            stacks.stack_summaries().is_empty(),
            "no stack or change set was created"
        );
    });
}

#[test]
fn a_policy_violation_stops_plan_before_any_aws_call() {
    let fixture = Fixture::copy_of_project();
    fixture.edit("environments/dev.yaml", "- 203.0.113.0/24", "- 0.0.0.0/0");
    // Nothing listens on port 9: reaching AWS would fail with exit 1, not the policy's 3.
    support::strata(fixture.root())
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_MAX_ATTEMPTS", "1")
        .args(["plan", "--env", "dev"])
        .assert()
        .code(3)
        .stderr(contains("EC2_SG_NO_WORLD_INGRESS"))
        .stderr(contains("refusing to continue"));
}

/// Issue 10, finding 7, the plan side: a change of the bastion's user data is applied by a stop and
/// start of the instance (AWS::EC2::Instance, UserData: "Update requires: Some interruptions"), after
/// which the user data, which runs at every boot, rebuilds the forwarding; the plan says so (the
/// catalog's overlay), beside the schema's caution that an instance that cannot be stopped is replaced.
#[test]
fn a_user_data_change_is_planned_as_a_stop_and_start_of_the_bastion() {
    let (moto, fixture) = deployed_dev();
    fixture.edit(
        "stacks/bastion-user-data.sh.hbs",
        "set -euo pipefail\n",
        "set -euo pipefail\necho \"forwarding for {{environment}}\"\n",
    );
    let plan = plan_json(&fixture, &moto, 2);
    assert_eq!(
        changes(&plan, "bastion"),
        [("modify".to_string(), "BastionInstance".to_string())]
    );
    support::strata_on(fixture.root(), &moto)
        .args(["plan", "--env", "dev", "--no-color"])
        .assert()
        .success()
        .stdout(contains("BastionInstance  [may be replaced]"))
        .stdout(contains(
            "(may force replacement)  (in place: stops and starts the instance, which then boots with the new user data)",
        ));
}
