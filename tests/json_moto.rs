//! Every `--json` output is exactly one JSON document on stdout, with the human text and progress on stderr;
//! the plan and drift documents follow their published schemas (src/report/schema). One environment's life
//! on moto: validate, plan, apply, apply again, outputs, drift, destroy, and a command that fails.

mod support;

use std::process::Output;

use serde_json::Value;
use strata::report::{DRIFT_SCHEMA, PLAN_SCHEMA};
use support::Fixture;
use support::moto::Moto;
use support::schema::{assert_follows, one_document, violations};

fn run(fixture: &Fixture, moto: &Moto, args: &[&str]) -> Output {
    support::strata_on(fixture.root(), moto)
        .args(args)
        .output()
        .expect("strata runs")
}

/// The one document of a successful (or drift-finding) run.
fn document(output: &Output, codes: &[i32], what: &str) -> Value {
    assert!(
        output.status.code().is_some_and(|c| codes.contains(&c)),
        "{what}: exit {:?}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    one_document(&output.stdout, what)
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn every_json_output_is_one_document_and_plans_and_drift_follow_their_schemas() {
    let moto = Moto::start();
    let fixture = Fixture::copy_of_project();

    let validated = document(
        &run(&fixture, &moto, &["validate", "--json"]),
        &[0],
        "validate",
    );
    assert_eq!(validated.as_array().map(Vec::len), Some(3), "{validated}");

    let saved = fixture.path("plan.json");
    let planned = run(
        &fixture,
        &moto,
        &[
            "plan",
            "--env",
            "dev",
            "--json",
            "--out",
            saved.to_str().unwrap(),
        ],
    );
    let plan = document(&planned, &[0], "plan");
    assert_follows(PLAN_SCHEMA, &plan, "plan --json");
    assert!(
        plan["stacks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["action"] == "create")
    );
    let saved_plan: Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    assert_follows(PLAN_SCHEMA, &saved_plan, "the saved plan file");
    // The schemas hold: a plan with an action strata does not have, or a field it does not write, breaks them.
    let mut doctored = plan.clone();
    doctored["stacks"][0]["action"] = "explode".into();
    doctored["stacks"][1]["surprise"] = true.into();
    assert_eq!(violations(PLAN_SCHEMA, &doctored).len(), 2, "{doctored:#}");

    let applied = run(
        &fixture,
        &moto,
        &["apply", "--env", "dev", "--yes", "--json"],
    );
    let apply = document(&applied, &[0], "apply");
    assert_follows(PLAN_SCHEMA, &apply["plan"], "apply --json's plan");
    let outcomes: Vec<&str> = apply["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["succeeded"; 5], "{apply:#}");
    // The plan people read and the progress went to stderr.
    let progress = stderr(&applied);
    assert!(progress.contains("Plan for environment dev"), "{progress}");
    assert!(
        progress.contains("photofeed-dev-network  CREATE_COMPLETE"),
        "{progress}"
    );

    let again = document(
        &run(
            &fixture,
            &moto,
            &["apply", "--env", "dev", "--yes", "--json"],
        ),
        &[0],
        "apply with nothing to do",
    );
    assert_follows(PLAN_SCHEMA, &again["plan"], "apply --json's plan");
    assert!(
        again["stacks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["outcome"] == "unchanged"),
        "{again:#}"
    );

    let outputs = document(
        &run(&fixture, &moto, &["outputs", "--env", "dev", "--json"]),
        &[0],
        "outputs",
    );
    assert_eq!(outputs["stacks"].as_array().map(Vec::len), Some(5));

    // moto ignores properties real AWS applies (MOTO_NOTES §4), so the unaligned emulator shows drift: exit 2.
    let drift = document(
        &run(&fixture, &moto, &["drift", "--env", "dev", "--json"]),
        &[0, 2],
        "drift",
    );
    assert_follows(DRIFT_SCHEMA, &drift, "drift --json");
    let mut doctored = drift.clone();
    doctored["stacks"][0]["checked"] = (-1).into();
    assert_eq!(violations(DRIFT_SCHEMA, &doctored).len(), 1);
    assert!(!drift["notes"].as_array().unwrap().is_empty());

    let failed = run(&fixture, &moto, &["plan", "--env", "nope", "--json"]);
    let error = document(&failed, &[1], "a plan of an unknown environment");
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("unknown environment `nope`"),
        "{error}"
    );
    assert!(stderr(&failed).contains("unknown environment `nope`"));

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        support::deploy::delete_what_moto_cannot(&support::clients(&moto).await).await
    });
    let destroyed = run(
        &fixture,
        &moto,
        &["destroy", "--env", "dev", "--yes", "--json"],
    );
    let destroy = document(&destroyed, &[0], "destroy");
    assert_eq!(
        destroy["deleted"].as_array().map(Vec::len),
        Some(5),
        "{destroy:#}"
    );
    assert_eq!(destroy["stacks"][0]["stack"], "app");
    assert!(stderr(&destroyed).contains("Destroy environment dev"));
}
