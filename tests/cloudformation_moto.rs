//! The SDK adapter against a local moto server.

mod support;

use std::collections::BTreeMap;

use serde_json::json;
use strata::aws::cloudformation::{
    Capability, ChangeAction, ChangeSetKind, ChangeSetOutcome, ChangeSetRequest, CloudFormation,
    CreateStackRequest, RequestToken,
};
use strata::aws::{
    AwsClients, AwsError, SdkCloudFormation, WaitPolicy, caller_account, once, wait_for_change_set,
    wait_for_stack,
};
use support::moto::Moto;

fn queue_template(visibility_timeout: u32) -> serde_json::Value {
    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "Dlq": {"Type": "AWS::SQS::Queue", "Properties": {"SqsManagedSseEnabled": true}},
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {
                "VisibilityTimeout": visibility_timeout,
                "SqsManagedSseEnabled": true,
                "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["Dlq", "Arn"]}, "maxReceiveCount": 5}
            }}
        },
        "Outputs": {
            "QueueArn": {"Value": {"Fn::GetAtt": ["Queue", "Arn"]}, "Export": {"Name": "shop-dev-storage-QueueArn"}}
        }
    })
}

fn request(
    stack: &str,
    change_set: &str,
    kind: ChangeSetKind,
    template: &serde_json::Value,
) -> ChangeSetRequest {
    ChangeSetRequest {
        stack: stack.into(),
        change_set: change_set.into(),
        kind,
        template_body: template.to_string(),
        parameters: BTreeMap::new(),
        tags: BTreeMap::from([
            ("project".into(), "shop".into()),
            ("managed-by".into(), "strata".into()),
        ]),
        capabilities: vec![Capability::Iam, Capability::NamedIam],
        description: Some("strata test".into()),
        client_token: RequestToken::derive("changeset", &[stack, change_set]),
    }
}

fn token(purpose: &str) -> RequestToken {
    RequestToken::derive(purpose, &["cloudformation_moto"])
}

async fn setup() -> (Moto, AwsClients, SdkCloudFormation) {
    let moto = Moto::start();
    let clients = support::clients(&moto).await;
    let cfn = SdkCloudFormation::new(clients.cloudformation.clone());
    (moto, clients, cfn)
}

#[tokio::test]
async fn missing_stack_is_none_and_its_template_is_stack_not_found() {
    let (_moto, _clients, cfn) = setup().await;
    assert_eq!(cfn.describe_stack("shop-dev-nothing").await.unwrap(), None);
    let err = cfn.get_template("shop-dev-nothing").await.unwrap_err();
    assert!(
        matches!(&err, AwsError::StackNotFound { operation: "GetTemplate", stack } if stack == "shop-dev-nothing"),
        "{err:?}"
    );
}

#[tokio::test]
async fn change_sets_create_modify_and_report_no_changes() {
    let (_moto, _clients, cfn) = setup().await;
    let stack = "shop-dev-storage";

    let template = queue_template(30);
    cfn.create_change_set(&request(
        stack,
        "strata-1",
        ChangeSetKind::Create,
        &template,
    ))
    .await
    .unwrap();
    let pending = cfn
        .describe_stack(stack)
        .await
        .unwrap()
        .expect("stack shell exists after a CREATE change set");
    assert_eq!(pending.status.as_str(), "REVIEW_IN_PROGRESS");
    assert!(pending.status.has_no_resources_deployed());

    let ChangeSetOutcome::Ready(created) =
        wait_for_change_set(&cfn, stack, "strata-1", WaitPolicy::CHANGE_SET)
            .await
            .unwrap()
    else {
        panic!("expected changes");
    };
    let mut adds: Vec<_> = created
        .changes
        .iter()
        .map(|c| (c.action, c.logical_id.as_str(), c.resource_type.as_str()))
        .collect();
    adds.sort();
    assert_eq!(
        adds,
        vec![
            (ChangeAction::Add, "Dlq", "AWS::SQS::Queue"),
            (ChangeAction::Add, "Queue", "AWS::SQS::Queue")
        ]
    );
    // moto reports no Replacement/Scope/Details.
    assert!(
        created
            .changes
            .iter()
            .all(|c| c.replacement.is_none() && c.scope.is_empty())
    );

    cfn.execute_change_set(stack, "strata-1", &token("strata-1"))
        .await
        .unwrap();
    let deployed = wait_for_stack(&cfn, stack, WaitPolicy::STACK)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(deployed.status.as_str(), "CREATE_COMPLETE");
    // (moto 5.2.5 never builds Outputs for a stack born from a CREATE change set: see MOTO_NOTES.md. Outputs and
    // exports are asserted in the CreateStack test below.)

    // A modified property is a Modify of that resource only.
    let updated = queue_template(60);
    cfn.create_change_set(&request(stack, "strata-2", ChangeSetKind::Update, &updated))
        .await
        .unwrap();
    let ChangeSetOutcome::Ready(update) =
        wait_for_change_set(&cfn, stack, "strata-2", WaitPolicy::CHANGE_SET)
            .await
            .unwrap()
    else {
        panic!("expected changes");
    };
    let changed: Vec<_> = update
        .changes
        .iter()
        .map(|c| (c.action, c.logical_id.as_str()))
        .collect();
    assert_eq!(changed, vec![(ChangeAction::Modify, "Queue")]);
    cfn.execute_change_set(stack, "strata-2", &token("strata-2"))
        .await
        .unwrap();
    assert_eq!(
        wait_for_stack(&cfn, stack, WaitPolicy::STACK)
            .await
            .unwrap()
            .unwrap()
            .status
            .as_str(),
        "UPDATE_COMPLETE"
    );
    assert_eq!(cfn.get_template(stack).await.unwrap(), updated);

    // The same template again: no changes, as an outcome; the failed change set can be deleted.
    cfn.create_change_set(&request(stack, "strata-3", ChangeSetKind::Update, &updated))
        .await
        .unwrap();
    let outcome = wait_for_change_set(&cfn, stack, "strata-3", WaitPolicy::CHANGE_SET)
        .await
        .unwrap();
    assert!(
        matches!(outcome, ChangeSetOutcome::NoChanges { .. }),
        "{outcome:?}"
    );
    cfn.delete_change_set(stack, "strata-3").await.unwrap();
    let err = cfn
        .describe_change_set(stack, "strata-3")
        .await
        .unwrap_err();
    assert!(matches!(err, AwsError::ChangeSetNotFound { .. }), "{err:?}");

    // UPDATE on a stack that does not exist.
    let err = cfn
        .create_change_set(&request(
            "shop-dev-none",
            "strata-1",
            ChangeSetKind::Update,
            &updated,
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AwsError::StackNotFound { operation: "CreateChangeSet", stack } if stack == "shop-dev-none"),
        "{err:?}"
    );
}

#[tokio::test]
async fn created_stack_has_outputs_exports_events_and_deletes() {
    let (_moto, _clients, cfn) = setup().await;
    let stack = "shop-dev-storage";
    let template = queue_template(30);
    let create = CreateStackRequest {
        stack: stack.into(),
        template_body: template.to_string(),
        parameters: BTreeMap::new(),
        tags: BTreeMap::from([("managed-by".into(), "strata".into())]),
        capabilities: vec![Capability::Iam],
        termination_protection: false,
        client_request_token: token("create"),
    };
    let id = cfn.create_stack(&create).await.unwrap();
    let deployed = wait_for_stack(&cfn, stack, WaitPolicy::STACK)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(deployed.id, id);
    assert_eq!(deployed.status.as_str(), "CREATE_COMPLETE");
    assert_eq!(
        deployed.tags.get("managed-by").map(String::as_str),
        Some("strata")
    );
    let output = deployed.outputs["QueueArn"].clone();
    assert!(
        output
            .value
            .starts_with("arn:aws:sqs:eu-west-1:111111111111:"),
        "{output:?}"
    );
    assert_eq!(
        output.export_name.as_deref(),
        Some("shop-dev-storage-QueueArn")
    );
    assert_eq!(cfn.get_template(stack).await.unwrap(), template);

    let resources = cfn.list_stack_resources(stack).await.unwrap();
    let mut logical: Vec<_> = resources.iter().map(|r| r.logical_id.as_str()).collect();
    logical.sort();
    assert_eq!(logical, ["Dlq", "Queue"]);
    assert!(
        resources
            .iter()
            .all(|r| r.resource_type == "AWS::SQS::Queue"
                && r.status == "CREATE_COMPLETE"
                && r.physical_id
                    .as_deref()
                    .is_some_and(|id| id.starts_with("http"))),
        "{resources:?}"
    );

    let exports = cfn.list_exports().await.unwrap();
    assert_eq!(exports["shop-dev-storage-QueueArn"].value, output.value);
    assert_eq!(exports["shop-dev-storage-QueueArn"].exporting_stack_id, id);

    // An UPDATE change set keeps the outputs of a stack created this way.
    cfn.create_change_set(&request(
        stack,
        "strata-2",
        ChangeSetKind::Update,
        &queue_template(60),
    ))
    .await
    .unwrap();
    wait_for_change_set(&cfn, stack, "strata-2", WaitPolicy::CHANGE_SET)
        .await
        .unwrap();
    cfn.execute_change_set(stack, "strata-2", &token("strata-2"))
        .await
        .unwrap();
    let updated = wait_for_stack(&cfn, stack, WaitPolicy::STACK)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.outputs["QueueArn"], output);

    let events = cfn.describe_stack_events(stack, None).await.unwrap();
    let statuses: Vec<_> = events.iter().map(|e| e.status.as_str()).collect();
    assert_eq!(statuses.first(), Some(&"UPDATE_COMPLETE"), "{events:?}");
    assert!(statuses.contains(&"CREATE_COMPLETE"));
    let newer = cfn
        .describe_stack_events(stack, Some(&events[1].event_id))
        .await
        .unwrap();
    assert_eq!(newer, events[..1].to_vec());

    // moto does not implement UpdateTerminationProtection: it answers an HTML 500.
    let err = cfn
        .update_termination_protection(stack, true)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AwsError::Unsupported {
                operation: "UpdateTerminationProtection",
                ..
            }
        ),
        "{err:?}"
    );

    cfn.delete_stack(stack, &token("delete")).await.unwrap();
    assert_eq!(
        wait_for_stack(&cfn, stack, WaitPolicy::STACK)
            .await
            .unwrap(),
        None
    );
    assert!(cfn.list_exports().await.unwrap().is_empty());
}

#[tokio::test]
async fn caller_account_is_the_emulated_account() {
    let (_moto, clients, _cfn) = setup().await;
    assert_eq!(
        caller_account(&clients.sts).await.unwrap(),
        support::moto::ACCOUNT_ID
    );
}

#[tokio::test]
async fn unimplemented_action_is_unsupported() {
    let (_moto, clients, _cfn) = setup().await;
    let err = clients
        .cloudformation
        .detect_stack_drift()
        .stack_name("s")
        .send()
        .await
        .unwrap_err();
    let err = strata::aws::error::classify(
        strata::aws::error::Call::stack("DetectStackDrift", "s"),
        err,
    );
    assert!(
        matches!(
            err,
            AwsError::Unsupported {
                operation: "DetectStackDrift",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn closed_port_is_endpoint_unreachable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let clients = AwsClients::load(&support::settings(&format!("http://127.0.0.1:{port}"))).await;
    let err = caller_account(&clients.sts).await.unwrap_err();
    assert!(
        matches!(
            err,
            AwsError::EndpointUnreachable {
                operation: "GetCallerIdentity",
                ..
            }
        ),
        "{err:?}"
    );
}

/// What a retry after a lost answer meets on moto, which ignores `ClientRequestToken` (MOTO_NOTES §8): the
/// second CreateStack is `AlreadyExistsException`, events carry no token, and deleting a change set again
/// answers an HTML 500. The `once` functions still take each operation as started once.
#[tokio::test]
async fn retried_mutations_on_an_endpoint_that_ignores_tokens() {
    let (_moto, _clients, cfn) = setup().await;
    let stack = "shop-dev-storage";
    let create = CreateStackRequest {
        stack: stack.into(),
        template_body: queue_template(30).to_string(),
        parameters: BTreeMap::new(),
        tags: BTreeMap::from([("managed-by".into(), "strata".into())]),
        capabilities: vec![Capability::Iam],
        termination_protection: false,
        client_request_token: token("create"),
    };
    once::create_stack(&cfn, &create).await.unwrap();
    let again = cfn.create_stack(&create).await.unwrap_err();
    assert!(
        matches!(
            &again,
            AwsError::AlreadyExists {
                operation: "CreateStack",
                ..
            }
        ),
        "{again:?}"
    );
    let events = cfn.recent_stack_events(stack).await.unwrap();
    assert!(!events.is_empty());
    assert!(
        events.iter().all(|e| e.client_request_token.is_none()),
        "{events:?}"
    );
    // Without tokens, the stack is recognised by its template and tags...
    once::create_stack(&cfn, &create).await.unwrap();
    // ...so a create of something else under that name is still refused.
    let other = CreateStackRequest {
        template_body: queue_template(90).to_string(),
        client_request_token: token("create-other"),
        ..create.clone()
    };
    let err = once::create_stack(&cfn, &other).await.unwrap_err();
    assert!(matches!(err, AwsError::AlreadyExists { .. }), "{err:?}");

    let created = cfn
        .create_change_set(&request(
            stack,
            "strata-9",
            ChangeSetKind::Update,
            &queue_template(60),
        ))
        .await
        .unwrap();
    cfn.delete_change_set(stack, &created.change_set_id)
        .await
        .unwrap();
    let err = cfn
        .delete_change_set(stack, &created.change_set_id)
        .await
        .unwrap_err();
    assert!(
        matches!(err, AwsError::Unsupported { status: 500, .. }),
        "{err:?}"
    );
    once::delete_change_set(&cfn, stack, &created.change_set_id)
        .await
        .unwrap();
}

/// ListStacks through the adapter: every page, with the status filter that leaves deleted stacks out (moto
/// honours the filter; without it, it lists `DELETE_COMPLETE` stacks too, as AWS does for 90 days).
#[tokio::test]
async fn list_stacks_leaves_deleted_stacks_out() {
    let (_moto, _clients, cfn) = setup().await;
    let create = |stack: &str| CreateStackRequest {
        stack: stack.into(),
        template_body: queue_template(30)
            .to_string()
            .replace("shop-dev-storage", stack),
        parameters: BTreeMap::new(),
        tags: BTreeMap::new(),
        capabilities: Vec::new(),
        termination_protection: false,
        client_request_token: RequestToken::derive("create", &[stack]),
    };
    cfn.create_stack(&create("shop-dev-kept")).await.unwrap();
    let gone = cfn.create_stack(&create("shop-dev-gone")).await.unwrap();
    cfn.delete_stack(&gone, &token("delete")).await.unwrap();

    let listed = cfn.list_stacks().await.unwrap();
    let found: Vec<(&str, &str)> = listed
        .iter()
        .map(|s| (s.name.as_str(), s.status.as_str()))
        .collect();
    assert_eq!(found, [("shop-dev-kept", "CREATE_COMPLETE")]);
    assert!(
        listed[0]
            .id
            .starts_with("arn:aws:cloudformation:eu-west-1:111111111111:stack/shop-dev-kept/")
    );
}
