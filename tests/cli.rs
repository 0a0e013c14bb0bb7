//! The command line as a user meets it: what `validate` and `render` print, and how every kind
//! of bad input is reported (file, field, reason, exit code 1, no panic).

mod support;

use predicates::prelude::*;
use predicates::str::contains;
use support::Fixture;

/// Runs `validate` on the fixture and asserts a clean exit-1 report containing every `expected` part.
fn assert_rejected(fixture: &Fixture, args: &[&str], expected: &[&str]) {
    let assert = fixture
        .strata()
        .args(args)
        .assert()
        .code(1)
        .stdout(predicate::str::is_empty().or(contains("ok ")));
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(
        stderr.starts_with("error: "),
        "one readable report expected, got:\n{stderr}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "no panic: {stderr}"
    );
    for part in expected {
        assert!(stderr.contains(part), "expected `{part}` in:\n{stderr}");
    }
}

#[test]
fn validate_checks_every_environment_by_default() {
    support::strata(&support::project_root())
        .arg("validate")
        .assert()
        .success()
        .stdout(contains(
            "ok dev: 5 stacks (network -> database -> bastion -> storage -> app)",
        ))
        .stdout(contains("ok staging:"))
        .stdout(contains("ok prod:"));
}

#[test]
fn validate_can_show_where_each_value_came_from() {
    support::strata(&support::project_root())
        .args(["validate", "--env", "dev", "--show-origin"])
        .assert()
        .success()
        .stdout(predicate::str::is_match(r"network\.vpc_cidr\s+\S*environments/dev\.yaml").unwrap())
        .stdout(predicate::str::is_match(r"database\.port\s+\S*environments/base\.yaml").unwrap());
}

#[test]
fn render_prints_one_stack_as_yaml_or_json() {
    let root = support::project_root();
    support::strata(&root)
        .args(["render", "--env", "prod", "--stack", "network"])
        .assert()
        .success()
        .stdout(contains("AWS::EC2::NatGateway"))
        .stdout(contains("NatGateway3:"));
    let output = support::strata(&root)
        .args([
            "render", "--env", "dev", "--stack", "storage", "--format", "json",
        ])
        .output()
        .unwrap();
    let template: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("render --format json prints JSON");
    assert_eq!(
        template["Resources"]["InboxBucket"]["Type"],
        "AWS::S3::Bucket"
    );
}

#[test]
fn render_writes_one_file_per_stack() {
    let out = tempfile::tempdir().unwrap();
    support::strata(&support::project_root())
        .args(["render", "--env", "dev", "--out"])
        .arg(out.path())
        .assert()
        .success()
        .stdout(contains("wrote"));
    for stack in ["network", "database", "bastion", "storage"] {
        assert!(
            out.path()
                .join("dev")
                .join(format!("{stack}.yaml"))
                .is_file(),
            "{stack}.yaml written"
        );
    }
}

#[test]
fn render_is_byte_identical_across_runs() {
    let run = || {
        support::strata(&support::project_root())
            .args(["render", "--env", "prod"])
            .output()
            .unwrap()
            .stdout
    };
    let first = run();
    assert!(!first.is_empty());
    assert_eq!(first, run());
}

#[test]
fn missing_directory_is_named() {
    let fixture = Fixture::copy_of_project();
    std::fs::remove_dir_all(fixture.path("environments")).unwrap();
    assert_rejected(
        &fixture,
        &["validate"],
        &["cannot read", "environments", "No such file"],
    );
}

#[test]
fn missing_base_file_is_named() {
    let fixture = Fixture::copy_of_project();
    fixture.remove("environments/base.yaml");
    assert_rejected(
        &fixture,
        &["validate", "--env", "dev"],
        &[
            "environments/dev.yaml: extends: extends `base`",
            "does not exist",
        ],
    );
}

#[test]
fn yaml_syntax_error_names_file_and_line() {
    let fixture = Fixture::copy_of_project();
    fixture.edit(
        "environments/dev.yaml",
        "  nat: single\n",
        "  nat: [single\n",
    );
    assert_rejected(
        &fixture,
        &["validate", "--env", "dev"],
        &["environments/dev.yaml:", "invalid YAML"],
    );
}

#[test]
fn wrong_type_names_field_and_the_file_that_set_it() {
    let fixture = Fixture::copy_of_project();
    fixture.edit(
        "environments/dev.yaml",
        "storage_gb: 20",
        "storage_gb: lots",
    );
    assert_rejected(
        &fixture,
        &["validate", "--env", "dev"],
        &[
            "environments/dev.yaml: database.storage_gb: invalid type: string \"lots\", expected u32",
        ],
    );
}

#[test]
fn unknown_key_in_environment_is_rejected() {
    let fixture = Fixture::copy_of_project();
    fixture.edit(
        "environments/prod.yaml",
        "  nat: per_az\n",
        "  nat: per_az\n  nat_gateways: 3\n",
    );
    assert_rejected(
        &fixture,
        &["validate", "--env", "prod"],
        &[
            "environments/prod.yaml: network",
            "unknown field `nat_gateways`",
        ],
    );
}

#[test]
fn unknown_key_in_stack_definition_names_file_line_and_field() {
    let fixture = Fixture::copy_of_project();
    fixture.edit(
        "stacks/storage.yaml",
        "  - purpose: photos\n",
        "  - purpose: photos\n    public: true\n",
    );
    assert_rejected(
        &fixture,
        &["validate", "--env", "dev"],
        &[
            "stacks/storage.yaml:",
            "buckets[1]",
            "unknown field `public`",
        ],
    );
}

#[test]
fn unknown_component_is_rejected_with_the_known_ones() {
    let fixture = Fixture::copy_of_project();
    fixture.write(
        "stacks/functions.yaml",
        "description: lambdas\nlambda:\n  name: resize\n",
    );
    assert_rejected(
        &fixture,
        &["validate", "--env", "dev"],
        &[
            "stacks/functions.yaml",
            "unknown field `lambda`",
            "network",
            "buckets",
        ],
    );
}

#[test]
fn malformed_cidr_is_rejected() {
    let fixture = Fixture::copy_of_project();
    fixture.edit(
        "environments/dev.yaml",
        "vpc_cidr: 10.10.0.0/16",
        "vpc_cidr: 10.10.0.0/33",
    );
    assert_rejected(
        &fixture,
        &["validate", "--env", "dev"],
        &["environments/dev.yaml: network.vpc_cidr: `10.10.0.0/33` is not an IPv4 CIDR"],
    );
}

#[test]
fn public_vpc_cidr_is_rejected() {
    let fixture = Fixture::copy_of_project();
    fixture.edit(
        "environments/dev.yaml",
        "vpc_cidr: 10.10.0.0/16",
        "vpc_cidr: 52.10.0.0/16",
    );
    assert_rejected(
        &fixture,
        &["validate", "--env", "dev"],
        &["network.vpc_cidr", "is not in a private range"],
    );
}

#[test]
fn subnets_that_do_not_fit_are_rejected() {
    let fixture = Fixture::copy_of_project();
    fixture.edit(
        "environments/dev.yaml",
        "vpc_cidr: 10.10.0.0/16",
        "vpc_cidr: 10.10.0.0/20",
    );
    assert_rejected(
        &fixture,
        &["validate", "--env", "dev"],
        &["subnets do not fit", "10.10.0.0/20"],
    );
}

#[test]
fn bad_ssh_source_cidr_is_rejected() {
    let fixture = Fixture::copy_of_project();
    fixture.edit("environments/dev.yaml", "- 203.0.113.0/24", "- office-vpn");
    assert_rejected(
        &fixture,
        &["validate", "--env", "dev"],
        &[
            "environments/dev.yaml: bastion.allowed_cidrs[0]",
            "`office-vpn` is not an IPv4 CIDR",
        ],
    );
}

#[test]
fn availability_zones_must_be_three_of_the_region() {
    let fixture = Fixture::copy_of_project();
    fixture.edit(
        "environments/dev.yaml",
        "[eu-west-1a, eu-west-1b, eu-west-1c]",
        "[eu-west-1a, eu-west-1b]",
    );
    assert_rejected(
        &fixture,
        &["validate", "--env", "dev"],
        &["availability_zones", "exactly three", "2 given"],
    );

    let fixture = Fixture::copy_of_project();
    fixture.edit(
        "environments/dev.yaml",
        "[eu-west-1a, eu-west-1b, eu-west-1c]",
        "[eu-west-1a, eu-west-1b, us-east-1a]",
    );
    assert_rejected(
        &fixture,
        &["validate", "--env", "dev"],
        &["`us-east-1a` is not a zone of region eu-west-1"],
    );
}

#[test]
fn duplicate_queue_names_are_rejected() {
    let fixture = Fixture::copy_of_project();
    fixture.edit(
        "stacks/storage.yaml",
        "  - name: feedFanout\n",
        "  - name: photoUploaded\n",
    );
    assert_rejected(
        &fixture,
        &["validate", "--env", "dev"],
        &["stacks/storage.yaml: queues[1].name: duplicate name `photoUploaded`"],
    );
}

#[test]
fn zero_replicas_are_rejected() {
    let fixture = Fixture::copy_of_project();
    fixture.edit("environments/dev.yaml", "    count: 1\n", "    count: 0\n");
    assert_rejected(
        &fixture,
        &["validate", "--env", "dev"],
        &["environments/dev.yaml: database.replicas.count: is 0, must be at least 1"],
    );
}

#[test]
fn invalid_bucket_name_is_rejected() {
    let fixture = Fixture::copy_of_project();
    fixture.edit(
        "stacks/storage.yaml",
        "  - purpose: photos\n",
        "  - purpose: full-resolution-photos-and-derived-thumbnails\n",
    );
    assert_rejected(
        &fixture,
        &["validate", "--env", "dev"],
        &[
            "stacks/storage.yaml: buckets[1].purpose: bucket name",
            "S3 allows 3 to 63",
        ],
    );

    let fixture = Fixture::copy_of_project();
    fixture.edit(
        "stacks/storage.yaml",
        "  - purpose: photos\n",
        "  - purpose: Photos_Store\n",
    );
    assert_rejected(
        &fixture,
        &["validate", "--env", "dev"],
        &["bucket name `photofeed-dev-Photos_Store-111111111111` may contain only lowercase"],
    );
}

#[test]
fn notification_to_an_unknown_queue_is_rejected() {
    let fixture = Fixture::copy_of_project();
    fixture.edit(
        "stacks/storage.yaml",
        "- queue: photoUploaded",
        "- queue: photoUpload",
    );
    assert_rejected(
        &fixture,
        &["validate", "--env", "dev"],
        &["buckets[0].notify[0].queue: unknown queue `photoUpload`"],
    );
}

/// Issue 10, finding 5. CloudFormation reference, AWS::S3::Bucket QueueConfiguration, `Queue`:
/// "FIFO queues are not allowed when enabling an SQS queue as the event notification destination."
/// CloudFormation and moto accept the template; S3 refuses it at deploy time, so strata refuses it
/// offline.
#[test]
fn notification_to_a_fifo_queue_is_rejected_offline() {
    let fixture = Fixture::copy_of_project();
    fixture.edit(
        "stacks/storage.yaml",
        "  - name: photoUploaded\n",
        "  - name: photoUploaded\n    fifo: true\n",
    );
    assert_rejected(
        &fixture,
        &["validate", "--env", "dev"],
        &[
            "stacks/storage.yaml",
            "buckets[0].notify[0].queue: queue `photoUploaded` is a FIFO queue",
            "FIFO queues are not allowed when enabling an SQS queue as the event notification destination",
            "AWS::S3::Bucket QueueConfiguration",
        ],
    );
}

#[test]
fn an_engine_version_that_is_neither_a_major_nor_a_pinned_minor_is_rejected() {
    let fixture = Fixture::copy_of_project();
    fixture.edit(
        "environments/base.yaml",
        "engine_version: \"17\"",
        "engine_version: \"17.x\"",
    );
    assert_rejected(
        &fixture,
        &["validate", "--env", "dev"],
        &[
            "environments/base.yaml",
            "database.engine_version",
            "`17.x` is not a PostgreSQL engine version",
        ],
    );
}

/// Issue 10, finding 2. A pinned image must look like an AMI id, and a named Amazon Linux
/// parameter must fit the instance type's architecture (EC2 will not boot an x86_64 image on a
/// Graviton type).
#[test]
fn a_malformed_pinned_image_or_an_image_of_the_wrong_architecture_is_rejected() {
    let fixture = Fixture::copy_of_project();
    fixture.edit(
        "environments/base.yaml",
        "image: amazon-linux-2023",
        "image: ami-0A1B2C3D",
    );
    assert_rejected(
        &fixture,
        &["validate", "--env", "dev"],
        &[
            "environments/base.yaml",
            "bastion.image: `ami-0A1B2C3D` is not an AMI id (ami- and 8 or 17 lowercase hex digits",
        ],
    );
    let fixture = Fixture::copy_of_project();
    fixture
        .edit(
            "environments/base.yaml",
            "image: amazon-linux-2023",
            "image: /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
        )
        .edit(
            "environments/base.yaml",
            "instance_type: t3.micro",
            "instance_type: t4g.micro",
        );
    assert_rejected(
        &fixture,
        &["validate", "--env", "dev"],
        &[
            "bastion.image",
            "names an x86_64 image, but the instance type is arm64; use /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
        ],
    );
}

#[test]
fn missing_template_variable_names_the_file_and_line() {
    let fixture = Fixture::copy_of_project();
    fixture.edit(
        "stacks/database.yaml",
        "{{database.storage_gb}}",
        "{{database.storage_size}}",
    );
    assert_rejected(
        &fixture,
        &["validate", "--env", "dev"],
        &[
            "stacks/database.yaml:8",
            "`{{database.storage_size}}` names a value that does not exist",
        ],
    );
}

#[test]
fn missing_variable_in_user_data_template_is_reported() {
    let fixture = Fixture::copy_of_project();
    fixture.edit(
        "stacks/bastion-user-data.sh.hbs",
        "forward writer {{writer_local_port}}",
        "forward writer {{writer_port}}",
    );
    assert_rejected(
        &fixture,
        &["validate", "--env", "dev"],
        &[
            "stacks/bastion.yaml: bastion.user_data_template",
            "bastion-user-data.sh.hbs",
            "`{{writer_port}}`",
        ],
    );
}

#[test]
fn unknown_environment_lists_the_known_ones() {
    let fixture = Fixture::copy_of_project();
    assert_rejected(
        &fixture,
        &["render", "--env", "qa"],
        &["unknown environment `qa`", "dev, prod, staging"],
    );
}

#[test]
fn the_shared_base_is_not_an_environment() {
    let fixture = Fixture::copy_of_project();
    assert_rejected(
        &fixture,
        &["render", "--env", "base"],
        &["environments/base.yaml: abstract", "shared base"],
    );
}

#[test]
fn unknown_stack_lists_the_known_ones() {
    let fixture = Fixture::copy_of_project();
    assert_rejected(
        &fixture,
        &["render", "--env", "dev", "--stack", "queues"],
        &[
            "unknown stack `queues`",
            "network, database, bastion, storage",
        ],
    );
}

#[test]
fn extends_loop_is_rejected() {
    let fixture = Fixture::copy_of_project();
    fixture.edit(
        "environments/base.yaml",
        "abstract: true\n",
        "abstract: true\nextends: dev\n",
    );
    assert_rejected(
        &fixture,
        &["validate", "--env", "dev"],
        &["`extends` loops: dev -> base -> dev"],
    );
}

#[test]
fn stacks_importing_each_other_are_a_cycle() {
    let fixture = Fixture::copy_of_project();
    // The database now reads its network from the bastion stack, which itself needs the database.
    fixture.edit("stacks/bastion.yaml", "bastion:\n", "network:\n  vpc_cidr: 10.99.0.0/16\n  public_subnet_prefix: 24\n  private_subnet_prefix: 24\n  nat: single\n  database_port: 5432\nbastion:\n");
    fixture.edit(
        "stacks/database.yaml",
        "network_stack: network",
        "network_stack: bastion",
    );
    assert_rejected(
        &fixture,
        &["validate", "--env", "dev"],
        &["stacks depend on each other in a cycle: bastion -> database -> bastion"],
    );
}

#[test]
fn import_of_a_stack_that_exports_nothing_is_rejected() {
    let fixture = Fixture::copy_of_project();
    fixture.edit(
        "stacks/database.yaml",
        "network_stack: network",
        "network_stack: storage",
    );
    assert_rejected(
        &fixture,
        &["validate", "--env", "dev"],
        &[
            "stacks/database.yaml",
            "imports `photofeed-dev-storage-PrivateSubnet1Id`, which no stack exports",
        ],
    );
}

#[test]
fn every_broken_environment_is_reported_in_one_run() {
    let fixture = Fixture::copy_of_project();
    fixture.edit(
        "environments/dev.yaml",
        "vpc_cidr: 10.10.0.0/16",
        "vpc_cidr: nonsense",
    );
    fixture.edit("environments/prod.yaml", "count: 2", "count: 0");
    assert_rejected(
        &fixture,
        &["validate"],
        &[
            "2 problems found",
            "environments/dev.yaml: network.vpc_cidr",
            "environments/prod.yaml: database.replicas.count",
        ],
    );
}

#[test]
fn usage_errors_exit_1_not_2() {
    support::strata(&support::project_root())
        .args(["render"])
        .assert()
        .code(1)
        .stderr(contains("--env"));
}

#[test]
fn a_raw_resource_renders_as_written_beside_the_components() {
    let fixture = Fixture::copy_of_project();
    fixture.write("stacks/sessions.yaml", support::SESSIONS_STACK);
    fixture
        .strata()
        .args(["validate", "--env", "dev"])
        .assert()
        .success()
        .stdout(contains("6 stacks"));
    let output = fixture
        .strata()
        .args([
            "render", "--env", "dev", "--stack", "sessions", "--format", "json",
        ])
        .output()
        .unwrap();
    let template: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let table = &template["Resources"]["SessionsTable"];
    assert_eq!(table["Type"], "AWS::DynamoDB::Table");
    assert_eq!(table["DeletionPolicy"], "Retain");
    assert_eq!(table["Properties"]["TableName"], "photofeed-dev-sessions");
    assert_eq!(
        template["Outputs"]["SessionsTableName"]["Value"],
        serde_json::json!({"Ref": "SessionsTable"})
    );
}

#[test]
fn a_misspelt_raw_property_names_file_line_and_property() {
    let fixture = Fixture::copy_of_project();
    fixture.write(
        "stacks/sessions.yaml",
        &support::SESSIONS_STACK.replace("BillingMode:", "BilingMode:"),
    );
    assert_rejected(
        &fixture,
        &["validate", "--env", "dev"],
        &[
            "stacks/sessions.yaml:11: resources.SessionsTable.Properties.BilingMode: \
             AWS::DynamoDB::Table has no property `BilingMode`; did you mean `BillingMode`?",
        ],
    );
}

#[test]
fn a_raw_value_of_the_wrong_type_and_an_unknown_type_are_named() {
    let fixture = Fixture::copy_of_project();
    fixture.write(
        "stacks/sessions.yaml",
        &support::SESSIONS_STACK
            .replace("          AttributeType: S", "          AttributeType: [S]")
            .replace(
                "outputs:",
                "  Extra:\n    Type: AWS::Made::Up\n    Properties: {}\n\noutputs:",
            ),
    );
    assert_rejected(
        &fixture,
        &["validate", "--env", "dev"],
        &[
            "stacks/sessions.yaml:14: resources.SessionsTable.Properties.AttributeDefinitions[0].AttributeType: must be string, not a list",
            "resources.Extra.Type: resource type `AWS::Made::Up` is not in strata's resource catalog",
        ],
    );
}

/// Appends a rule that fails on every template to storage.guard: the file changes, so its cached
/// results no longer apply.
fn add_failing_sentinel_rule(fixture: &Fixture) {
    let storage = fixture.path("policies/storage.guard");
    let mut rules = std::fs::read_to_string(&storage).unwrap();
    rules.push_str("\nrule CACHE_SENTINEL {\n    Parameters.NoSuchParameter exists <<the sentinel fails everywhere>>\n}\n");
    std::fs::write(&storage, rules).unwrap();
}

/// Number of stored policy results under a project's default cache directory.
fn cached_policy_results(fixture: &Fixture) -> usize {
    fn count(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir).map_or(0, |entries| {
            entries
                .flatten()
                .map(|e| {
                    if e.path().is_dir() {
                        count(&e.path())
                    } else {
                        usize::from(e.path().extension().is_some_and(|x| x == "json"))
                    }
                })
                .sum()
        })
    }
    count(&fixture.path(".strata/cache/policy"))
}

#[test]
fn validate_reads_back_results_of_unchanged_policies_and_evaluates_a_changed_rule_file() {
    let fixture = Fixture::copy_of_project();
    let first = fixture
        .strata()
        .args(["validate", "--json"])
        .output()
        .unwrap();
    assert_eq!(first.status.code(), Some(0));
    let stored = cached_policy_results(&fixture);
    assert!(stored > 0, "the first run stores what it evaluated");

    let second = fixture
        .strata()
        .args(["validate", "--json"])
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(0));
    assert_eq!(
        second.stdout, first.stdout,
        "results read back report the same"
    );
    assert_eq!(
        cached_policy_results(&fixture),
        stored,
        "nothing new to store"
    );

    // A rule added to a file changes the file: its results are evaluated again, and the new rule fails.
    add_failing_sentinel_rule(&fixture);
    fixture
        .strata()
        .args(["validate", "--env", "dev"])
        .assert()
        .code(3)
        .stdout(contains("CACHE_SENTINEL"));
}

#[test]
fn validate_without_the_cache_stores_nothing() {
    let fixture = Fixture::copy_of_project();
    fixture
        .strata()
        .args(["validate", "--no-cache"])
        .assert()
        .success();
    assert!(!fixture.path(".strata").exists());
}

/// `render` gates on the same cached results as `validate` (both are offline): it reuses what
/// `validate` stored, a changed rule file is evaluated again and still refuses, and `--no-cache`
/// neither reads nor writes.
#[test]
fn render_reuses_the_policy_results_validate_stored_and_still_refuses_a_failing_rule() {
    let fixture = Fixture::copy_of_project();
    fixture
        .strata()
        .args(["validate", "--env", "dev"])
        .assert()
        .success();
    let stored = cached_policy_results(&fixture);
    assert!(stored > 0);
    let rendered = fixture
        .strata()
        .args(["render", "--env", "dev", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(rendered.status.code(), Some(0));
    assert_eq!(
        cached_policy_results(&fixture),
        stored,
        "the same templates: every result read back"
    );
    let uncached = fixture
        .strata()
        .args(["render", "--env", "dev", "--format", "json", "--no-cache"])
        .output()
        .unwrap();
    assert_eq!(uncached.stdout, rendered.stdout);

    add_failing_sentinel_rule(&fixture);
    fixture
        .strata()
        .args(["render", "--env", "dev"])
        .assert()
        .code(3)
        .stderr(contains("CACHE_SENTINEL"));
    assert!(
        cached_policy_results(&fixture) > stored,
        "the changed file's results are stored"
    );
}

/// A function's environment reads database values only from the database it connects to (the
/// connection grants the secret), and only the values the database stack outputs.
#[test]
fn database_references_need_connects_and_name_a_known_value() {
    let fixture = Fixture::copy_of_project();
    fixture.edit(
        "stacks/app.yaml",
        "    connects: { database_stack: database }\n",
        "",
    );
    assert_rejected(
        &fixture,
        &["validate", "--env", "dev"],
        &[
            "stacks/app.yaml",
            "functions[0].environment.DB_SECRET_ARN",
            "does not connect to it; add `connects: { database_stack: database }`",
        ],
    );

    let fixture = Fixture::copy_of_project();
    fixture.edit(
        "stacks/app.yaml",
        "{ database: port, stack: database }",
        "{ database: password, stack: database }",
    );
    assert_rejected(
        &fixture,
        &["validate", "--env", "dev"],
        &[
            "functions[0].environment.DB_PORT",
            "`database: password` is not a value of the database; use one of secret_arn, writer_endpoint, reader_endpoints, port",
        ],
    );
}
