//! DynamoDB tables: keys, billing mode, point-in-time recovery and encryption on by default, an
//! optional TTL attribute and stream, deletion protection per environment. Tables hold data: they
//! are stateful in the catalog (replacement needs `--allow-replace`) and kept when deleted or
//! replaced, except when their own creation rolls back (as buckets are, `Lifecycle::KEEP`), since a
//! kept table would hold its name and fail the next attempt with "already exists".

use serde::Deserialize;
use serde_json::{Value, json};

use crate::diagnostic::Diagnostic;
use crate::model::{Lifecycle, Resource, Template};
use crate::naming::pascal_case;
use crate::stacks::{StackContext, storage};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableComponent {
    /// Short name, unique in the stack; the table is named `{project}-{env}-{name}`.
    pub name: String,
    pub partition_key: Key,
    #[serde(default)]
    pub sort_key: Option<Key>,
    #[serde(default)]
    pub billing: Billing,
    /// Required for `billing: provisioned`, refused otherwise.
    #[serde(default)]
    pub read_capacity: Option<u32>,
    #[serde(default)]
    pub write_capacity: Option<u32>,
    #[serde(default = "enabled")]
    pub point_in_time_recovery: bool,
    /// An attribute holding an expiry time (epoch seconds); DynamoDB deletes expired items.
    #[serde(default)]
    pub ttl_attribute: Option<String>,
    #[serde(default)]
    pub stream: Option<StreamView>,
    #[serde(default)]
    pub deletion_protection: bool,
}

fn enabled() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Key {
    pub name: String,
    #[serde(rename = "type")]
    pub key_type: KeyType,
}

/// DynamoDB's key attribute types (AttributeDefinition, AttributeType: S, N or B).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum KeyType {
    S,
    N,
    B,
}

impl KeyType {
    fn as_str(self) -> &'static str {
        match self {
            KeyType::S => "S",
            KeyType::N => "N",
            KeyType::B => "B",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Billing {
    /// PAY_PER_REQUEST: no capacity to plan, billed per request.
    #[default]
    OnDemand,
    Provisioned,
}

/// What a stream record carries (StreamSpecification, StreamViewType).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamView {
    KeysOnly,
    NewImage,
    OldImage,
    NewAndOldImages,
}

impl StreamView {
    fn as_str(self) -> &'static str {
        match self {
            StreamView::KeysOnly => "KEYS_ONLY",
            StreamView::NewImage => "NEW_IMAGE",
            StreamView::OldImage => "OLD_IMAGE",
            StreamView::NewAndOldImages => "NEW_AND_OLD_IMAGES",
        }
    }
}

pub fn table_id(name: &str) -> String {
    format!("{}Table", pascal_case(name))
}

pub fn table_name_output(name: &str) -> String {
    format!("{}TableName", pascal_case(name))
}

pub fn table_arn_output(name: &str) -> String {
    format!("{}TableArn", pascal_case(name))
}

/// TableName: "[a-zA-Z0-9_.-]+", 3 to 255 characters (AWS::DynamoDB::Table, DynamoDB naming rules);
/// attribute names 1 to 255 bytes.
fn check_table_name(name: &str) -> Result<(), String> {
    if (3..=255).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        Ok(())
    } else {
        Err(format!(
            "table name `{name}` must be 3-255 letters, digits, underscores, dots and hyphens"
        ))
    }
}

pub fn build(
    tables: &[TableComponent],
    ctx: &StackContext,
    template: &mut Template,
) -> Result<(), Vec<Diagnostic>> {
    let mut problems = Vec::new();
    storage::check_unique(
        tables.iter().map(|t| t.name.as_str()),
        "tables",
        "name",
        ctx,
        &mut problems,
    );
    for (index, table) in tables.iter().enumerate() {
        if let Err(mut found) = build_table(index, table, ctx, template) {
            problems.append(&mut found);
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn build_table(
    index: usize,
    table: &TableComponent,
    ctx: &StackContext,
    template: &mut Template,
) -> Result<(), Vec<Diagnostic>> {
    let field = format!("tables[{index}]");
    let mut problems = Vec::new();
    let name = format!("{}-{}", ctx.prefix(), table.name);
    if let Err(message) = check_table_name(&name) {
        problems.push(ctx.diagnostic(&format!("{field}.name"), message));
    }
    let mut keys = vec![("partition_key", &table.partition_key, "HASH")];
    if let Some(sort) = &table.sort_key {
        keys.push(("sort_key", sort, "RANGE"));
    }
    for (key, attribute, _) in &keys {
        if attribute.name.is_empty() || attribute.name.len() > 255 {
            problems.push(ctx.diagnostic(
                &format!("{field}.{key}.name"),
                "must be 1 to 255 characters",
            ));
        }
    }
    if let Some(sort) = &table.sort_key
        && sort.name == table.partition_key.name
    {
        problems.push(ctx.diagnostic(
            &format!("{field}.sort_key.name"),
            "must differ from the partition key",
        ));
    }
    let capacities = (table.read_capacity, table.write_capacity);
    match (table.billing, capacities) {
        (Billing::OnDemand, (None, None)) => {}
        (Billing::OnDemand, _) => problems.push(ctx.diagnostic(
            &field,
            "read_capacity and write_capacity apply only to `billing: provisioned`; an on-demand table scales by itself",
        )),
        (Billing::Provisioned, (Some(read), Some(write))) if read >= 1 && write >= 1 => {}
        (Billing::Provisioned, _) => problems.push(ctx.diagnostic(
            &field,
            "`billing: provisioned` needs read_capacity and write_capacity of at least 1 (ProvisionedThroughput)",
        )),
    }
    if table.ttl_attribute.as_deref().is_some_and(str::is_empty) {
        problems.push(ctx.diagnostic(&format!("{field}.ttl_attribute"), "must not be empty"));
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    let definitions: Vec<Value> = keys
        .iter()
        .map(|(_, attribute, _)| {
            json!({ "AttributeName": attribute.name, "AttributeType": attribute.key_type.as_str() })
        })
        .collect();
    let schema: Vec<Value> = keys
        .iter()
        .map(|(_, attribute, role)| json!({ "AttributeName": attribute.name, "KeyType": role }))
        .collect();
    let mut properties = json!({
        "TableName": name,
        "AttributeDefinitions": definitions,
        "KeySchema": schema,
        "BillingMode": match table.billing {
            Billing::OnDemand => "PAY_PER_REQUEST",
            Billing::Provisioned => "PROVISIONED",
        },
        "PointInTimeRecoverySpecification": { "PointInTimeRecoveryEnabled": table.point_in_time_recovery },
        // KMS encryption with the AWS managed key `aws/dynamodb` ("SSEEnabled: true ... server-side
        // encryption type is set to KMS and an AWS managed key is used", AWS::DynamoDB::Table
        // SSESpecification), so key use shows in CloudTrail.
        "SSESpecification": { "SSEEnabled": true },
        "DeletionProtectionEnabled": table.deletion_protection,
        "Tags": ctx.tags(Some(&table.name)),
    });
    if let (Billing::Provisioned, (Some(read), Some(write))) = (table.billing, capacities) {
        properties["ProvisionedThroughput"] =
            json!({ "ReadCapacityUnits": read, "WriteCapacityUnits": write });
    }
    if let Some(attribute) = &table.ttl_attribute {
        properties["TimeToLiveSpecification"] =
            json!({ "AttributeName": attribute, "Enabled": true });
    }
    if let Some(view) = table.stream {
        properties["StreamSpecification"] = json!({ "StreamViewType": view.as_str() });
    }
    let id = table_id(&table.name);
    let one = |result: Result<(), Diagnostic>| result.map_err(|d| vec![d]);
    one(ctx.add(
        template,
        &field,
        &id,
        Resource::new("AWS::DynamoDB::Table", properties).lifecycle(Lifecycle::KEEP),
    ))?;
    one(ctx.add_name_and_arn_outputs(template, &field, &id, "Table", &table.name))
}
