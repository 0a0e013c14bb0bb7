//! The policy gate as users meet it: `validate` reports, `render` and `plan` refuse, waivers show.

mod support;

use predicates::prelude::*;
use predicates::str::contains;
use support::Fixture;

fn with_insecure_environment() -> Fixture {
    let fixture = Fixture::copy_of_project();
    let text =
        std::fs::read_to_string(support::project_root().join("tests/fixtures/insecure.yaml"))
            .unwrap();
    fixture.write("environments/insecure.yaml", &text);
    fixture
}

#[test]
fn every_shipped_environment_passes_its_policies() {
    support::strata(&support::project_root())
        .arg("validate")
        .assert()
        .code(0)
        .stdout(contains("ok dev: 5 stacks (network -> database -> bastion -> storage -> app), 72 resources, 9 policy files"))
        .stdout(contains("ok staging:"))
        .stdout(contains("ok prod:").and(contains("10 policy files")))
        // Staging applies production.guard at warn: it reports the production controls staging
        // leaves off for cost (replica Multi-AZ and deletion protection, bastion termination
        // protection), and nothing at error anywhere.
        .stdout(contains("policy staging: 0 errors, 3 warnings"))
        .stdout(contains("  error  ").not())
        .stdout(contains("policy dev").not())
        .stdout(contains("policy prod").not());
}

#[test]
fn a_non_compliant_environment_prints_each_violation_and_exits_3() {
    let fixture = with_insecure_environment();
    let assert = fixture
        .strata()
        .args(["validate", "--env", "insecure"])
        .assert()
        .code(3);
    let out = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    assert!(out.contains("policy violation insecure"), "{out}");
    for (rule, resource) in [
        ("EC2_SG_NO_WORLD_INGRESS", "network/BastionSecurityGroup"),
        ("PROD_RDS_DELETION_PROTECTION", "database/DatabasePrimary"),
        ("PROD_RDS_MULTI_AZ", "database/DatabasePrimary"),
        (
            "PROD_RDS_BACKUP_RETENTION_7_DAYS",
            "database/DatabasePrimary",
        ),
    ] {
        let line = out
            .lines()
            .find(|l| l.contains(rule))
            .unwrap_or_else(|| panic!("{rule} reported:\n{out}"));
        assert!(
            line.contains(resource) && line.contains("/Resources/"),
            "{line}"
        );
    }
}

#[test]
fn findings_are_available_as_json() {
    let fixture = with_insecure_environment();
    let output = fixture
        .strata()
        .args(["validate", "--env", "insecure", "--json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let results: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let findings = results[0]["policy"]["findings"].as_array().unwrap();
    let open_ssh = findings
        .iter()
        .find(|f| f["rule"] == "EC2_SG_NO_WORLD_INGRESS")
        .unwrap();
    assert_eq!(open_ssh["stack"], "network");
    assert_eq!(open_ssh["logical_id"], "BastionSecurityGroup");
    assert_eq!(open_ssh["level"], "error");
    assert_eq!(open_ssh["rule_file"], "network");
    assert!(
        open_ssh["property_path"]
            .as_str()
            .unwrap()
            .starts_with("/Resources/BastionSecurityGroup/Properties/SecurityGroupIngress")
    );
    assert!(!open_ssh["message"].as_str().unwrap().is_empty());
}

#[test]
fn render_refuses_an_error_level_violation_and_prints_no_template() {
    let fixture = with_insecure_environment();
    fixture
        .strata()
        .args(["render", "--env", "insecure"])
        .assert()
        .code(3)
        .stdout(predicate::str::is_empty())
        .stderr(contains(
            "refusing to continue: error-level policy rules fail in insecure",
        ));
}

#[test]
fn warn_level_reports_without_blocking() {
    let fixture = with_insecure_environment();
    fixture.edit(
        "environments/insecure.yaml",
        "  production: error",
        "  production: warn\n  network: warn",
    );
    fixture
        .strata()
        .args(["validate", "--env", "insecure"])
        .assert()
        .code(0)
        .stdout(contains("ok insecure"))
        .stdout(contains("warn  PROD_RDS_MULTI_AZ"));
}

#[test]
fn a_waiver_with_a_reason_moves_the_finding_and_is_printed() {
    let fixture = with_insecure_environment();
    fixture.edit(
        "environments/insecure.yaml",
        "  production: error",
        "  production: off",
    );
    let waiver = "waivers:\n  - resource: BastionSecurityGroup\n    rule: EC2_SG_NO_WORLD_INGRESS\n    reason: break-glass access during the migration, ticket OPS-42\n";
    let network = std::fs::read_to_string(fixture.path("stacks/network.yaml")).unwrap();
    fixture.write("stacks/network.yaml", &format!("{network}\n{waiver}"));
    fixture
        .strata()
        .args(["validate", "--env", "insecure"])
        .assert()
        .code(0)
        // Both open sources (0.0.0.0/0 and ::/0) are findings of the waived rule.
        .stdout(contains("0 errors, 0 warnings, 2 waived"))
        .stdout(predicate::str::is_match(r"waived EC2_SG_NO_WORLD_INGRESS  network/BastionSecurityGroup  /Resources/BastionSecurityGroup/Properties/SecurityGroupIngress/\d+/CidrIp  reason: break-glass access during the migration, ticket OPS-42").unwrap())
        .stdout(contains("/CidrIpv6  reason: break-glass"));
    // Shipped environments have no open ingress: the waiver matches nothing there and says so.
    fixture
        .strata()
        .args(["validate", "--env", "dev"])
        .assert()
        .code(0)
        .stdout(contains(
            "waiver of EC2_SG_NO_WORLD_INGRESS on network/BastionSecurityGroup matched nothing",
        ));
}

#[test]
fn a_waiver_must_name_a_real_resource_rule_and_reason() {
    let fixture = Fixture::copy_of_project();
    let network = std::fs::read_to_string(fixture.path("stacks/network.yaml")).unwrap();
    fixture.write("stacks/network.yaml", &format!("{network}\nwaivers:\n  - resource: Bastion\n    rule: EC2_SG_NO_WORLD_INGRESS\n    reason: x\n  - resource: Vpc\n    rule: NO_SUCH_RULE\n    reason: x\n  - resource: Vpc\n    rule: TAGS_REQUIRED\n    reason: \" \"\n"));
    fixture
        .strata()
        .args(["validate", "--env", "dev"])
        .assert()
        .code(1)
        .stderr(contains(
            "stacks/network.yaml: waivers[0].resource: no resource `Bastion` in this stack",
        ))
        .stderr(contains(
            "waivers[1].rule: no rule `NO_SUCH_RULE` in policies/",
        ))
        .stderr(contains(
            "waivers[2].reason: a waiver needs a written reason",
        ));
}

#[test]
fn an_unknown_rule_file_in_an_environment_is_an_error() {
    let fixture = Fixture::copy_of_project();
    fixture.edit(
        "environments/prod.yaml",
        "  production: error",
        "  production: error\n  compliance: error",
    );
    fixture
        .strata()
        .args(["validate", "--env", "prod"])
        .assert()
        .code(1)
        .stderr(contains(
            "environments/prod.yaml: policies.compliance: no rule file policies/compliance.guard",
        ));
}

#[test]
fn a_broken_rule_file_names_the_file_and_position() {
    let fixture = Fixture::copy_of_project();
    fixture.write(
        "policies/broken.guard",
        "rule BROKEN {\n    Resources.*.Type == \n",
    );
    fixture
        .strata()
        .args(["validate"])
        .assert()
        .code(1)
        .stderr(contains("policies/broken.guard:"))
        .stderr(contains("syntax error"));
}

/// Issue 10, finding 2 / aws.guard: the placeholder image the platform once shipped has the shape
/// of an AMI id, so only the policy stops it, before anything reaches AWS (exit 3).
#[test]
fn a_placeholder_image_is_a_policy_violation() {
    let fixture = Fixture::copy_of_project();
    fixture.edit(
        "environments/base.yaml",
        "image: amazon-linux-2023",
        "image: ami-0a1b2c3d4e5f60718",
    );
    let assert = fixture
        .strata()
        .args(["validate", "--env", "dev"])
        .assert()
        .code(3);
    let out = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    assert!(out.contains("AWS_EC2_IMAGE_NOT_A_PLACEHOLDER"), "{out}");
    assert!(out.contains("BastionInstance"), "{out}");
    assert!(out.contains("InvalidAMIID.NotFound"), "{out}");
}
