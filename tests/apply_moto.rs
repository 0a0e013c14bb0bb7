//! `strata apply`, `outputs` and `destroy` against moto server, started per test by the harness.
//!
//! moto creates and updates stacks synchronously and emits only stack-level events, so these tests
//! check order, outcomes and AWS state; per-resource progress and rollback handling are tested on
//! recorded event sequences (src/report/progress.rs, src/watch/events.rs, src/apply/tests.rs).
//! Update paths use resources moto really updates: queues, buckets, security groups.

mod support;

use std::collections::BTreeMap;
use std::future::Future;

use predicates::str::contains;
use serde_json::Value;
use strata::aws::cloudformation::CloudFormation;
use strata::aws::{AwsClients, SdkCloudFormation};
use strata::project::Project;
use support::Fixture;
use support::moto::Moto;

fn block<F: Future>(future: F) -> F::Output {
    tokio::runtime::Runtime::new().unwrap().block_on(future)
}

fn stack_names(fixture: &Fixture, env: &str) -> Vec<String> {
    Project::open(fixture.root())
        .unwrap()
        .render(env)
        .unwrap()
        .stacks
        .iter()
        .map(|s| s.stack_name.clone())
        .collect()
}

/// Status and number of events of every stack of `env`: an execution anywhere changes the count.
fn snapshot(fixture: &Fixture, moto: &Moto, env: &str) -> BTreeMap<String, (String, usize)> {
    let names = stack_names(fixture, env);
    block(async {
        let clients = support::clients(moto).await;
        let cloudformation = SdkCloudFormation::new(clients.cloudformation.clone());
        let mut state = BTreeMap::new();
        for name in names {
            let status = match cloudformation.describe_stack(&name).await.unwrap() {
                Some(description) => description.status.to_string(),
                None => "ABSENT".to_owned(),
            };
            let events = if status == "ABSENT" {
                0
            } else {
                cloudformation
                    .describe_stack_events(&name, None)
                    .await
                    .unwrap()
                    .len()
            };
            state.insert(name, (status, events));
        }
        state
    })
}

fn apply(fixture: &Fixture, moto: &Moto, extra: &[&str]) -> std::process::Output {
    support::strata_on(fixture.root(), moto)
        .args(["apply", "--env", "dev", "--yes"])
        .args(extra)
        .output()
        .unwrap()
}

/// `strata plan --env dev --out path`, which must succeed.
fn save_plan(fixture: &Fixture, moto: &Moto, path: &std::path::Path) {
    support::strata_on(fixture.root(), moto)
        .args(["plan", "--env", "dev", "--out"])
        .arg(path)
        .assert()
        .success();
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_code(output: &std::process::Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
}

fn applied_dev() -> (Moto, Fixture) {
    let moto = Moto::start();
    let fixture = Fixture::copy_of_project();
    support::deploy::apply(fixture.root(), "dev", &moto);
    (moto, fixture)
}

/// dev without the app stack, for tests that rename the photo store: the app's functions import its
/// name, and CloudFormation refuses to remove an export in use, which is not what they are about.
fn applied_dev_without_app() -> (Moto, Fixture) {
    let moto = Moto::start();
    let fixture = Fixture::copy_of_project();
    fixture.remove("stacks/app.yaml");
    support::deploy::apply(fixture.root(), "dev", &moto);
    (moto, fixture)
}

fn position(haystack: &str, needle: &str) -> usize {
    haystack
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` not in:\n{haystack}"))
}

async fn queue_attribute(clients: &AwsClients, queue: &str, attribute: &str) -> String {
    let url = clients
        .sqs
        .get_queue_url()
        .queue_name(queue)
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    let attributes = clients
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(attribute.into())
        .send()
        .await
        .unwrap();
    attributes.attributes().unwrap()[&attribute.into()].clone()
}

#[test]
fn apply_from_nothing_creates_in_order_then_outputs_everything_and_reapplies_nothing() {
    let moto = Moto::start();
    let fixture = Fixture::copy_of_project();
    let first = apply(&fixture, &moto, &[]);
    assert_code(&first, 0);
    let progress = text(&first.stderr);
    // network first; database after network completed; bastion after database.
    let network_done = position(&progress, "photofeed-dev-network  CREATE_COMPLETE after");
    let database_start = position(&progress, "photofeed-dev-database  creating (6 resources)");
    let database_done = position(&progress, "photofeed-dev-database  CREATE_COMPLETE after");
    let bastion_start = position(&progress, "photofeed-dev-bastion  creating (5 resources)");
    assert!(
        network_done < database_start && database_done < bastion_start,
        "{progress}"
    );
    // The app's functions run in the network's subnets, consume the storage's queue and are
    // packaged into its artifact bucket: app after both, its code uploaded before its create.
    let storage_done = position(&progress, "photofeed-dev-storage  CREATE_COMPLETE after");
    let app_start = position(&progress, "photofeed-dev-app  creating");
    let uploaded = position(&progress, "photofeed-dev-app  uploaded the code of");
    let app_created = position(&progress, "photofeed-dev-app  CREATE_IN_PROGRESS");
    assert!(
        network_done < app_start && storage_done < app_start && uploaded < app_created,
        "{progress}"
    );
    assert!(
        text(&first.stdout)
            .contains("Apply complete: 5 created, 0 updated, 0 unchanged, 0 failed.")
    );
    let after_first = snapshot(&fixture, &moto, "dev");
    assert!(
        after_first
            .values()
            .all(|(status, _)| status == "CREATE_COMPLETE"),
        "{after_first:?}"
    );

    let outputs = support::strata_on(fixture.root(), &moto)
        .args(["outputs", "--env", "dev", "--json"])
        .output()
        .unwrap();
    assert_code(&outputs, 0);
    let outputs: Value = serde_json::from_slice(&outputs.stdout).unwrap();
    let rendered = Project::open(fixture.root())
        .unwrap()
        .render("dev")
        .unwrap();
    for stack in &rendered.stacks {
        let listed = outputs["stacks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["stack"] == stack.name.as_str())
            .unwrap();
        for name in stack.template.outputs.keys() {
            let value = listed["outputs"][name]["value"]
                .as_str()
                .unwrap_or_default();
            if stack.name == "app" && matches!(name.as_str(), "FeedApiId" | "FeedApiUrl") {
                // moto's CloudFormation skips every AWS::ApiGatewayV2::* resource: it drops the
                // output that is the API's Ref and leaves the `Fn::Sub` of the URL unresolved
                // (MOTO_NOTES section 12; tests/app_moto.rs). On AWS both name the API.
                assert!(
                    value.is_empty() || value.contains("${FeedApi}"),
                    "moto now lists {name}: {value}"
                );
                continue;
            }
            if name == "MasterUserSecretArn" {
                // The secret's `Ref` is its ARN (moto creates it through tests/support/moto_server.py).
                assert!(
                    value.starts_with("arn:aws:secretsmanager:eu-west-1:111111111111:secret:"),
                    "{name}: {value}"
                );
            }
            assert!(!value.is_empty(), "{}: output {name} missing", stack.name);
        }
    }
    let database = &outputs["stacks"][1]["outputs"];
    assert_eq!(database["Port"]["value"], "5432");
    assert!(
        database["WriterEndpoint"]["value"]
            .as_str()
            .unwrap()
            .contains("primary")
    );
    assert!(outputs["stacks"][2]["outputs"]["BastionPublicIp"]["value"].is_string());
    // The bastion's image comes from the public SSM parameter through an
    // AWS::SSM::Parameter::Value<AWS::EC2::Image::Id> template parameter (issue 10, finding 2).
    // moto resolves such parameters from its own copy of AWS's public parameters: in eu-west-1,
    // al2023-ami-kernel-default-x86_64 names ami-087fc0fcee2c7570a (MOTO_NOTES section 4).
    let bastion = outputs["stacks"][2]["outputs"]["BastionInstanceId"]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let image = block(async {
        let clients = support::clients(&moto).await;
        let described = clients
            .ec2
            .describe_instances()
            .instance_ids(&bastion)
            .send()
            .await
            .unwrap();
        described.reservations()[0].instances()[0]
            .image_id()
            .unwrap()
            .to_owned()
    });
    assert_eq!(image, "ami-087fc0fcee2c7570a");

    let second = apply(&fixture, &moto, &[]);
    assert_code(&second, 0);
    assert!(text(&second.stdout).contains("No changes."));
    assert_eq!(
        snapshot(&fixture, &moto, "dev"),
        after_first,
        "a second apply executed something"
    );
}

#[test]
fn a_changed_setting_updates_only_that_stack() {
    let (moto, fixture) = applied_dev();
    let before = snapshot(&fixture, &moto, "dev");
    fixture.edit(
        "environments/dev.yaml",
        "visibility_timeout_seconds: 30",
        "visibility_timeout_seconds: 45",
    );
    let output = apply(&fixture, &moto, &[]);
    assert_code(&output, 0);
    assert!(text(&output.stdout).contains("photofeed-dev-storage   updated (UPDATE_COMPLETE"));
    let after = snapshot(&fixture, &moto, "dev");
    for (stack, state) in &after {
        if stack == "photofeed-dev-storage" {
            assert_eq!(state.0, "UPDATE_COMPLETE");
        } else {
            assert_eq!(state, &before[stack], "{stack} was touched");
        }
    }
    let timeout = block(async {
        let clients = support::clients(&moto).await;
        queue_attribute(&clients, "photofeed-dev-photoUploaded", "VisibilityTimeout").await
    });
    assert_eq!(timeout, "45");
}

#[test]
fn replacing_stateful_resources_needs_allow_replace() {
    let (moto, fixture) = applied_dev_without_app();
    let before = snapshot(&fixture, &moto, "dev");
    // A new bucket purpose renames the bucket: the photo store would be removed.
    fixture.edit(
        "stacks/storage.yaml",
        "  - purpose: photos",
        "  - purpose: pictures",
    );
    // A new database name replaces the primary.
    fixture.edit(
        "environments/base.yaml",
        "  name: feed\n",
        "  name: feeds\n",
    );

    let refused = apply(&fixture, &moto, &[]);
    assert_code(&refused, 1);
    let error = text(&refused.stderr);
    assert!(
        error.contains("refusing to apply: the plan destroys data"),
        "{error}"
    );
    assert!(
        error.contains("photofeed-dev-storage removes PhotosBucket (AWS::S3::Bucket)"),
        "{error}"
    );
    assert!(
        error.contains("photofeed-dev-database replaces DatabasePrimary (AWS::RDS::DBInstance)"),
        "{error}"
    );
    assert!(error.contains("Nothing was executed"));
    assert_eq!(
        snapshot(&fixture, &moto, "dev"),
        before,
        "a refused apply executed something"
    );

    // Allowing only the bucket is still a refusal for the database.
    let partly = apply(&fixture, &moto, &["--allow-replace", "PhotosBucket"]);
    assert_code(&partly, 1);
    assert!(!text(&partly.stderr).contains("PhotosBucket (AWS::S3::Bucket)"));
    assert_eq!(snapshot(&fixture, &moto, "dev"), before);

    fixture.edit(
        "environments/base.yaml",
        "  name: feeds\n",
        "  name: feed\n",
    );
    // A saved plan is judged by its change set, not by the change list written in the file.
    let saved = fixture.path("plan.json");
    save_plan(&fixture, &moto, &saved);
    let mut doctored: Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    for stack in doctored["stacks"].as_array_mut().unwrap() {
        stack["changes"] = Value::Array(Vec::new());
    }
    std::fs::write(&saved, doctored.to_string()).unwrap();
    support::strata_on(fixture.root(), &moto)
        .args(["apply", "--env", "dev", "--plan"])
        .arg(&saved)
        .assert()
        .code(1)
        .stderr(contains("photofeed-dev-storage removes PhotosBucket"));
    assert_eq!(snapshot(&fixture, &moto, "dev"), before);

    let allowed = apply(&fixture, &moto, &["--allow-replace", "PhotosBucket"]);
    assert_code(&allowed, 0);
    block(async {
        let clients = support::clients(&moto).await;
        clients
            .s3
            .head_bucket()
            .bucket("photofeed-dev-pictures-111111111111")
            .send()
            .await
            .expect("the renamed bucket exists");
    });
}

#[test]
fn a_stale_saved_plan_is_refused_and_a_fresh_one_applies() {
    let (moto, fixture) = applied_dev();
    let saved = fixture.path("plan.json");
    let plan_out = |fixture: &Fixture| save_plan(fixture, &moto, &saved);
    let apply_saved = |fixture: &Fixture| {
        support::strata_on(fixture.root(), &moto)
            .args(["apply", "--env", "dev", "--plan"])
            .arg(&saved)
            .output()
            .unwrap()
    };
    fixture.edit(
        "environments/dev.yaml",
        "visibility_timeout_seconds: 30",
        "visibility_timeout_seconds: 45",
    );
    plan_out(&fixture);

    // The definitions changed after the plan was made.
    fixture.edit(
        "environments/dev.yaml",
        "visibility_timeout_seconds: 45",
        "visibility_timeout_seconds: 60",
    );
    let refused = apply_saved(&fixture);
    assert_code(&refused, 1);
    assert!(
        text(&refused.stderr)
            .contains("the definitions now render a different template for photofeed-dev-storage")
    );

    // Someone applied in between: the deployed stack is no longer what the plan was made against.
    fixture.edit(
        "environments/dev.yaml",
        "visibility_timeout_seconds: 60",
        "visibility_timeout_seconds: 45",
    );
    plan_out(&fixture);
    assert_code(&apply(&fixture, &moto, &[]), 0);
    let before = snapshot(&fixture, &moto, "dev");
    let refused = apply_saved(&fixture);
    assert_code(&refused, 1);
    let error = text(&refused.stderr);
    assert!(
        error.contains("saved plan") && error.contains("cannot be applied"),
        "{error}"
    );
    assert!(error.contains("photofeed-dev-storage was"), "{error}");
    assert!(error.contains("Run `strata plan --out` again"), "{error}");
    assert_eq!(snapshot(&fixture, &moto, "dev"), before);

    // A fresh plan applies without a prompt: it is the reviewed confirmation.
    fixture.edit(
        "environments/dev.yaml",
        "visibility_timeout_seconds: 45",
        "visibility_timeout_seconds: 50",
    );
    plan_out(&fixture);
    let applied = apply_saved(&fixture);
    assert_code(&applied, 0);
    let timeout = block(async {
        let clients = support::clients(&moto).await;
        queue_attribute(&clients, "photofeed-dev-feedFanout", "VisibilityTimeout").await
    });
    assert_eq!(timeout, "50");
}

#[test]
fn without_a_terminal_apply_needs_yes_or_a_plan() {
    let moto = Moto::start();
    let fixture = Fixture::copy_of_project();
    support::strata_on(fixture.root(), &moto)
        .args(["apply", "--env", "dev"])
        .assert()
        .code(1)
        .stderr(contains(
            "no terminal to ask on: pass --yes (or apply a reviewed plan with --plan FILE)",
        ));
    assert!(
        snapshot(&fixture, &moto, "dev")
            .values()
            .all(|(status, _)| status == "ABSENT")
    );
}

#[test]
fn at_a_terminal_apply_asks_and_only_yes_proceeds() {
    let (moto, fixture) = applied_dev();
    fixture.edit(
        "environments/dev.yaml",
        "visibility_timeout_seconds: 30",
        "visibility_timeout_seconds: 45",
    );
    let before = snapshot(&fixture, &moto, "dev");

    let declined = support::strata_on_terminal(fixture.root(), &moto, "apply --env dev", "no\n");
    assert_code(&declined, 1);
    let screen = text(&declined.stdout);
    assert!(
        screen.contains("Apply these changes to dev (account 111111111111, region eu-west-1)?"),
        "{screen}"
    );
    assert!(
        screen.contains("cancelled; nothing was changed"),
        "{screen}"
    );
    assert_eq!(snapshot(&fixture, &moto, "dev"), before);
    // The declined plan's change set is not left behind.
    let left = block(async {
        let clients = support::clients(&moto).await;
        let listed = clients
            .cloudformation
            .list_change_sets()
            .stack_name("photofeed-dev-storage")
            .send()
            .await
            .unwrap();
        listed
            .summaries()
            .iter()
            .filter(|s| s.execution_status().map(|e| e.as_str()) == Some("AVAILABLE"))
            .count()
    });
    assert_eq!(left, 0);

    let accepted = support::strata_on_terminal(fixture.root(), &moto, "apply --env dev", "yes\n");
    assert_code(&accepted, 0);
    assert!(text(&accepted.stdout).contains("Apply complete: 0 created, 1 updated"));
}

#[test]
fn a_failed_update_reports_its_root_cause_and_the_next_apply_recovers() {
    let (moto, fixture) = applied_dev_without_app();
    fixture.edit(
        "stacks/storage.yaml",
        "  - purpose: photos",
        "  - purpose: pictures",
    );
    // Someone else already owns the new bucket name: the classic failure of a bucket rename.
    let squat = |create: bool| {
        block(async {
            let clients = support::clients(&moto).await;
            let bucket = "photofeed-dev-pictures-111111111111";
            if create {
                clients
                    .s3
                    .create_bucket()
                    .bucket(bucket)
                    .create_bucket_configuration(
                        aws_sdk_s3::types::CreateBucketConfiguration::builder()
                            .location_constraint("eu-west-1".into())
                            .build(),
                    )
                    .send()
                    .await
                    .unwrap();
            } else {
                clients
                    .s3
                    .delete_bucket()
                    .bucket(bucket)
                    .send()
                    .await
                    .unwrap();
            }
        })
    };
    squat(true);
    // On AWS the bucket fails with CREATE_FAILED and the update rolls back; moto refuses the
    // ExecuteChangeSet call itself and leaves the stack as it was. Either way the cause is reported.
    let failed = apply(&fixture, &moto, &["--allow-replace", "PhotosBucket"]);
    assert_code(&failed, 1);
    let report = text(&failed.stdout);
    assert!(
        report.contains("photofeed-dev-storage   FAILED"),
        "{report}"
    );
    assert!(
        report.contains("root cause:") && report.contains("BucketAlreadyExists"),
        "{report}"
    );
    assert!(
        text(&failed.stderr).contains("apply of environment dev failed: photofeed-dev-storage")
    );

    squat(false);
    let recovered = apply(&fixture, &moto, &["--allow-replace", "PhotosBucket"]);
    assert_code(&recovered, 0);
    assert!(text(&recovered.stdout).contains("photofeed-dev-storage   updated"));
    let again = apply(&fixture, &moto, &[]);
    assert_code(&again, 0);
    assert!(text(&again.stdout).contains("No changes."));
}

#[test]
fn destroy_removes_the_dev_stacks_in_reverse_order() {
    let (moto, fixture) = applied_dev();
    support::strata_on(fixture.root(), &moto)
        .args(["destroy", "--env", "dev"])
        .assert()
        .code(1)
        .stderr(contains("destroy changes AWS and needs confirmation"));
    assert!(
        snapshot(&fixture, &moto, "dev")
            .values()
            .all(|(s, _)| s != "ABSENT")
    );

    block(async { support::deploy::delete_what_moto_cannot(&support::clients(&moto).await).await });
    let output = support::strata_on(fixture.root(), &moto)
        .args(["destroy", "--env", "dev", "--yes"])
        .output()
        .unwrap();
    assert_code(&output, 0);
    let progress = text(&output.stderr);
    let order: Vec<usize> = ["app", "storage", "bastion", "database", "network"]
        .iter()
        .map(|s| position(&progress, &format!("photofeed-dev-{s}  deleting")))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{progress}");
    let report = text(&output.stdout);
    assert!(
        report.contains("Destroyed environment dev: 5 stacks deleted"),
        "{report}"
    );
    assert!(
        report.contains(
            "kept: PhotosBucket (AWS::S3::Bucket, photofeed-dev-photos-111111111111) retained"
        ),
        "{report}"
    );
    assert!(
        report.contains("kept: DatabasePrimary (AWS::RDS::DBInstance"),
        "{report}"
    );
    assert!(
        snapshot(&fixture, &moto, "dev")
            .values()
            .all(|(s, _)| s == "ABSENT")
    );
}

#[test]
fn prod_stacks_are_termination_protected_and_destroy_refuses_them() {
    let moto = Moto::start_in(&support::moto::default_venv(), "333333333333");
    let fixture = Fixture::copy_of_project();
    // moto 5.2.5's CloudFormation cannot create an AWS::KMS::Key with Tags in the schema's
    // Key/Value form (it hands them to KMS, which wants TagKey/TagValue) and fails every resource
    // using the key (MOTO_NOTES section 10): prod's buckets and queues keep AWS-managed keys here.
    // Their key policies are checked on the rendered templates (tests/templates.rs), and
    // production.guard, which requires those keys, reports here without blocking.
    let prod = std::fs::read_to_string(fixture.root().join("environments/prod.yaml")).unwrap();
    let without_keys = prod
        .replace(
            "encryption_key: customer_managed",
            "encryption_key: aws_managed",
        )
        .replace("  production: error", "  production: warn");
    assert_eq!(without_keys.matches("aws_managed").count(), 2);
    assert!(without_keys.contains("  production: warn"));
    fixture.write("environments/prod.yaml", &without_keys);
    support::strata_on(fixture.root(), &moto)
        .args(["apply", "--env", "prod", "--yes"])
        .assert()
        .success();
    let names = stack_names(&fixture, "prod");
    block(async {
        let clients = support::clients(&moto).await;
        let cloudformation = SdkCloudFormation::new(clients.cloudformation.clone());
        for name in &names {
            let described = cloudformation.describe_stack(name).await.unwrap().unwrap();
            assert!(described.termination_protection, "{name}");
        }
    });
    let output = support::strata_on(fixture.root(), &moto)
        .args(["destroy", "--env", "prod", "--yes"])
        .output()
        .unwrap();
    assert_code(&output, 1);
    let error = text(&output.stderr);
    assert!(
        error.contains("refusing to destroy environment prod"),
        "{error}"
    );
    assert!(
        error.contains("photofeed-prod-network has termination protection on"),
        "{error}"
    );
    assert!(error.contains("update-termination-protection --no-enable-termination-protection --stack-name photofeed-prod-network"));
    assert!(
        error.contains("DatabasePrimary in photofeed-prod-database has deletion protection on"),
        "{error}"
    );
    // Issue 14: protected replicas and the protected bastion name the setting that lifts it.
    assert!(
        error.contains("DatabaseReplica1 in photofeed-prod-database has deletion protection on. Set `database.replicas.deletion_protection: false`"),
        "{error}"
    );
    assert!(
        error.contains("BastionInstance in photofeed-prod-bastion has deletion protection on. Set `bastion.termination_protection: false`"),
        "{error}"
    );
    assert!(
        snapshot(&fixture, &moto, "prod")
            .values()
            .all(|(s, _)| s == "CREATE_COMPLETE")
    );
}

/// A raw resource is protected like a component's: replacing a DynamoDB table declared as plain
/// CloudFormation needs `--allow-replace`. moto gives no `Replacement` in change sets, so the
/// refusal rests on strata's catalog (TableName is create-only in the table's schema).
#[test]
fn replacing_a_raw_dynamodb_table_needs_allow_replace() {
    let moto = Moto::start();
    let fixture = Fixture::copy_of_project();
    fixture.write("stacks/sessions.yaml", support::SESSIONS_STACK);
    let only_sessions = ["--stack", "sessions"];
    assert_code(&apply(&fixture, &moto, &only_sessions), 0);
    let table = || {
        block(async {
            let clients = support::clients(&moto).await;
            let resources = SdkCloudFormation::new(clients.cloudformation.clone())
                .list_stack_resources("photofeed-dev-sessions")
                .await
                .unwrap();
            resources
                .into_iter()
                .find(|r| r.logical_id == "SessionsTable")
                .and_then(|r| r.physical_id)
        })
    };
    assert_eq!(table().as_deref(), Some("photofeed-dev-sessions"));
    let before = snapshot(&fixture, &moto, "dev");

    fixture.edit("stacks/sessions.yaml", "-sessions\"", "-user-sessions\"");
    let refused = apply(&fixture, &moto, &only_sessions);
    assert_code(&refused, 1);
    let error = text(&refused.stderr);
    assert!(
        error.contains("photofeed-dev-sessions replaces SessionsTable (AWS::DynamoDB::Table)"),
        "{error}"
    );
    assert!(error.contains("Nothing was executed"), "{error}");
    assert_eq!(
        snapshot(&fixture, &moto, "dev"),
        before,
        "a refused apply executed something"
    );
    let plan = text(&refused.stdout);
    assert!(plan.contains("TableName"), "{plan}");

    let allowed = apply(
        &fixture,
        &moto,
        &["--stack", "sessions", "--allow-replace", "SessionsTable"],
    );
    // Allowed, it executes. (moto then drops the replaced table from the stack's resources, as it
    // does for replaced instances: tests/support/MOTO_NOTES.md.)
    assert_code(&allowed, 0);
    assert!(
        text(&allowed.stdout).contains("Apply complete: 0 created, 1 updated"),
        "{}",
        text(&allowed.stdout)
    );
}

/// The deployed stack's status, `ABSENT` when there is none.
fn stack_status(moto: &Moto, name: &str) -> String {
    block(async {
        let clients = support::clients(moto).await;
        SdkCloudFormation::new(clients.cloudformation.clone())
            .describe_stack(name)
            .await
            .unwrap()
            .map(|d| d.status.to_string())
            .unwrap_or_else(|| "ABSENT".to_owned())
    })
}

/// A stack whose definition was removed is found by its tags and name prefix (ListStacks, DescribeStacks),
/// planned as a removal, refused without `--allow-remove` (nothing executed), deleted with it; the bastion's
/// instance goes with it.
#[test]
fn a_stack_whose_definition_is_removed_is_planned_as_a_removal_and_deleted_only_when_allowed() {
    let (moto, fixture) = applied_dev();
    fixture.remove("stacks/bastion.yaml");
    let plan = |extra: &[&str]| {
        support::strata_on(fixture.root(), &moto)
            .args(["plan", "--env", "dev", "--detailed-exitcode"])
            .args(extra)
            .output()
            .unwrap()
    };
    let planned = plan(&[]);
    assert_code(&planned, 2);
    let shown = text(&planned.stdout);
    assert!(
        shown.contains("photofeed-dev-bastion  remove: deployed (CREATE_COMPLETE), but no stack definition renders it any more; apply deletes it only with --allow-remove bastion"),
        "{shown}"
    );
    assert!(shown.contains("- AWS::EC2::Instance"), "{shown}");
    assert!(
        shown.contains("1 stack without a definition removed (--allow-remove bastion)"),
        "{shown}"
    );
    let document = support::schema::one_document(&plan(&["--json"]).stdout, "plan --json");
    support::schema::assert_follows(strata::report::PLAN_SCHEMA, &document, "plan --json");
    assert_eq!(document["removals"][0]["stack"], "bastion");
    assert_eq!(document["removals"][0]["phase"], "after_updates");

    let bastion_instance = block(async {
        let clients = support::clients(&moto).await;
        SdkCloudFormation::new(clients.cloudformation.clone())
            .list_stack_resources("photofeed-dev-bastion")
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.resource_type == "AWS::EC2::Instance")
            .and_then(|r| r.physical_id)
            .expect("the bastion stack lists its instance")
    });
    let before = snapshot(&fixture, &moto, "dev");
    let refused = apply(&fixture, &moto, &[]);
    assert_code(&refused, 1);
    let error = text(&refused.stderr);
    assert!(
        error.contains(
            "photofeed-dev-bastion has no stack definition any more and would be deleted"
        ) && error.contains("name it with --allow-remove bastion")
            && error.contains("Nothing was executed"),
        "{error}"
    );
    assert_eq!(snapshot(&fixture, &moto, "dev"), before);
    assert_eq!(
        stack_status(&moto, "photofeed-dev-bastion"),
        "CREATE_COMPLETE"
    );

    let allowed = apply(&fixture, &moto, &["--allow-remove", "bastion"]);
    assert_code(&allowed, 0);
    let report = text(&allowed.stdout);
    assert!(
        report
            .lines()
            .any(|line| line.starts_with("photofeed-dev-bastion ")
                && line.contains("  removed (DELETE_COMPLETE")),
        "{report}"
    );
    assert!(report.contains("1 removed, 4 unchanged"), "{report}");
    assert_eq!(stack_status(&moto, "photofeed-dev-bastion"), "ABSENT");
    assert_eq!(
        snapshot(&fixture, &moto, "dev"),
        before,
        "the other stacks untouched"
    );
    let state = block(async {
        let clients = support::clients(&moto).await;
        let reservations = clients
            .ec2
            .describe_instances()
            .instance_ids(&bastion_instance)
            .send()
            .await
            .unwrap();
        reservations
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .map(|i| format!("{:?}", i.state().and_then(|s| s.name())))
            .collect::<Vec<_>>()
    });
    // By its id: moto re-creates an instance when it resolves the deleted stack's outputs (MOTO_NOTES §5).
    assert_eq!(
        state,
        ["Some(Terminated)"],
        "the bastion instance is gone with its stack"
    );

    let settled = plan(&[]);
    assert_code(&settled, 0);
    assert!(text(&settled.stdout).contains("No changes."));
}

#[test]
fn destroy_after_removing_a_definition_deletes_that_stack_too() {
    let (moto, fixture) = applied_dev();
    fixture.remove("stacks/bastion.yaml");
    block(async { support::deploy::delete_what_moto_cannot(&support::clients(&moto).await).await });
    let output = support::strata_on(fixture.root(), &moto)
        .args(["destroy", "--env", "dev", "--yes"])
        .output()
        .unwrap();
    assert_code(&output, 0);
    let shown = text(&output.stdout);
    assert!(
        shown.contains("photofeed-dev-bastion  (CREATE_COMPLETE, ")
            && shown.contains("; no definition any more)"),
        "{shown}"
    );
    assert!(
        shown.contains("Destroyed environment dev: 5 stacks deleted"),
        "{shown}"
    );
    for stack in ["network", "database", "bastion", "storage", "app"] {
        assert_eq!(
            stack_status(&moto, &format!("photofeed-dev-{stack}")),
            "ABSENT",
            "{stack}"
        );
    }
}

/// A saved plan carries its removals (and follows the plan schema): `apply --plan` still needs
/// `--allow-remove`, refuses the file once the stack has a definition again, and deletes the stack when
/// allowed.
#[test]
fn a_saved_plan_with_a_removal_deletes_the_stack_only_when_allowed_and_still_undefined() {
    let (moto, fixture) = applied_dev();
    let definition = std::fs::read_to_string(fixture.path("stacks/bastion.yaml")).unwrap();
    fixture.remove("stacks/bastion.yaml");
    let saved = fixture.path("plan.json");
    save_plan(&fixture, &moto, &saved);
    let document: Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    support::schema::assert_follows(strata::report::PLAN_SCHEMA, &document, "plan --out");
    assert_eq!(
        document["removals"][0]["stack_name"],
        "photofeed-dev-bastion"
    );
    let apply_saved = |extra: &[&str]| {
        support::strata_on(fixture.root(), &moto)
            .args(["apply", "--env", "dev", "--plan"])
            .arg(&saved)
            .args(extra)
            .output()
            .unwrap()
    };

    let refused = apply_saved(&[]);
    assert_code(&refused, 1);
    assert!(
        text(&refused.stderr).contains("name it with --allow-remove bastion"),
        "{}",
        text(&refused.stderr)
    );
    assert_eq!(
        stack_status(&moto, "photofeed-dev-bastion"),
        "CREATE_COMPLETE"
    );

    std::fs::write(fixture.path("stacks/bastion.yaml"), &definition).unwrap();
    let stale = apply_saved(&["--allow-remove", "bastion"]);
    assert_code(&stale, 1);
    assert!(
        text(&stale.stderr)
            .contains("it removes photofeed-dev-bastion, which has a definition again"),
        "{}",
        text(&stale.stderr)
    );
    assert_eq!(
        stack_status(&moto, "photofeed-dev-bastion"),
        "CREATE_COMPLETE"
    );

    fixture.remove("stacks/bastion.yaml");
    let allowed = apply_saved(&["--allow-remove", "bastion", "--json"]);
    assert_code(&allowed, 0);
    let report = support::schema::one_document(&allowed.stdout, "apply --plan --json");
    assert_eq!(report["removed"][0]["stack_name"], "photofeed-dev-bastion");
    assert_eq!(report["removed"][0]["outcome"], "succeeded", "{report}");
    support::schema::assert_follows(
        strata::report::PLAN_SCHEMA,
        &report["plan"],
        "apply --json plan",
    );
    assert_eq!(stack_status(&moto, "photofeed-dev-bastion"), "ABSENT");
}
