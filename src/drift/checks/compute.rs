//! EC2 instances (the bastion): type, image, subnet, groups, running state, IMDSv2.

use serde_json::{Value, json};

use super::{Ctx, Diffs, Verdict};
use crate::drift::normalize::Kind;

/// Declared on the instance, or else in the launch template it names (the instance's own values win on AWS).
fn declared_or_template(ctx: &Ctx, name: &str) -> Option<Value> {
    ctx.declared(name)
        .or_else(|| ctx.resolver.resolve(launch_template_data(ctx)?.get(name)?))
}

/// `LaunchTemplateData` of the launch template (declared in the same stack) the instance is launched from.
fn launch_template_data<'a>(ctx: &Ctx<'a>) -> Option<&'a Value> {
    let reference = ctx
        .resource
        .properties
        .get("LaunchTemplate")?
        .get("LaunchTemplateId")?
        .get("Ref")?
        .as_str()?;
    let template = ctx.template.resources.get(reference)?;
    (template.resource_type == "AWS::EC2::LaunchTemplate")
        .then(|| template.properties.get("LaunchTemplateData"))
        .flatten()
}

pub fn instance(ctx: &Ctx) -> Verdict {
    let Some(instance) = ctx.live.instances.get(ctx.physical_id) else {
        return Verdict::Deleted;
    };
    let state = instance.state.as_deref().unwrap_or_default();
    if matches!(state, "terminated" | "shutting-down") {
        return Verdict::Deleted;
    }
    let mut diffs = Diffs::default();
    // CloudFormation leaves an instance running; `pending` is on its way there.
    if !state.is_empty() && state != "pending" {
        diffs.compare("State", json!("running"), Some(json!(state)), Kind::Text);
    }
    let text = |value: &Option<String>| value.clone().map(Value::String);
    for (name, actual) in [
        ("InstanceType", text(&instance.instance_type)),
        ("ImageId", text(&instance.image_id)),
    ] {
        if let Some(expected) = declared_or_template(ctx, name) {
            diffs.compare(name, expected, actual, Kind::Text);
        }
    }
    diffs.property(ctx, "SubnetId", text(&instance.subnet_id), Kind::Text);
    diffs.property(
        ctx,
        "SecurityGroupIds",
        Some(json!(instance.security_group_ids)),
        Kind::IdSet,
    );
    // Detailed monitoring (issue 14): EC2 reports `enabled`/`pending` for on, `disabled`/`disabling`
    // for off; [security] when it went off (normalize::severity, `Monitoring`).
    if let Some(expected) = ctx.declared("Monitoring") {
        let actual = instance
            .monitoring
            .as_deref()
            .map(|state| Value::Bool(matches!(state, "enabled" | "pending")));
        diffs.compare("Monitoring", expected, actual, Kind::Bool);
    }
    let http_tokens = launch_template_data(ctx)
        .and_then(|data| data.get("MetadataOptions")?.get("HttpTokens"))
        .and_then(|tokens| ctx.resolver.resolve(tokens));
    if let Some(expected) = http_tokens {
        diffs.compare(
            "MetadataOptions.HttpTokens",
            expected,
            text(&instance.http_tokens),
            Kind::CaseInsensitive,
        );
    }
    diffs.verdict()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testing::{Case, differences, is_deleted};
    use crate::aws::live::Instance;
    use crate::drift::Severity;

    fn bastion() -> Case {
        Case::new(
            "AWS::EC2::Instance",
            json!({
                "ImageId": "ami-1",
                "LaunchTemplate": {"LaunchTemplateId": {"Ref": "Lt"}, "Version": {"Fn::GetAtt": ["Lt", "LatestVersionNumber"]}},
                "SecurityGroupIds": [{"Fn::ImportValue": "net-BastionSg"}],
                "SubnetId": {"Fn::ImportValue": "net-Public3"},
                "UserData": {"Fn::Base64": "#!/bin/bash"},
                "Monitoring": true
            }),
        )
        .declare(
            "Lt",
            "AWS::EC2::LaunchTemplate",
            json!({"LaunchTemplateData": {"InstanceType": "t3.micro", "MetadataOptions": {"HttpTokens": "required"}}}),
        )
        .export("net-BastionSg", "sg-b")
        .export("net-Public3", "subnet-3")
    }

    fn running() -> Instance {
        Instance {
            id: "i-1".into(),
            state: Some("running".into()),
            instance_type: Some("t3.micro".into()),
            image_id: Some("ami-1".into()),
            subnet_id: Some("subnet-3".into()),
            security_group_ids: vec!["sg-b".into()],
            http_tokens: Some("required".into()),
            public_ip: Some("203.0.113.5".into()),
            monitoring: Some("enabled".into()),
        }
    }

    #[test]
    fn an_instance_as_declared_through_its_launch_template_is_in_sync() {
        let mut case = bastion();
        case.live.instances.insert("i-1".into(), running());
        assert_eq!(differences(&case, "i-1"), vec![]);
    }

    #[test]
    fn type_state_groups_and_imdsv2_drift_are_reported() {
        let mut case = bastion();
        let mut changed = running();
        changed.state = Some("stopped".into());
        changed.instance_type = Some("t3.large".into());
        changed.security_group_ids = vec!["sg-b".into(), "sg-open".into()];
        changed.http_tokens = Some("optional".into());
        case.live.instances.insert("i-1".into(), changed);
        let found = differences(&case, "i-1");
        let summary: Vec<(&str, Severity)> = found
            .iter()
            .map(|d| (d.path.as_str(), d.severity))
            .collect();
        assert_eq!(
            summary,
            [
                ("State", Severity::Normal),
                ("InstanceType", Severity::Normal),
                ("SecurityGroupIds", Severity::Security),
                ("MetadataOptions.HttpTokens", Severity::Security),
            ]
        );
    }

    /// Issue 14: detailed monitoring switched off outside the stack is [security] drift; a
    /// change still under way (`pending`) is not drift.
    #[test]
    fn detailed_monitoring_switched_off_is_security_drift() {
        let mut case = bastion();
        let mut instance = running();
        instance.monitoring = Some("pending".into());
        case.live.instances.insert("i-1".into(), instance.clone());
        assert_eq!(differences(&case, "i-1"), vec![]);
        instance.monitoring = Some("disabled".into());
        case.live.instances.insert("i-1".into(), instance);
        let found = differences(&case, "i-1");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].path, "Monitoring");
        assert_eq!(found[0].severity, Severity::Security);
    }

    #[test]
    fn a_terminated_instance_is_deleted() {
        let mut case = bastion();
        let mut gone = running();
        gone.state = Some("terminated".into());
        case.live.instances.insert("i-1".into(), gone);
        assert!(is_deleted(&case, "i-1"));
    }
}
