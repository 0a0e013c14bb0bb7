//! `plan`'s pre-flight checks against a real wire protocol: what only the account can answer stops the plan
//! with exit 1, naming the setting, before any change set exists.
//!
//! moto answers the image, instance-type, SSM and HeadBucket questions as AWS does except two ways
//! (tests/support/MOTO_NOTES.md section 9): HeadBucket of a bucket another account owns answers 200, where S3
//! answers 403, so that answer comes from the test's proxy in front of moto (S3's documented 403, never
//! forwarded); and DescribeDBEngineVersions is not implemented, so the engine-version and instance-class check
//! says it did not run (it is unit-tested on data in `strata::preflight`).

mod support;

use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use serde_json::Value;
use strata::project::Project;
use support::Fixture;
use support::faults::{FaultProxy, Faults};
use support::moto::Moto;

fn block<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Runtime::new().unwrap().block_on(future)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn plan(command: &mut assert_cmd::Command) -> std::process::Output {
    command
        .args(["plan", "--env", "dev", "--detailed-exitcode"])
        .output()
        .expect("strata runs")
}

/// Change sets of every dev stack, as CloudFormation lists them.
fn change_sets(moto: &Moto, fixture: &Fixture) -> Vec<String> {
    let rendered = Project::open(fixture.root())
        .unwrap()
        .render("dev")
        .unwrap();
    block(async {
        let clients = support::clients(moto).await;
        let mut found = Vec::new();
        for stack in &rendered.stacks {
            let listed = clients
                .cloudformation
                .list_change_sets()
                .stack_name(&stack.stack_name)
                .send()
                .await
                .unwrap();
            for summary in listed.summaries() {
                found.push(format!(
                    "{} {}",
                    stack.stack_name,
                    summary.change_set_name().unwrap_or("?")
                ));
            }
        }
        found
    })
}

/// Clients of the moto server in us-west-2, another region than the environment's.
async fn oregon(moto: &Moto) -> strata::aws::AwsClients {
    let settings = strata::aws::AwsSettings {
        region: "us-west-2".into(),
        ..support::settings(&moto.endpoint_url())
    };
    strata::aws::AwsClients::load(&settings).await
}

fn bucket_names(fixture: &Fixture) -> Vec<String> {
    let rendered = Project::open(fixture.root())
        .unwrap()
        .render("dev")
        .unwrap();
    rendered
        .stacks
        .iter()
        .flat_map(|s| s.template.resources.values())
        .filter(|r| r.resource_type == "AWS::S3::Bucket")
        .filter_map(|r| r.properties.get("BucketName").and_then(Value::as_str))
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_missing_image_stops_the_plan_before_any_change_set_and_an_existing_one_plans() {
    let moto = Moto::start();
    let fixture = Fixture::copy_of_project();
    support::deploy::apply(fixture.root(), "dev", &moto);

    // A change that would need a change set, and a pinned image id of the right shape (policies/aws.guard
    // refuses placeholders offline) that this region does not have: EC2 DescribeImages finds nothing, and
    // RunInstances would fail with InvalidAMIID.NotFound halfway through the bastion's update.
    fixture
        .edit(
            "environments/dev.yaml",
            "  replicas:\n    count: 1",
            "  replicas:\n    count: 2",
        )
        .edit(
            "environments/dev.yaml",
            "bastion:\n",
            "bastion:\n  image: ami-0f9d7e6c5b4a39281\n",
        );
    let output = plan(&mut support::strata_on(fixture.root(), &moto));
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("environments/dev.yaml: bastion.image: image `ami-0f9d7e6c5b4a39281` does not exist in eu-west-1"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was changed"), "{stderr}");
    assert_eq!(change_sets(&moto, &fixture), Vec::<String>::new());

    // The default image (the public Amazon Linux 2023 parameter, which moto ships) passes, and the plan
    // says which check this endpoint could not answer.
    fixture.edit(
        "environments/dev.yaml",
        "bastion:\n  image: ami-0f9d7e6c5b4a39281\n",
        "bastion:\n",
    );
    let output = support::strata_on(fixture.root(), &moto)
        .args(["plan", "--env", "dev", "--detailed-exitcode", "--json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    let document: Value = serde_json::from_slice(&output.stdout).expect("one JSON document");
    let not_checked = document["not_checked"].to_string();
    assert!(
        not_checked.contains("DescribeDBEngineVersions is not available at this endpoint"),
        "{document}"
    );
}

#[test]
fn a_bucket_name_taken_elsewhere_stops_the_plan_and_a_free_one_plans() {
    let moto = Moto::start();
    let fixture = Fixture::copy_of_project();
    let names = bucket_names(&fixture);
    assert!(names.len() >= 2, "{names:?}");

    // The first bucket's name exists already in another region (moto answers HeadBucket 200 with
    // `x-amz-bucket-region: us-west-2`): CreateBucket in eu-west-1 could not take it.
    block(async {
        let clients = oregon(&moto).await;
        clients
            .s3
            .create_bucket()
            .bucket(&names[0])
            .create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::UsWest2)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    });
    let output = plan(&mut support::strata_on(fixture.root(), &moto));
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "environments/dev.yaml: project: the bucket `{}` already exists in us-west-2, not in eu-west-1",
            names[0]
        )),
        "{stderr}"
    );
    assert!(stderr.contains("(the value now comes from"), "{stderr}");

    // The second bucket's name belongs to another account: S3 answers 403 (from the proxy, see above).
    block(async {
        let clients = oregon(&moto).await;
        clients
            .s3
            .delete_bucket()
            .bucket(&names[0])
            .send()
            .await
            .unwrap();
    });
    let proxy = FaultProxy::start(
        moto.port(),
        Faults {
            foreign_buckets: vec![names[1].clone()],
            ..Faults::none()
        },
    );
    let output = plan(
        support::strata(fixture.root())
            .envs(support::endpoint_env(&proxy.endpoint_url()))
            .env_remove("AWS_SESSION_TOKEN"),
    );
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "environments/dev.yaml: project: the bucket name `{}` belongs to another AWS account (S3 HeadBucket: 403 Forbidden)",
            names[1]
        )),
        "{stderr}"
    );
    drop(proxy);

    // Every name free: the plan goes on (exit 2: creations pending).
    let output = plan(&mut support::strata_on(fixture.root(), &moto));
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
}
