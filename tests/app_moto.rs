//! The application tier on moto: the notes-service example (HTTP API -> function -> DynamoDB) applied
//! with `strata apply` as a user would, its plan after a handler change, and drift of a function.
//!
//! What moto 5.2.5 cannot show (tests/support/MOTO_NOTES.md, "Application tier"): its CloudFormation
//! skips every `AWS::ApiGatewayV2::*` resource, so the HTTP API, its stage and routes are checked by
//! cfn-lint, the policies and the snapshot tests (tests/templates.rs), not here.

mod support;

use serde_json::Value;
use support::Fixture;
use support::moto::Moto;

const ARTIFACTS: &str = "notes-dev-artifacts-111111111111";

fn block<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Runtime::new().unwrap().block_on(future)
}

fn strata(fixture: &Fixture, moto: &Moto, args: &[&str], code: i32) -> String {
    let output = support::strata_on(fixture.root(), moto)
        .args(args)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(code),
        "strata {}\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn plan(fixture: &Fixture, moto: &Moto, code: i32) -> Value {
    let text = strata(
        fixture,
        moto,
        &["plan", "--env", "dev", "--json", "--detailed-exitcode"],
        code,
    );
    serde_json::from_str(&text).expect("plan --json prints JSON")
}

/// (stack, action, logical id) of every change in the plan.
fn changes(plan: &Value) -> Vec<(String, String, String)> {
    let mut found = Vec::new();
    for stack in plan["stacks"].as_array().unwrap() {
        for change in stack["changes"].as_array().unwrap() {
            found.push((
                stack["stack"].as_str().unwrap().to_owned(),
                change["action"].as_str().unwrap().to_owned(),
                change["logical_id"].as_str().unwrap().to_owned(),
            ));
        }
    }
    found
}

async fn artifact_keys(moto: &Moto) -> Vec<String> {
    let clients = support::clients(moto).await;
    let listed = clients
        .s3
        .list_objects_v2()
        .bucket(ARTIFACTS)
        .send()
        .await
        .unwrap();
    let mut keys: Vec<String> = listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    keys.sort();
    keys
}

#[test]
fn the_notes_service_applies_reapplies_nothing_and_a_handler_change_updates_only_its_function() {
    let moto = Moto::start();
    let fixture = Fixture::copy_of("examples/notes-service");
    support::deploy::apply(fixture.root(), "dev", &moto);

    let keys = block(async {
        let clients = support::clients(&moto).await;
        let listed = clients.lambda.list_functions().send().await.unwrap();
        let mut functions: Vec<(String, Option<i32>, String)> = listed
            .functions()
            .iter()
            .map(|f| {
                (
                    f.function_name().unwrap_or_default().to_owned(),
                    f.memory_size(),
                    f.runtime()
                        .map(|r| r.as_str().to_owned())
                        .unwrap_or_default(),
                )
            })
            .collect();
        functions.sort();
        assert_eq!(
            functions,
            [
                ("notes-dev-importer".into(), Some(128), "nodejs22.x".into()),
                ("notes-dev-notesApi".into(), Some(256), "nodejs22.x".into()),
                ("notes-dev-stats".into(), Some(128), "nodejs22.x".into()),
            ]
        );
        let table = clients
            .dynamodb
            .describe_table()
            .table_name("notes-dev-notes")
            .send()
            .await
            .unwrap();
        let table = table.table().unwrap();
        assert_eq!(
            table
                .billing_mode_summary()
                .and_then(|b| b.billing_mode())
                .map(|m| m.as_str()),
            Some("PAY_PER_REQUEST")
        );
        let keys = artifact_keys(&moto).await;
        assert_eq!(keys.len(), 3, "one package per function: {keys:?}");
        assert!(
            keys.iter()
                .all(|k| k.len() == 64 + 4 && k.ends_with(".zip")),
            "{keys:?}"
        );
        keys
    });

    // A second apply and a plan see nothing to do, and nothing is uploaded again.
    let reapplied = strata(&fixture, &moto, &["apply", "--env", "dev", "--yes"], 0);
    assert!(!reapplied.contains("uploaded"), "{reapplied}");
    assert_eq!(changes(&plan(&fixture, &moto, 0)), []);

    // One handler file changes: the plan is exactly that function's update, to a new package.
    fixture.edit(
        "stacks/functions/notes-api/index.mjs",
        "Limit: 100",
        "Limit: 50",
    );
    let changed = plan(&fixture, &moto, 2);
    assert_eq!(
        changes(&changed),
        [("service".into(), "modify".into(), "NotesApiFunction".into())]
    );
    let function = &changed["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stack"] == "service")
        .unwrap()["changes"][0];
    let paths: Vec<&str> = function["properties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["Code.S3Key"], "{function}");
    assert_eq!(function["replacement"], "never");

    strata(&fixture, &moto, &["apply", "--env", "dev", "--yes"], 0);
    let after = block(artifact_keys(&moto));
    assert_eq!(
        after.len(),
        4,
        "the new package beside the old ones: {after:?}"
    );
    assert!(keys.iter().all(|k| after.contains(k)));
    assert_eq!(changes(&plan(&fixture, &moto, 0)), []);
}

#[test]
fn a_function_memory_size_changed_out_of_band_is_drift() {
    let moto = Moto::start();
    let fixture = Fixture::copy_of("examples/notes-service");
    support::deploy::apply(fixture.root(), "dev", &moto);
    let clean: Value = serde_json::from_str(&strata(
        &fixture,
        &moto,
        &["drift", "--env", "dev", "--json"],
        0,
    ))
    .unwrap();
    assert!(clean["stacks"].is_array());

    block(async {
        let clients = support::clients(&moto).await;
        clients
            .lambda
            .update_function_configuration()
            .function_name("notes-dev-notesApi")
            .memory_size(1024)
            .send()
            .await
            .unwrap();
    });
    let report: Value = serde_json::from_str(&strata(
        &fixture,
        &moto,
        &["drift", "--env", "dev", "--json"],
        2,
    ))
    .unwrap();
    let mut drifted = Vec::new();
    for stack in report["stacks"].as_array().unwrap() {
        for resource in stack["resources"].as_array().unwrap() {
            for difference in resource["differences"].as_array().into_iter().flatten() {
                drifted.push((
                    resource["logical_id"].as_str().unwrap().to_owned(),
                    difference["path"].as_str().unwrap().to_owned(),
                    difference["expected"].clone(),
                    difference["actual"].clone(),
                ));
            }
        }
    }
    assert_eq!(
        drifted,
        [(
            "NotesApiFunction".into(),
            "MemorySize".into(),
            serde_json::json!(256),
            serde_json::json!(1024)
        )]
    );
    let human = strata(&fixture, &moto, &["drift", "--env", "dev"], 2);
    assert!(
        human.contains("MemorySize") && human.contains("1024"),
        "{human}"
    );
}
