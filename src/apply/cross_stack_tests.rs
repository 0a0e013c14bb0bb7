//! Values crossing stacks, through a CloudFormation that enforces what moto does not: an export another stack
//! imports can be neither changed nor deleted (`crate::aws::fake`). Every change the
//! environment files allow must apply in one `apply`, and afterwards `plan` shows no changes.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Value, json};

use super::tests::{OPTIONS, apply_stacks, outcome};
use super::*;
use crate::aws::artifacts::MemoryArtifacts;
use crate::aws::facts::fixed::FixedFacts;
use crate::aws::fake::FakeCloudFormation;
use crate::plan::parameters::{ParameterSource, ParameterValue};
use crate::plan::saved::SavedPlan;
use crate::plan::{ChangeAction, Plan, plan};
use crate::project::Project;
use crate::watch::NoProgress;

/// A private copy of the shipped project whose environment files a test edits.
struct Copy {
    dir: tempfile::TempDir,
}

impl Copy {
    fn of_project() -> Copy {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for sub in ["environments", "stacks", "policies"] {
            copy_dir(&root.join(sub), &dir.path().join(sub));
        }
        Copy { dir }
    }

    fn edit(&self, file: &str, from: &str, to: &str) {
        let path = self.dir.path().join(file);
        let text = std::fs::read_to_string(&path).expect("fixture file");
        assert_eq!(text.matches(from).count(), 1, "`{from}` once in {file}");
        std::fs::write(&path, text.replacen(from, to, 1)).expect("write fixture");
    }

    /// dev's replica count from `from` to `to`.
    fn replicas(&self, from: u32, to: u32) {
        self.edit(
            "environments/dev.yaml",
            &format!("  replicas:\n    count: {from}"),
            &format!("  replicas:\n    count: {to}"),
        );
    }

    fn render(&self) -> RenderedEnvironment {
        Project::open(self.dir.path())
            .and_then(|project| project.render("dev"))
            .expect("dev renders")
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy file");
        }
    }
}

const DATABASE: &str = "photofeed-dev-database";
const BASTION: &str = "photofeed-dev-bastion";

/// What `strata apply --yes` does: plan, the replacement guard, execute.
async fn apply(
    fake: &FakeCloudFormation,
    rendered: &RenderedEnvironment,
    allowed: &[&str],
) -> (Plan, ApplyReport) {
    let planned = plan(fake, &FixedFacts::default(), rendered, None)
        .await
        .expect("plan");
    let allowed: BTreeSet<String> = allowed.iter().map(|s| s.to_string()).collect();
    guard::check_replacements(&planned, &allowed).expect("the guard lets the plan through");
    let options = ApplyOptions {
        allow_replace: allowed,
        ..OPTIONS
    };
    let report = execute(
        fake,
        &MemoryArtifacts::default(),
        rendered,
        &planned.stacks,
        &options,
        &NoProgress,
    )
    .await
    .expect("apply runs");
    (planned, report)
}

fn assert_all_applied(report: &ApplyReport) {
    for stack in &report.stacks {
        assert!(
            matches!(
                stack.outcome,
                StackOutcome::Succeeded { .. } | StackOutcome::Unchanged
            ),
            "{}: {:?}",
            stack.stack,
            stack.outcome
        );
    }
}

async fn assert_no_changes(fake: &FakeCloudFormation, rendered: &RenderedEnvironment) {
    let again = plan(fake, &FixedFacts::default(), rendered, None)
        .await
        .unwrap();
    for stack in &again.stacks {
        assert_eq!(
            stack.action,
            StackAction::NoChanges,
            "{}: {:?}",
            stack.stack,
            stack.changes
        );
    }
}

fn stack<'a>(plan: &'a Plan, name: &str) -> &'a StackPlan {
    plan.stacks.iter().find(|s| s.stack == name).unwrap()
}

async fn output(fake: &FakeCloudFormation, stack: &str, name: &str) -> String {
    fake.describe_stack(stack).await.unwrap().unwrap().outputs[name]
        .value
        .clone()
}

/// The bastion's user data (as deployed, parameters substituted) names every endpoint the database outputs.
async fn assert_bastion_forwards_to_the_database(fake: &FakeCloudFormation) {
    let writer = output(fake, DATABASE, "WriterEndpoint").await;
    let readers = output(fake, DATABASE, "ReaderEndpoints").await;
    let parameters = fake.parameters(BASTION);
    assert_eq!(parameters["DatabaseWriterEndpoint"], writer);
    assert_eq!(parameters["DatabaseReaderEndpoints"], readers);
    let user_data = fake
        .resource_properties(BASTION, "BastionInstance")
        .unwrap()["UserData"]["Fn::Base64"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(user_data.contains(&writer), "{user_data}");
    assert!(user_data.contains(&readers), "{user_data}");
}

#[tokio::test]
async fn replica_count_and_instance_replacement_each_apply_in_one_go() {
    let fake = FakeCloudFormation::default();
    let project = Copy::of_project();
    let (_, report) = apply(&fake, &project.render(), &[]).await;
    assert_all_applied(&report);
    assert_bastion_forwards_to_the_database(&fake).await;
    let one_reader = output(&fake, DATABASE, "ReaderEndpoints").await;

    // 1 -> 2 replicas: the reader list changes; the bastion learns it once the database has applied.
    project.replicas(1, 2);
    let rendered = project.render();
    let (planned, report) = apply(&fake, &rendered, &[]).await;
    let database = stack(&planned, "database");
    assert!(
        database
            .changes
            .iter()
            .any(|c| c.action == ChangeAction::Add && c.logical_id == "DatabaseReplica2")
    );
    let bastion = stack(&planned, "bastion");
    assert_eq!(bastion.action, StackAction::Update);
    assert_eq!(bastion.resolves_after(), BTreeSet::from(["database"]));
    let readers = bastion
        .parameters
        .iter()
        .find(|p| p.name == "DatabaseReaderEndpoints")
        .unwrap();
    assert_eq!(
        readers.source,
        ParameterSource::StackOutput {
            stack: "database".into(),
            output: "ReaderEndpoints".into()
        }
    );
    assert_eq!(
        readers.value,
        ParameterValue::AfterApply {
            after: "database".into(),
            now: Some(one_reader.clone())
        }
    );
    let ids: Vec<&str> = bastion
        .changes
        .iter()
        .map(|c| c.logical_id.as_str())
        .collect();
    // The user data may replace the instance (its schema), and a new instance moves the Elastic IP.
    assert_eq!(ids, ["BastionEip", "BastionInstance"]);
    let instance = &bastion.changes[1];
    assert!(instance.replaces());
    assert_eq!(instance.properties[0].path, "UserData");
    assert_eq!(
        instance.properties[0].after,
        Some(json!("(known after database applies)"))
    );
    assert_all_applied(&report);
    assert!(
        matches!(outcome(&report, "bastion"), StackOutcome::Succeeded { status } if status == "UPDATE_COMPLETE")
    );
    let two_readers = output(&fake, DATABASE, "ReaderEndpoints").await;
    assert_eq!(two_readers.split(',').count(), 2, "{two_readers}");
    assert_bastion_forwards_to_the_database(&fake).await;
    assert_no_changes(&fake, &rendered).await;

    // 2 -> 1: the second replica goes, and the bastion stops forwarding to it, again in one apply.
    project.replicas(2, 1);
    let rendered = project.render();
    let (_, report) = apply(&fake, &rendered, &[]).await;
    assert_all_applied(&report);
    assert_eq!(output(&fake, DATABASE, "ReaderEndpoints").await, one_reader);
    assert_bastion_forwards_to_the_database(&fake).await;
    assert_no_changes(&fake, &rendered).await;

    // Replacing the primary (a new database name) gives it a new endpoint: allowed by name, one apply.
    let writer = output(&fake, DATABASE, "WriterEndpoint").await;
    project.edit(
        "environments/base.yaml",
        "  name: feed\n",
        "  name: feeds\n",
    );
    let rendered = project.render();
    let (planned, report) = apply(&fake, &rendered, &["DatabasePrimary"]).await;
    let bastion = stack(&planned, "bastion");
    assert!(bastion.resolves_after().contains("database"));
    assert_all_applied(&report);
    assert_ne!(output(&fake, DATABASE, "WriterEndpoint").await, writer);
    assert_bastion_forwards_to_the_database(&fake).await;
    assert_no_changes(&fake, &rendered).await;

    let calls = fake.calls();
    assert!(
        calls.iter().all(|c| !c.starts_with("delete ")),
        "no stack was deleted or recreated: {calls:?}"
    );
}

/// The design strata had before: the database exported its endpoints and the bastion imported them.
fn old_design(mut rendered: RenderedEnvironment) -> RenderedEnvironment {
    let settings = rendered.environment.settings.clone();
    let export = |stack: &str, output: &str| {
        crate::naming::export_name(&settings.project, &rendered.environment.name, stack, output)
    };
    let mut imports: BTreeMap<String, String> = BTreeMap::new();
    for stack in &mut rendered.stacks {
        for (name, parameter) in &stack.template.parameters {
            if let Some(source) = &parameter.from_output {
                imports.insert(name.clone(), export(&source.stack, &source.output));
            }
        }
        stack
            .template
            .parameters
            .retain(|_, p| p.from_output.is_none());
        if stack.name == "database" {
            for (name, output) in &mut stack.template.outputs {
                output.export = Some(export("database", name));
            }
        }
        for resource in stack.template.resources.values_mut() {
            resource.properties = importing(&resource.properties, &imports);
        }
    }
    rendered
}

fn importing(value: &Value, imports: &BTreeMap<String, String>) -> Value {
    match value {
        Value::Object(map) => match map.get("Ref").and_then(Value::as_str) {
            Some(name) if map.len() == 1 && imports.contains_key(name) => {
                json!({ "Fn::ImportValue": imports[name] })
            }
            _ => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), importing(v, imports)))
                    .collect(),
            ),
        },
        Value::Array(items) => Value::Array(items.iter().map(|v| importing(v, imports)).collect()),
        other => other.clone(),
    }
}

#[tokio::test]
async fn with_endpoints_as_exports_the_same_change_fails() {
    let fake = FakeCloudFormation::default();
    let project = Copy::of_project();
    let (_, report) = apply(&fake, &old_design(project.render()), &[]).await;
    assert_all_applied(&report);

    project.replicas(1, 2);
    let (_, report) = apply(&fake, &old_design(project.render()), &[]).await;
    let StackOutcome::Failed { status, causes, .. } = outcome(&report, "database") else {
        panic!("the database update must fail: {report:?}");
    };
    assert_eq!(status.as_deref(), Some("UPDATE_ROLLBACK_COMPLETE"));
    assert_eq!(
        causes[0].reason,
        "Export photofeed-dev-database-ReaderEndpoints cannot be updated as it is in use by photofeed-dev-bastion"
    );
    // Rolled back after building the second replica, which is gone again; the bastion (unchanged
    // template) keeps forwarding to the one replica.
    assert!(
        fake.resource_properties(DATABASE, "DatabaseReplica2")
            .is_none()
    );
    assert_eq!(outcome(&report, "bastion"), &StackOutcome::Unchanged);
}

#[tokio::test]
async fn a_saved_plan_is_re_planned_only_where_it_said_so() {
    let fake = FakeCloudFormation::default();
    let project = Copy::of_project();
    let (_, report) = apply(&fake, &project.render(), &[]).await;
    assert_all_applied(&report);

    project.replicas(1, 2);
    let rendered = project.render();
    let planned = plan(&fake, &FixedFacts::default(), &rendered, None)
        .await
        .unwrap();
    // Through the file format CI uses between `plan --out` and `apply --plan`.
    let file = tempfile::NamedTempFile::new().unwrap();
    SavedPlan::new(planned).write(file.path()).unwrap();
    let saved = SavedPlan::read(file.path()).unwrap();
    let checked = guard::check_saved_plan(&fake, &rendered, &saved.plan, file.path())
        .await
        .expect("a fresh saved plan applies");
    guard::check_replacements(&checked, &BTreeSet::new()).unwrap();
    let report = apply_stacks(&fake, &rendered, &checked.stacks).await;
    assert_all_applied(&report);
    assert_bastion_forwards_to_the_database(&fake).await;
    assert_no_changes(&fake, &rendered).await;

    // A saved plan whose upstream changed under it is stale, parameters or not.
    project.replicas(2, 1);
    let rendered = project.render();
    let stale = plan(&fake, &FixedFacts::default(), &rendered, None)
        .await
        .unwrap();
    apply(&fake, &rendered, &[]).await;
    let err = guard::check_saved_plan(&fake, &rendered, &stale, file.path())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("was updated since the plan"),
        "{err}"
    );
}

const AL2023: &str = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";

/// A newer Amazon Linux 2023 image behind AWS's SSM parameter, in the account and in the
/// CloudFormation that resolves it.
fn newer_al2023(fake: &FakeCloudFormation) -> FixedFacts {
    let mut facts = FixedFacts::default();
    let mut newer = facts.images[0].clone();
    newer.id = "ami-0newer".into();
    facts.images.push(newer);
    facts.set_ssm(AL2023, "ami-0newer");
    fake.set_ssm_parameter(AL2023, "ami-0newer");
    facts
}

fn bastion_instance(plan: &Plan) -> &crate::plan::ResourceChange {
    stack(plan, "bastion")
        .changes
        .iter()
        .find(|c| c.logical_id == "BastionInstance")
        .expect("the plan changes the bastion instance")
}

/// AWS publishes a newer Amazon Linux image under the same public SSM parameter: the templates and
/// environment files are unchanged, yet the bastion's image changes, and with `ImageId` createOnly in
/// AWS::EC2::Instance's schema that replaces the instance. The plan must say so, naming the parameter.
#[tokio::test]
async fn a_newer_image_behind_the_ssm_parameter_shows_as_the_bastion_replacement() {
    let fake = FakeCloudFormation::default();
    let project = Copy::of_project();
    let rendered = project.render();
    let (_, report) = apply(&fake, &rendered, &[]).await;
    assert_all_applied(&report);
    assert_eq!(fake.parameters(BASTION)["BastionImageId"], "ami-0fixed");

    let facts = newer_al2023(&fake);
    let planned = plan(&fake, &facts, &rendered, None).await.unwrap();
    for quiet in ["network", "database", "storage"] {
        assert_eq!(stack(&planned, quiet).action, StackAction::NoChanges);
    }
    let bastion = stack(&planned, "bastion");
    let image = bastion
        .parameters
        .iter()
        .find(|p| p.name == "BastionImageId")
        .unwrap();
    assert_eq!(
        image.source,
        ParameterSource::Ssm {
            path: AL2023.into()
        }
    );
    assert_eq!(image.deployed.as_deref(), Some("ami-0fixed"));
    assert_eq!(
        image.value,
        ParameterValue::Known {
            value: "ami-0newer".into()
        }
    );
    let instance = bastion_instance(&planned);
    assert!(instance.replaces(), "{instance:?}");
    assert_eq!(instance.properties[0].path, "ImageId");
    assert_eq!(
        instance.properties[0].parameter.as_deref(),
        Some("BastionImageId")
    );

    let report = apply_stacks(&fake, &rendered, &planned.stacks).await;
    assert_all_applied(&report);
    assert_eq!(fake.parameters(BASTION)["BastionImageId"], "ami-0newer");
    let again = plan(&fake, &facts, &rendered, None).await.unwrap();
    assert!(!again.has_changes(), "{:?}", again.stacks);
}

/// A check only the account can answer fails before any change set: nothing is created, nothing is left.
#[tokio::test]
async fn a_plan_whose_image_the_region_lacks_stops_before_any_change_set() {
    let fake = FakeCloudFormation::default();
    let project = Copy::of_project();
    let (_, report) = apply(&fake, &project.render(), &[]).await;
    assert_all_applied(&report);
    let calls_before = fake.calls().len();

    project.replicas(1, 2);
    let facts = FixedFacts {
        images: Vec::new(),
        ..FixedFacts::default()
    };
    let err = plan(&fake, &facts, &project.render(), None)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, crate::Error::Preflight { .. }), "{text}");
    assert!(
        text.contains("environments/dev.yaml: bastion.image: image `ami-0fixed`"),
        "{text}"
    );
    assert!(text.contains("(the value now comes from"), "{text}");
    assert_eq!(fake.calls().len(), calls_before, "{:?}", fake.calls());
}

/// A no-change plan asks for change sets only where CloudFormation resolves values itself (the database's
/// `{{resolve:secretsmanager:...}}` password, the bastion's SSM-typed image parameter); the network and
/// storage are seen unchanged from DescribeStacks and GetTemplate alone. A changed stack tag is a change
/// for every stack, so each gets a change set again.
#[tokio::test]
async fn a_no_change_plan_makes_change_sets_only_where_cloudformation_resolves_values() {
    let fake = FakeCloudFormation::default();
    let project = Copy::of_project();
    let (_, report) = apply(&fake, &project.render(), &[]).await;
    assert_all_applied(&report);

    let change_sets_of = |calls: &[String]| -> Vec<String> {
        calls
            .iter()
            .filter_map(|c| c.strip_prefix("create-change-set "))
            .map(str::to_owned)
            .collect()
    };
    let before = fake.calls().len();
    assert_no_changes(&fake, &project.render()).await;
    assert_eq!(
        change_sets_of(&fake.calls()[before..]),
        ["photofeed-dev-database", "photofeed-dev-bastion"]
    );

    project.edit(
        "environments/dev.yaml",
        "  tier: development",
        "  tier: development-2",
    );
    let before = fake.calls().len();
    let planned = plan(&fake, &FixedFacts::default(), &project.render(), None)
        .await
        .unwrap();
    assert_eq!(
        change_sets_of(&fake.calls()[before..]).len(),
        planned.stacks.len()
    );
}

/// Issue 14: a newer image replaces a bastion whose termination protection is on. CloudFormation
/// would create the new instance, fail to delete the protected old one in the cleanup, end
/// `UPDATE_COMPLETE` and leave it running outside the stack; so the plan says so and apply refuses
/// until the replacement is named (after the old instance's protection is turned off).
#[tokio::test]
async fn replacing_a_termination_protected_bastion_is_refused_until_allowed() {
    /// dev applied, then planned again with a newer image.
    async fn replan_with_newer_image(project: &Copy) -> Plan {
        let fake = FakeCloudFormation::default();
        let rendered = project.render();
        let (_, report) = apply(&fake, &rendered, &[]).await;
        assert_all_applied(&report);
        let facts = newer_al2023(&fake);
        plan(&fake, &facts, &rendered, None).await.unwrap()
    }

    let project = Copy::of_project();
    project.edit(
        "environments/dev.yaml",
        "  detailed_monitoring: false\n",
        "  detailed_monitoring: false\n  termination_protection: true\n",
    );
    let planned = replan_with_newer_image(&project).await;
    let instance = bastion_instance(&planned);
    assert!(instance.strands_protected_original(), "{instance:?}");
    assert_eq!(
        instance.deletion_protection.as_deref(),
        Some("DisableApiTermination")
    );
    let shown = crate::report::plan::render(&planned, crate::report::Style::PLAIN);
    assert!(
        shown.contains("!! PROTECTED BastionInstance (AWS::EC2::Instance) will be REPLACED, but its DisableApiTermination is on"),
        "{shown}"
    );

    let refusal = guard::check_replacements(&planned, &BTreeSet::new()).unwrap_err();
    let message = refusal.to_string();
    assert!(
        matches!(refusal, Error::ProtectedReplacementRefused { .. }),
        "{message}"
    );
    assert!(
        message.contains("photofeed-dev-bastion replaces BastionInstance"),
        "{message}"
    );
    assert!(
        message.contains("--no-disable-api-termination"),
        "{message}"
    );
    let allowed = BTreeSet::from(["BastionInstance".to_string()]);
    guard::check_replacements(&planned, &allowed).unwrap();
    assert_eq!(
        guard::unused_allowances(&planned, &allowed),
        Vec::<String>::new()
    );

    // Without protection the same replacement needs no allowance (the bastion holds no data).
    let planned = replan_with_newer_image(&Copy::of_project()).await;
    let instance = bastion_instance(&planned);
    assert!(instance.replaces() && !instance.strands_protected_original());
    guard::check_replacements(&planned, &BTreeSet::new()).unwrap();
}
