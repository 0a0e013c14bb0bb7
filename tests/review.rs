//! Reviewing a change without AWS: `strata diff` against a git revision (and, below, cost and
//! architecture diagrams). Each test builds its own small git repository from a copy of the project.

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::Fixture;

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=strata test",
            "-c",
            "user.email=test@example.com",
        ])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// A copy of the project committed on `main`, then a branch `change` with a changed bucket
/// lifecycle rule (storage) and a changed dev VPC CIDR (network), committed.
fn repository_with_a_change() -> Fixture {
    let fixture = Fixture::copy_of_project();
    let root = fixture.root();
    git(root, &["init", "--quiet"]);
    git(root, &["add", "."]);
    git(root, &["commit", "--quiet", "-m", "the platform"]);
    git(root, &["checkout", "--quiet", "-b", "change"]);
    fixture
        .edit(
            "stacks/storage.yaml",
            "expire_after_days: 7",
            "expire_after_days: 14",
        )
        .edit(
            "environments/dev.yaml",
            "vpc_cidr: 10.10.0.0/16",
            "vpc_cidr: 10.11.0.0/16",
        );
    git(
        root,
        &[
            "commit",
            "--quiet",
            "-am",
            "a longer inbox expiry, another VPC range",
        ],
    );
    fixture
}

fn diff_json(fixture: &Fixture, extra: &[&str]) -> Value {
    let mut args = vec!["diff", "--env", "dev", "--json"];
    args.extend_from_slice(extra);
    let output = fixture.strata().args(&args).output().expect("strata runs");
    assert_eq!(
        output.status.code(),
        Some(2),
        "differences exit 2: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("one JSON document")
}

/// (stack, symbol, logical id, replacement, changed paths) of every changed resource.
fn changed(diff: &Value) -> Vec<(String, String, String, String, Vec<String>)> {
    let mut found = Vec::new();
    for stack in diff["stacks"].as_array().unwrap() {
        for change in stack["changes"].as_array().unwrap() {
            let paths = change["properties"]
                .as_array()
                .map(|p| {
                    p.iter()
                        .map(|p| p["path"].as_str().unwrap().to_string())
                        .collect()
                })
                .unwrap_or_default();
            found.push((
                stack["stack"].as_str().unwrap().to_string(),
                change["action"].as_str().unwrap().to_string(),
                change["logical_id"].as_str().unwrap().to_string(),
                change["replacement"].as_str().unwrap().to_string(),
                paths,
            ));
        }
    }
    found
}

#[test]
fn diff_against_the_merge_base_shows_exactly_the_changed_bucket_and_vpc() {
    let fixture = repository_with_a_change();
    let diff = diff_json(&fixture, &[]);
    assert_eq!(diff["against"]["reference"], "merge-base HEAD main");
    let modify = |stack: &str, id: &str, replacement: &str, paths: &[&str]| {
        (
            stack.to_string(),
            "modify".to_string(),
            id.to_string(),
            replacement.to_string(),
            paths.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        )
    };
    let mut expected = vec![modify("network", "Vpc", "always", &["CidrBlock"])];
    // The subnet ranges are computed from the VPC's: they move with it, and a subnet's CIDR
    // cannot change in place.
    for subnet in SUBNETS {
        expected.push(modify("network", subnet, "always", &["CidrBlock"]));
    }
    expected.sort();
    expected.push(modify(
        "storage",
        "InboxBucket",
        "never",
        &["LifecycleConfiguration.Rules[0].ExpirationInDays"],
    ));
    let mut found = changed(&diff);
    found[..expected.len() - 1].sort();
    assert_eq!(found, expected);

    // The working tree and the index are untouched.
    assert_eq!(git(fixture.root(), &["status", "--porcelain"]), "");
    assert_eq!(git(fixture.root(), &["branch", "--show-current"]), "change");
}

const SUBNETS: [&str; 6] = [
    "PrivateSubnet1",
    "PrivateSubnet2",
    "PrivateSubnet3",
    "PublicSubnet1",
    "PublicSubnet2",
    "PublicSubnet3",
];

#[test]
fn diff_shows_uncommitted_edits_in_the_plan_view_with_the_replacement_marked() {
    let fixture = repository_with_a_change();
    // Against the branch's own commit: only what is not committed yet.
    fixture.edit(
        "environments/dev.yaml",
        "vpc_cidr: 10.11.0.0/16",
        "vpc_cidr: 10.12.0.0/16",
    );
    let output = fixture
        .strata()
        .args(["diff", "--env", "dev", "--against", "HEAD"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains(
            "  ~ AWS::EC2::VPC                            Vpc  [replacement (predicted)]"
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"      CidrBlock: "10.11.0.0/16" -> "10.12.0.0/16"  (forces replacement)"#),
        "{text}"
    );
    assert!(
        !text.contains("InboxBucket"),
        "committed changes are not shown: {text}"
    );
    assert!(
        text.contains("Diff: 0 to add, 7 to modify (7 replacements), 0 to remove."),
        "{text}"
    );

    // Nothing differs from the working tree's own revision once committed.
    git(
        fixture.root(),
        &["commit", "--quiet", "-am", "another range"],
    );
    fixture
        .strata()
        .args(["diff", "--env", "dev", "--against", "HEAD"])
        .assert()
        .code(0)
        .stdout(predicates::str::contains("No changes"));
}

#[test]
fn diff_names_an_unknown_revision() {
    let fixture = repository_with_a_change();
    let output = fixture
        .strata()
        .args(["diff", "--env", "dev", "--against", "no-such-branch"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no-such-branch"), "{stderr}");
}

#[test]
fn diff_follows_an_ssm_typed_parameter_naming_another_entry_to_the_instance_it_replaces() {
    let fixture = repository_with_a_change();
    fixture.edit(
        "environments/base.yaml",
        "  image: amazon-linux-2023\n",
        "  image: /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-6.12-x86_64\n",
    );
    let diff = diff_json(&fixture, &["--against", "HEAD"]);
    let bastion = diff["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stack"] == "bastion")
        .unwrap();
    assert_eq!(
        bastion["parameters"][0]["name"], "BastionImageId",
        "{bastion}"
    );
    assert_eq!(bastion["parameters"][0]["from"], "ssm");
    let instance = bastion["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["logical_id"] == "BastionInstance")
        .unwrap();
    // A new image replaces the instance (AWS::EC2::Instance ImageId: "Update requires: Replacement").
    assert_eq!(instance["replacement"], "always", "{instance}");
    assert_eq!(instance["properties"][0]["path"], "ImageId");
    assert_eq!(instance["properties"][0]["parameter"], "BastionImageId");
    assert_eq!(
        bastion["template"][0]["path"],
        "Parameters.BastionImageId.Default"
    );
}

// ---- cost ----

fn estimate(env: &str) -> strata::cost::Estimate {
    let project = strata::project::Project::open(&support::project_root()).unwrap();
    strata::cost::estimate_environment(&project.render(env).unwrap())
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn dev_costs_what_the_price_table_adds_up_to() {
    let dev = estimate("dev");
    // src/cost/prices.yaml, eu-west-1, 730 h a month:
    //   NatGateway1                 730 h x $0.048                         = 35.04
    //   2 Elastic IPs (NAT, bastion) 2 x 730 h x $0.005                    =  7.30
    //   BastionInstance t3.micro    730 h x $0.0114                        =  8.322
    //   DatabasePrimary db.t4g.micro Single-AZ 730 h x $0.017 = 12.41, 20 GB gp3 x $0.127 = 2.54
    //   DatabaseReplica1 db.t4g.micro          730 h x $0.017 = 12.41, 20 GB gp3 x $0.127 = 2.54
    //   DatabaseMasterSecret        1 x $0.40                              =  0.40
    //   total 35.04 + 7.30 + 8.322 + 12.41 + 2.54 + 12.41 + 2.54 + 0.40   = 80.962
    assert!(close(dev.monthly_usd, 80.962), "{}", dev.monthly_usd);
    assert!(close(dev.of("network", "NatGateway1"), 35.04));
    assert!(close(dev.of("database", "DatabasePrimary"), 12.41 + 2.54));
    assert!(close(dev.of("database", "DatabaseReplica1"), 12.41 + 2.54));
    let unknown: Vec<&str> = dev.unknown.iter().map(|o| o.logical_id.as_str()).collect();
    assert_eq!(
        unknown,
        ["BastionInstance"],
        "only the root volume's size is unknown"
    );
}

#[test]
fn prod_costs_what_the_price_table_adds_up_to_and_lists_the_price_it_lacks() {
    let prod = estimate("prod");
    // src/cost/prices.yaml, eu-west-1, 730 h a month:
    //   3 NAT gateways              3 x 730 h x $0.048                     = 105.12
    //   4 Elastic IPs (3 NAT, bastion) 4 x 730 h x $0.005                  =  14.60
    //   BastionInstance t3.micro    730 h x $0.0114                        =   8.322
    //   DatabasePrimary Multi-AZ    200 GB gp3 x $0.127 x 2                =  50.80
    //   DatabaseReplica1, 2 Multi-AZ 2 x 200 GB gp3 x $0.127 x 2 (their source's storage) = 101.60
    //   DatabaseMasterSecret        $0.40                                  =   0.40
    //   BucketsKey, PhotoUploadedQueueKey, FeedFanoutQueueKey 3 x $1.00    =   3.00
    //   total 105.12 + 14.60 + 8.322 + 50.80 + 101.60 + 0.40 + 3.00        = 283.842
    // db.r6g.large has no price in the table: the three DB instances' hours are listed, not guessed.
    assert!(close(prod.monthly_usd, 283.842), "{}", prod.monthly_usd);
    assert!(close(prod.of("database", "DatabasePrimary"), 50.80));
    let no_price: Vec<(&str, &str)> = prod
        .unknown
        .iter()
        .filter(|o| o.resource_type == "AWS::RDS::DBInstance")
        .map(|o| (o.logical_id.as_str(), o.reason.as_str()))
        .collect();
    assert_eq!(
        no_price,
        [
            (
                "DatabasePrimary",
                "no price for db.r6g.large (postgres, Multi-AZ)"
            ),
            (
                "DatabaseReplica1",
                "no price for db.r6g.large (postgres, Multi-AZ)"
            ),
            (
                "DatabaseReplica2",
                "no price for db.r6g.large (postgres, Multi-AZ)"
            ),
        ]
    );
}

#[test]
fn validate_cost_prints_the_estimate_labelled_as_one() {
    support::strata(&support::project_root())
        .args(["validate", "--env", "dev", "--cost"])
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "Monthly cost estimate of dev (eu-west-1): $80.96",
        ))
        .stdout(predicates::str::contains("an estimate, not a bill"))
        .stdout(predicates::str::contains("not included, priced by use:"));
}

#[test]
fn diff_shows_the_cost_of_the_change() {
    let fixture = repository_with_a_change();
    // A second replica: one more db.t4g.micro (730 h x $0.017 = 12.41) with 20 GB gp3 (2.54).
    fixture.edit("environments/dev.yaml", "    count: 1\n", "    count: 2\n");
    let diff = diff_json(&fixture, &["--against", "HEAD"]);
    let cost = &diff["cost"];
    assert!(
        close(cost["monthly_delta_usd"].as_f64().unwrap(), 14.95),
        "{cost}"
    );
    assert_eq!(cost["resources"][0]["logical_id"], "DatabaseReplica2");
    assert!(close(
        cost["after"]["monthly_usd"].as_f64().unwrap(),
        80.962 + 14.95
    ));
    assert_eq!(cost["resources"][0]["before_usd"].as_f64(), Some(0.0));
}

#[test]
fn diff_follows_a_changed_output_into_the_parameter_of_the_stack_that_uses_it() {
    let fixture = repository_with_a_change();
    // A second replica changes the database's ReaderEndpoints output, which strata passes to the
    // bastion as its DatabaseReaderEndpoints parameter; the bastion's template itself does not change.
    fixture.edit("environments/dev.yaml", "    count: 1\n", "    count: 2\n");
    let diff = diff_json(&fixture, &["--against", "HEAD"]);
    let bastion = diff["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stack"] == "bastion")
        .unwrap();
    assert_eq!(bastion["action"], "update", "{bastion}");
    assert_eq!(bastion["parameters"][0]["name"], "DatabaseReaderEndpoints");
    assert_eq!(bastion["parameters"][0]["value"]["state"], "after_apply");
    let instance = bastion["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["logical_id"] == "BastionInstance")
        .unwrap();
    assert_eq!(instance["properties"][0]["path"], "UserData");
    assert_eq!(
        instance["properties"][0]["parameter"],
        "DatabaseReaderEndpoints"
    );
    let text = String::from_utf8(
        fixture
            .strata()
            .args(["diff", "--env", "dev", "--against", "HEAD"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(
        text.contains("  parameter DatabaseReaderEndpoints (output ReaderEndpoints of database): "),
        "{text}"
    );
    assert!(text.contains("$0.00 ->     $14.95 (+$14.95)"), "{text}");
}

// ---- architecture diagram ----

fn diagram(env: &str, format: &str) -> String {
    let output = support::strata(&support::project_root())
        .args(["graph", "--env", env, "--format", format])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn the_svg_renders_and_names_every_resource() {
    let project = strata::project::Project::open(&support::project_root()).unwrap();
    let rendered = project.render("prod").unwrap();
    let svg = diagram("prod", "svg");
    assert!(
        svg.contains("<svg") && svg.trim_end().ends_with("</svg>"),
        "{svg}"
    );
    assert_eq!(svg, diagram("prod", "svg"), "same input, same bytes");
    for stack in &rendered.stacks {
        for logical_id in stack.template.resources.keys() {
            assert!(
                svg.contains(logical_id.as_str()),
                "{logical_id} is not in the SVG"
            );
        }
    }
}

#[test]
fn graph_against_a_revision_marks_what_changed() {
    let fixture = repository_with_a_change();
    fixture.edit("environments/dev.yaml", "    count: 1\n", "    count: 2\n");
    let output = fixture
        .strata()
        .args(["graph", "--env", "dev", "--against", "main"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mermaid = String::from_utf8_lossy(&output.stdout);
    assert!(
        mermaid.contains("  class database_DatabaseReplica2 added"),
        "{mermaid}"
    );
    let replaced = mermaid
        .lines()
        .find(|l| l.starts_with("  class ") && l.ends_with(" replaced"))
        .unwrap_or_default();
    assert!(
        replaced.contains("network_Vpc") && replaced.contains("network_PublicSubnet1"),
        "{mermaid}"
    );
    let changed = mermaid
        .lines()
        .find(|l| l.starts_with("  class ") && l.ends_with(" changed"))
        .unwrap_or_default();
    assert!(changed.contains("storage_InboxBucket"), "{mermaid}");
}
