//! The resource catalog against its sources: the committed schema extract is exactly what the
//! pinned cfn-lint ships, replacement prediction for every property the shipped templates render
//! agrees with CloudFormation's own schemas, and the policy files' type lists are the catalog's.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use strata::catalog::{self, Replacement, Segment, Tagging};
use strata::project::Project;

fn python() -> PathBuf {
    support::python_tools().join("python")
}

#[test]
fn the_committed_schemas_are_what_the_pinned_cfn_lint_ships() {
    let root = support::project_root();
    let output = Command::new(python())
        .arg(root.join("scripts/extract-schemas.py"))
        .output()
        .expect("run scripts/extract-schemas.py");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let committed = std::fs::read_to_string(root.join("src/catalog/schemas.json")).unwrap();
    assert!(
        String::from_utf8_lossy(&output.stdout) == committed,
        "src/catalog/schemas.json differs from what the pinned cfn-lint ships: run \
         `.venv/bin/python scripts/extract-schemas.py --write` and review the diff"
    );
}

/// The pinned cfn-lint's own schema files, read directly (not through the extract).
fn cfn_lint_schemas() -> (PathBuf, BTreeMap<String, String>) {
    let output = Command::new(python())
        .args([
            "-c",
            "import cfnlint, pathlib; print(pathlib.Path(cfnlint.__file__).parent / 'data' / 'schemas')",
        ])
        .output()
        .expect("locate cfn-lint");
    let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    let provider: BTreeMap<String, String> = serde_json::from_str(
        &std::fs::read_to_string(dir.join("providers/us-east-1.json")).unwrap(),
    )
    .unwrap();
    (dir.join("resources"), provider)
}

/// `/properties/A/*/B` pointers of `key`, as segment lists.
fn pointers(schema: &Value, key: &str) -> Vec<Vec<String>> {
    schema[key]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p.as_str()?.strip_prefix("/properties/"))
        .map(|p| p.split('/').map(str::to_owned).collect())
        .collect()
}

/// Every leaf of a property value, as its path (list positions included).
fn leaves(value: &Value, path: &mut Vec<Segment>, found: &mut Vec<Vec<Segment>>) {
    let is_intrinsic = |map: &serde_json::Map<String, Value>| {
        map.len() == 1 && map.keys().all(|k| k == "Ref" || k.starts_with("Fn::"))
    };
    match value {
        Value::Object(map) if !map.is_empty() && !is_intrinsic(map) => {
            for (key, inner) in map {
                path.push(Segment::Key(key.clone()));
                leaves(inner, path, found);
                path.pop();
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (index, inner) in items.iter().enumerate() {
                path.push(Segment::Index(index));
                leaves(inner, path, found);
                path.pop();
            }
        }
        _ => found.push(path.clone()),
    }
}

#[test]
fn replacement_prediction_agrees_with_the_schema_for_every_rendered_property() {
    let (resources_dir, provider) = cfn_lint_schemas();
    let project = Project::open(&support::project_root()).unwrap();
    let mut checked_paths = 0;
    let mut types_seen = BTreeSet::new();
    let mut disagreements = Vec::new();
    for environment in project.environment_names().unwrap() {
        let rendered = project.render(&environment).unwrap();
        for stack in &rendered.stacks {
            for (logical_id, resource) in &stack.template.resources {
                let name = resource.resource_type;
                let known = catalog::require(name).unwrap();
                let file = resources_dir.join(format!("{}.json", provider[name]));
                let schema: Value =
                    serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
                let always = pointers(&schema, "createOnlyProperties");
                let conditional = pointers(&schema, "conditionalCreateOnlyProperties");
                let overlay = catalog::catalog().overlay_replacements(name);
                types_seen.insert(name);
                let mut paths = Vec::new();
                leaves(&resource.properties, &mut Vec::new(), &mut paths);
                for path in paths {
                    let schema_path: Vec<&str> = path
                        .iter()
                        .map(|s| match s {
                            Segment::Key(k) => k.as_str(),
                            Segment::Index(_) => "*",
                        })
                        .collect();
                    let under = |pointer: &Vec<String>| {
                        pointer.len() <= schema_path.len()
                            && pointer.iter().zip(&schema_path).all(|(a, b)| a == b)
                    };
                    let mut expected = if always.iter().any(under) {
                        Replacement::Always
                    } else if conditional.iter().any(under) {
                        Replacement::Conditional
                    } else {
                        Replacement::Never
                    };
                    // The overlay may only add caution, each time with a cited reason.
                    if let Some(fact) = overlay
                        .iter()
                        .find(|f| Some(&f.property.as_str()) == schema_path.first())
                    {
                        expected = expected.max(fact.effect);
                    }
                    let predicted = known.replacement(&path);
                    checked_paths += 1;
                    if predicted != expected {
                        disagreements.push(format!(
                            "{environment}/{} {logical_id} ({name}) {}: predicted {predicted:?}, schema says {expected:?}",
                            stack.name,
                            strata::catalog::PathDisplay(&path)
                        ));
                    }
                }
            }
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
    assert!(types_seen.len() >= 20, "{types_seen:?}");
    assert!(checked_paths > 1000, "only {checked_paths} property paths");
}

#[test]
fn overlay_facts_only_add_caution_and_cite_their_source() {
    for resource_type in catalog::catalog().types() {
        for fact in catalog::catalog().overlay_replacements(&resource_type.name) {
            let predicted = resource_type.property_replacement(&fact.property);
            assert!(
                fact.effect >= Replacement::Conditional && predicted >= fact.effect,
                "{} {}: {:?}",
                resource_type.name,
                fact.property,
                fact.effect
            );
            assert!(
                resource_type
                    .property_names()
                    .contains(&fact.property.as_str()),
                "{} has no property {}",
                resource_type.name,
                fact.property
            );
            assert!(
                fact.reason.contains("https://docs.aws.amazon.com/"),
                "{} {}: the reason must cite the documentation",
                resource_type.name,
                fact.property
            );
        }
    }
}

/// The types a guard file lists after `let <variable> = Resources.*[ Type IN [...] ]`.
fn guard_list(file: &str, variable: &str) -> BTreeSet<String> {
    let text =
        std::fs::read_to_string(support::project_root().join("policies").join(file)).unwrap();
    let start = text
        .find(&format!("let {variable} ="))
        .unwrap_or_else(|| panic!("{file} has no `let {variable}`"));
    let rest = &text[start..];
    let open = rest.find("IN [").expect("a Type IN [...] list") + 4;
    let close = rest[open..].find(']').expect("a closed list") + open;
    rest[open..close]
        .split(',')
        .map(|item| item.trim().trim_matches('\'').to_owned())
        .filter(|item| !item.is_empty())
        .collect()
}

fn catalog_types(wanted: impl Fn(&catalog::ResourceType) -> bool) -> BTreeSet<String> {
    catalog::catalog()
        .types()
        .filter(|t| wanted(t))
        .map(|t| t.name.clone())
        .collect()
}

#[test]
fn the_guard_files_list_exactly_the_catalog_types_they_are_about() {
    assert_eq!(
        guard_list("lifecycle.guard", "lifecycle_stateful"),
        catalog_types(|t| t.stateful),
        "policies/lifecycle.guard: stateful types"
    );
    for (variable, tagging) in [
        ("tagging_taggable", Tagging::TagsList),
        ("tagging_tag_maps", Tagging::TagsMap),
        ("tagging_tag_specifications", Tagging::TagSpecifications),
    ] {
        assert_eq!(
            guard_list("tagging.guard", variable),
            catalog_types(|t| t.tagging == tagging),
            "policies/tagging.guard: {variable}"
        );
    }
}

/// `policies/application.guard` lets an IAM statement use `"Resource": "*"` only for actions that
/// support no resource-level permissions. That list must agree with the pinned cfn-lint's copy of
/// the Service Authorization Reference (`data/AdditionalSpecs/Policies.json`: an action with no
/// `Resources` names no resource type), so the exception can never cover an action that could be
/// scoped.
#[test]
fn the_wildcard_resource_exception_covers_only_actions_without_resource_types() {
    let text = std::fs::read_to_string(support::project_root().join("policies/application.guard"))
        .unwrap();
    let start = text
        .find("let iam_actions_without_resource_level_permissions = [")
        .expect("the exception list");
    let rest = &text[start..];
    let open = rest.find('[').unwrap() + 1;
    let close = rest.find(']').unwrap();
    let actions: Vec<&str> = rest[open..close]
        .split(',')
        .map(|item| item.trim().trim_matches('\''))
        .filter(|item| !item.is_empty())
        .collect();
    assert_eq!(
        actions,
        [
            "ec2:DescribeNetworkInterfaces",
            "ec2:DescribeSubnets",
            "logs:DescribeLogGroups"
        ]
    );

    let (schemas, _) = cfn_lint_schemas();
    let policies: Value = serde_json::from_str(
        &std::fs::read_to_string(schemas.join("../../AdditionalSpecs/Policies.json")).unwrap(),
    )
    .unwrap();
    for action in actions {
        let (service, name) = action.split_once(':').unwrap();
        let entry = &policies[service]["Actions"][name.to_ascii_lowercase()];
        assert!(entry.is_object(), "{action} is not in Policies.json");
        assert!(
            entry.get("Resources").is_none(),
            "{action} supports resource types {}: scope it instead of `*`",
            entry["Resources"]
        );
    }
    // And an action that does name resource types would be caught.
    assert!(policies["ec2"]["Actions"]["createnetworkinterface"]["Resources"].is_array());
}
