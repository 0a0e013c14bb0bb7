//! Lambda functions: code packaged from a directory of the project (deterministically, under its
//! content hash in the environment's artifact bucket), a log group with retention, an execution role
//! generated least-privilege from what the function declares it uses, optional placement in the
//! private subnets with the app security group, and the event sources that invoke it (a queue, a
//! schedule; a bucket's notifications are declared on the bucket, `storage.rs`).
//!
//! IAM: every statement names its resources. `*` appears only as the resource of the two EC2
//! Describe actions a function in a VPC needs, because they support no resource-level permissions
//! (Service Authorization Reference, Amazon EC2, actions table: no resource type for
//! `DescribeNetworkInterfaces` or `DescribeSubnets`; Lambda Developer Guide, Giving Lambda functions
//! access to a VPC: "ec2:DescribeNetworkInterfaces – This action only works if it's allowed on all
//! resources"). Wildcards inside an ARN that fixes the resource type and its parent (the log streams
//! of one log group, the objects of one bucket, the network interfaces of this account and region)
//! are scoping, not `*`. `policies/application.guard` holds every generated role to that.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::catalog;
use crate::diagnostic::Diagnostic;
use crate::model::intrinsics::{get_att, reference, sub, sub_with};
use crate::model::{Artifact, Lifecycle, Output, Resource, Template};
use crate::naming::{self, pascal_case};
use crate::package;
use crate::stacks::{StackContext, log_group, network, storage};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionComponent {
    /// Short name, unique in the stack; the function is named `{project}-{env}-{name}`.
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Directory holding the code, relative to the stack definition's directory
    /// (`functions/feed-api` is `stacks/functions/feed-api/`).
    pub code: String,
    /// A Lambda runtime identifier (`python3.13`, `nodejs22.x`); deprecated ones are refused unless
    /// `allow_deprecated_runtime` is set.
    pub runtime: String,
    /// Accepts a deprecated `runtime` until Lambda blocks creating functions with it: the reviewed
    /// acknowledgement that lets a team keep deploying while it moves to the successor, instead of
    /// `validate` starting to fail on the deprecation date.
    #[serde(default)]
    pub allow_deprecated_runtime: bool,
    /// `module.function` (Python) or `file.export` (Node.js); the file must be in `code`.
    pub handler: String,
    #[serde(default = "default_memory")]
    pub memory_mb: u32,
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u32,
    /// Days the function's log group keeps events (a CloudWatch Logs retention value).
    pub log_retention_days: u32,
    /// Concurrency reserved for (and capping) this function; unset shares the account's pool.
    #[serde(default)]
    pub reserved_concurrency: Option<u32>,
    /// Variables the code reads: a literal, or a value of another component (see [`EnvValue`]).
    #[serde(default)]
    pub environment: BTreeMap<String, serde_yaml::Value>,
    /// Runs in the private subnets of the network stack with its app security group.
    #[serde(default)]
    pub vpc: Option<VpcPlacement>,
    /// Queues that invoke the function with batches of messages.
    #[serde(default)]
    pub consumes: Vec<QueueSource>,
    /// EventBridge schedules that invoke the function.
    #[serde(default)]
    pub schedules: Vec<Schedule>,
    /// Buckets and tables the function reads.
    #[serde(default)]
    pub reads: Vec<DataUse>,
    /// Buckets and tables the function writes.
    #[serde(default)]
    pub writes: Vec<DataUse>,
    /// Topics the function publishes to.
    #[serde(default)]
    pub publishes: Vec<TopicUse>,
    /// The database the function connects to: it may read the master secret, and reaches the
    /// database through the app security group (which the database group admits); needs `vpc`.
    #[serde(default)]
    pub connects: Option<DatabaseUse>,
}

fn default_memory() -> u32 {
    128
}

/// Lambda's own default (AWS::Lambda::Function, Timeout: "The default is 3 seconds").
fn default_timeout() -> u32 {
    3
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VpcPlacement {
    pub network_stack: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueSource {
    pub queue: String,
    /// The stack defining the queue; this stack when absent.
    #[serde(default)]
    pub stack: Option<String>,
    #[serde(default = "default_batch_size")]
    pub batch_size: u32,
    /// How long Lambda gathers messages before invoking (standard queues only).
    #[serde(default)]
    pub batching_window_seconds: u32,
}

fn default_batch_size() -> u32 {
    10
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// `rate(5 minutes)` or `cron(0 3 * * ? *)` (EventBridge schedule expressions).
    pub expression: String,
}

/// A bucket or a table, of this stack or of `stack`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataUse {
    #[serde(default)]
    pub bucket: Option<String>,
    #[serde(default)]
    pub table: Option<String>,
    #[serde(default)]
    pub stack: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicUse {
    pub topic: String,
    #[serde(default)]
    pub stack: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseUse {
    pub database_stack: String,
}

/// Where a stack's function code goes: the bucket `bucket` (a purpose) of stack `stack`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArtifactLocation {
    pub stack: String,
    pub bucket: String,
}

/// Lambda quotas (Lambda Developer Guide, Lambda quotas): memory "128 MB to 10,240 MB, in 1-MB
/// increments", timeout "900 seconds (15 minutes)".
pub const MEMORY_MB: RangeInclusive<u32> = 128..=10_240;
pub const TIMEOUT_SECONDS: RangeInclusive<u32> = 1..=900;
/// AWS::Lambda::EventSourceMapping, BatchSize: standard queues "Default 10. Max 10,000", FIFO
/// queues "Max 10" (checked in `crosscheck`, which sees the queue); MaximumBatchingWindowInSeconds:
/// 0 to 300, and "When you set BatchSize to a value greater than 10, you must set
/// MaximumBatchingWindowInSeconds to at least 1".
pub const BATCH_SIZE: RangeInclusive<u32> = 1..=10_000;
pub const BATCHING_WINDOW_SECONDS: RangeInclusive<u32> = 0..=300;
/// FunctionName of AWS::Lambda::Function: "The length constraint applies only to the full ARN. If
/// you specify only the function name, it is limited to 64 characters in length."
const FUNCTION_NAME_MAX: usize = 64;

/// Environment variables Lambda sets itself and refuses in a function's configuration (Lambda
/// Developer Guide, Defined runtime environment variables: "reserved environment variables ... you
/// can't set them in your function configuration").
const RESERVED_VARIABLES: [&str; 15] = [
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
];

pub fn function_id(name: &str) -> String {
    format!("{}Function", pascal_case(name))
}

pub fn role_id(name: &str) -> String {
    format!("{}FunctionRole", pascal_case(name))
}

pub fn log_group_id(name: &str) -> String {
    format!("{}FunctionLogs", pascal_case(name))
}

pub fn function_name(ctx: &StackContext, name: &str) -> String {
    format!("{}-{name}", ctx.prefix())
}

/// Today's date in UTC as `YYYY-MM-DD`, the form runtime lifecycle dates are written in.
pub fn today() -> String {
    let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now());
    now.fmt(aws_smithy_types::date_time::Format::DateTime)
        .map(|text| text.chars().take(10).collect())
        .unwrap_or_default()
}

/// A runtime Lambda still supports on `today`: known to the pinned cfn-lint's runtime table, and not
/// deprecated. After its deprecation date a runtime gets no security patches, and Lambda later blocks
/// creating functions with it (Lambda Developer Guide, Runtime deprecation policy). With
/// `allow_deprecated`, a deprecated runtime passes until that block date, from which an environment
/// created anew could not deploy.
pub fn check_runtime(runtime: &str, today: &str, allow_deprecated: bool) -> Result<(), String> {
    let catalog = catalog::catalog();
    let current = || catalog.current_lambda_runtimes(today).join(", ");
    match catalog.lambda_runtime(runtime) {
        None => Err(format!(
            "`{runtime}` is not a Lambda runtime identifier; current ones: {}",
            current()
        )),
        Some(lifecycle)
            if allow_deprecated
                && lifecycle
                    .create_block
                    .as_deref()
                    .is_some_and(|day| day <= today) =>
        {
            Err(format!(
                "runtime `{runtime}` was deprecated on {}, and since {} Lambda refuses to create functions with it, so `allow_deprecated_runtime` no longer applies{}",
                lifecycle.deprecated,
                lifecycle.create_block.as_deref().unwrap_or_default(),
                lifecycle
                    .successor
                    .as_deref()
                    .map(|next| format!("; move to {next}"))
                    .unwrap_or_default()
            ))
        }
        Some(lifecycle) if lifecycle.deprecated.as_str() <= today && !allow_deprecated => {
            let blocked = lifecycle
                .create_block
                .as_deref()
                .map(|day| format!(", and Lambda refuses to create functions with it from {day}"))
                .unwrap_or_default();
            let successor = lifecycle
                .successor
                .as_deref()
                .map(|next| format!("; move to {next}"))
                .unwrap_or_default();
            Err(format!(
                "runtime `{runtime}` was deprecated on {} (no more security patches{blocked}){successor}; `allow_deprecated_runtime: true` accepts it until Lambda refuses to create functions with it",
                lifecycle.deprecated
            ))
        }
        Some(_) => Ok(()),
    }
}

/// `rate(5 minutes)`, `rate(1 hour)` or `cron(<6 fields>)` (EventBridge User Guide, Schedule
/// expressions for rules: "rate(value unit)" with unit minute|minutes|hour|hours|day|days, the
/// singular for a value of 1; "cron(fields)" with six fields).
pub fn check_schedule(expression: &str) -> Result<(), String> {
    let inner = |prefix: &str| {
        expression
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(')'))
    };
    if let Some(rate) = inner("rate(") {
        let mut parts = rate.split_whitespace();
        let (Some(value), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!("`{expression}`: a rate is `rate(<value> <unit>)`"));
        };
        let value: u32 = value.parse().ok().filter(|v| *v > 0).ok_or_else(|| {
            format!("`{expression}`: the rate's value must be a positive whole number")
        })?;
        let singular = ["minute", "hour", "day"];
        let plural = ["minutes", "hours", "days"];
        let valid = if value == 1 {
            singular.contains(&unit)
        } else {
            plural.contains(&unit)
        };
        return if valid {
            Ok(())
        } else {
            Err(format!(
                "`{expression}`: the unit must be {} for a value of {value}",
                if value == 1 {
                    "minute, hour or day"
                } else {
                    "minutes, hours or days"
                }
            ))
        };
    }
    if let Some(cron) = inner("cron(") {
        let fields = cron.split_whitespace().count();
        return if fields == 6 {
            Ok(())
        } else {
            Err(format!(
                "`{expression}`: a cron expression has six fields (minutes hours day-of-month month day-of-week year), this one {fields}"
            ))
        };
    }
    Err(format!(
        "`{expression}` is not a schedule expression; use `rate(5 minutes)` or `cron(0 3 * * ? *)`"
    ))
}

/// `Err` naming the limit when `value` is outside `range`.
fn within(value: u32, range: &RangeInclusive<u32>, what: &str) -> Result<(), String> {
    if range.contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "is {value}; {what} allows {} to {}",
            range.start(),
            range.end()
        ))
    }
}

/// The logical ids the bucket notifications of `storage.rs` and the routes of `api.rs` point at.
pub fn names(functions: &[FunctionComponent]) -> BTreeMap<&str, &FunctionComponent> {
    functions.iter().map(|f| (f.name.as_str(), f)).collect()
}

pub fn build(
    functions: &[FunctionComponent],
    artifacts: Option<&ArtifactLocation>,
    ctx: &StackContext,
    template: &mut Template,
) -> Result<(), Vec<Diagnostic>> {
    if functions.is_empty() {
        return Ok(());
    }
    let mut problems = Vec::new();
    storage::check_unique(
        functions.iter().map(|f| f.name.as_str()),
        "functions",
        "name",
        ctx,
        &mut problems,
    );
    let Some(artifacts) = artifacts else {
        problems.push(ctx.diagnostic(
            "artifacts",
            "functions need an artifact bucket for their code: add `artifacts: { stack: <stack>, bucket: <purpose> }` naming a bucket of another stack",
        ));
        return Err(problems);
    };
    if artifacts.stack == ctx.stack {
        problems.push(ctx.diagnostic(
            "artifacts.stack",
            "the artifact bucket must be in another stack: strata uploads the code before it creates this stack, so the bucket must exist by then",
        ));
        return Err(problems);
    }
    for (index, function) in functions.iter().enumerate() {
        let built = Built {
            field: format!("functions[{index}]"),
            function,
            ctx,
        };
        if let Err(mut found) = built.build(artifacts, template) {
            problems.append(&mut found);
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// One function being built, with the field path its diagnostics name.
struct Built<'a> {
    field: String,
    function: &'a FunctionComponent,
    ctx: &'a StackContext<'a>,
}

impl Built<'_> {
    fn problem(&self, key: &str, message: impl Into<String>) -> Diagnostic {
        let field = if key.is_empty() {
            self.field.clone()
        } else {
            format!("{}.{key}", self.field)
        };
        self.ctx.diagnostic(&field, message)
    }

    fn build(
        &self,
        artifacts: &ArtifactLocation,
        template: &mut Template,
    ) -> Result<(), Vec<Diagnostic>> {
        let function = self.function;
        let ctx = self.ctx;
        self.check_settings()?;
        let package = self.package().map_err(|d| vec![d])?;
        let one = |result: Result<(), Diagnostic>| result.map_err(|d| vec![d]);

        let name = function_name(ctx, &function.name);
        let id = function_id(&function.name);
        let logs_id = log_group_id(&function.name);
        let role = role_id(&function.name);

        // The log group exists, with retention, before the function can write: the function names it
        // in LoggingConfig (a Ref, so CloudFormation creates the group first) and the role may write
        // only there. Without it Lambda would create `/aws/lambda/<name>` on first use, keeping events
        // forever. Named as Lambda's default group would be, so every tool finds it. Deleted with the
        // function: a kept group would block the next creation of a function of the same name with
        // "already exists", and its events expire by retention anyway.
        one(ctx.add(
            template,
            &self.field,
            &logs_id,
            Resource::new(
                "AWS::Logs::LogGroup",
                json!({
                    "LogGroupName": format!("/aws/lambda/{name}"),
                    "RetentionInDays": function.log_retention_days,
                    "Tags": ctx.tags(Some(&function.name)),
                }),
            )
            .lifecycle(Lifecycle::DELETE),
        ))?;

        let statements = self.statements(template)?;
        one(ctx.add(
            template,
            &self.field,
            &role,
            Resource::new(
                "AWS::IAM::Role",
                json!({
                    "Description": format!("Execution role of the {name} function"),
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [{
                            "Effect": "Allow",
                            "Principal": { "Service": "lambda.amazonaws.com" },
                            "Action": "sts:AssumeRole",
                        }],
                    },
                    // Inline, so the permissions exist before the function (which refers to the role)
                    // is created: Lambda checks at creation that a VPC function's role may create
                    // network interfaces, and an event source mapping's that it may read the queue.
                    "Policies": [{
                        "PolicyName": "least-privilege",
                        "PolicyDocument": { "Version": "2012-10-17", "Statement": statements },
                    }],
                    "Tags": ctx.tags(Some(&function.name)),
                }),
            ),
        ))?;

        let bucket = ctx
            .link(
                template,
                &artifacts.stack,
                &storage::bucket_name_output(&artifacts.bucket),
                "artifacts",
            )
            .map_err(|d| vec![d])?;
        let bucket_name = naming::bucket_name(
            ctx.project(),
            &ctx.environment.name,
            &artifacts.bucket,
            ctx.account_id(),
        );
        let mut properties = json!({
            "FunctionName": name,
            "Description": function.description.clone().unwrap_or_else(|| format!("{} of {}", function.name, ctx.prefix())),
            "Runtime": function.runtime,
            "Handler": function.handler,
            "MemorySize": function.memory_mb,
            "Timeout": function.timeout_seconds,
            "Role": get_att(&role, "Arn"),
            // The key is the package's SHA-256: S3Key is updatable in place (not create-only in the
            // schema), so new code is an update of this function and nothing else.
            "Code": { "S3Bucket": bucket, "S3Key": package.key() },
            "LoggingConfig": { "LogGroup": reference(&logs_id) },
            "Tags": ctx.tags(Some(&function.name)),
        });
        let variables = self.environment_variables(template)?;
        if !variables.is_empty() {
            properties["Environment"] = json!({ "Variables": variables });
        }
        if let Some(reserved) = function.reserved_concurrency {
            properties["ReservedConcurrentExecutions"] = json!(reserved);
        }
        if let Some(vpc) = &function.vpc {
            let (subnets, group) = self.placement(vpc, template)?;
            properties["VpcConfig"] = json!({ "SubnetIds": subnets, "SecurityGroupIds": [group] });
        }
        one(ctx.add(
            template,
            &self.field,
            &id,
            Resource::new("AWS::Lambda::Function", properties),
        ))?;
        template.artifacts.insert(
            package.key(),
            Artifact {
                bucket: bucket_name,
                key: package.key(),
                package,
                function: id.clone(),
            },
        );

        self.event_sources(template)?;
        self.schedules(template)?;
        one(ctx.add_output(
            template,
            &self.field,
            &format!("{}FunctionName", pascal_case(&function.name)),
            Output {
                description: format!("Name of the {} function", function.name),
                value: reference(&id),
                export: None,
            },
        ))?;
        Ok(())
    }

    fn check_settings(&self) -> Result<(), Vec<Diagnostic>> {
        let function = self.function;
        let mut problems = Vec::new();
        let mut check = |key: &str, result: Result<(), String>| {
            if let Err(message) = result {
                problems.push(self.problem(key, message));
            }
        };
        let name = function_name(self.ctx, &function.name);
        check(
            "name",
            naming::check_word_name(&name, FUNCTION_NAME_MAX, "function"),
        );
        check(
            "runtime",
            check_runtime(
                &function.runtime,
                &today(),
                function.allow_deprecated_runtime,
            ),
        );
        check(
            "memory_mb",
            within(function.memory_mb, &MEMORY_MB, "Lambda"),
        );
        check(
            "timeout_seconds",
            within(function.timeout_seconds, &TIMEOUT_SECONDS, "Lambda"),
        );
        check(
            "log_retention_days",
            log_group::check_retention(function.log_retention_days),
        );
        for (index, source) in function.consumes.iter().enumerate() {
            let key = format!("consumes[{index}]");
            check(
                &format!("{key}.batch_size"),
                within(source.batch_size, &BATCH_SIZE, "Lambda for an SQS queue"),
            );
            check(
                &format!("{key}.batching_window_seconds"),
                within(
                    source.batching_window_seconds,
                    &BATCHING_WINDOW_SECONDS,
                    "Lambda",
                ),
            );
            if source.batch_size > 10 && source.batching_window_seconds == 0 {
                check(
                    &format!("{key}.batching_window_seconds"),
                    Err(format!(
                        "is 0 with a batch size of {}; Lambda requires a batching window of at least 1 second for batches over 10",
                        source.batch_size
                    )),
                );
            }
        }
        for (index, schedule) in function.schedules.iter().enumerate() {
            check(
                &format!("schedules[{index}].expression"),
                check_schedule(&schedule.expression),
            );
        }
        for (list, uses) in [("reads", &function.reads), ("writes", &function.writes)] {
            for (index, data) in uses.iter().enumerate() {
                if data.bucket.is_some() == data.table.is_some() {
                    check(
                        &format!("{list}[{index}]"),
                        Err("names exactly one of `bucket` or `table`".into()),
                    );
                }
            }
        }
        if function.connects.is_some() && function.vpc.is_none() {
            check(
                "connects",
                Err("a function reaches the database only from inside the VPC; add `vpc: { network_stack: ... }`".into()),
            );
        }
        for key in function.environment.keys() {
            check(&format!("environment.{key}"), check_variable_name(key));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// The code directory, packaged; the handler's file must be in it.
    fn package(&self) -> Result<package::Package, Diagnostic> {
        let relative = Path::new(&self.function.code);
        if relative.is_absolute()
            || relative
                .components()
                .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(self.problem(
                "code",
                format!(
                    "`{}` must be a directory inside the stack definitions' directory (no `..`, not absolute)",
                    self.function.code
                ),
            ));
        }
        let dir: PathBuf = self
            .ctx
            .file
            .parent()
            .unwrap_or(Path::new(""))
            .join(relative);
        let package = self
            .ctx
            .packages
            .package_dir(&dir)
            .map_err(|err| self.problem("code", err.to_string()))?;
        if let Some(expected) = handler_files(&self.function.runtime, &self.function.handler) {
            if expected.is_empty() {
                return Err(self.problem(
                    "handler",
                    format!(
                        "`{}` must be `<file>.<function>` (e.g. `handler.main`)",
                        self.function.handler
                    ),
                ));
            }
            if !expected.iter().any(|file| package.files.contains(file)) {
                return Err(self.problem(
                    "handler",
                    format!(
                        "`{}` needs {} in {}, which holds {}",
                        self.function.handler,
                        expected.join(" or "),
                        dir.display(),
                        package.files.join(", ")
                    ),
                ));
            }
        }
        Ok(package)
    }

    fn environment_variables(
        &self,
        template: &mut Template,
    ) -> Result<Map<String, Value>, Vec<Diagnostic>> {
        let mut variables = Map::new();
        let mut problems = Vec::new();
        for (key, value) in &self.function.environment {
            let field = format!("{}.environment.{key}", self.field);
            if let Some(stack) = database_reference(value, self.ctx)
                && self
                    .function
                    .connects
                    .as_ref()
                    .map(|c| c.database_stack.as_str())
                    != Some(stack)
            {
                problems.push(self.ctx.diagnostic(
                    &field,
                    format!("refers to the database of stack `{stack}`, but the function does not connect to it; add `connects: {{ database_stack: {stack} }}` (which grants reading the master secret and needs `vpc`)"),
                ));
                continue;
            }
            match env_value(value, self.ctx, template, &field) {
                Ok(value) => {
                    variables.insert(key.clone(), value);
                }
                Err(problem) => problems.push(problem),
            }
        }
        if problems.is_empty() {
            Ok(variables)
        } else {
            Err(problems)
        }
    }

    /// The private subnets (one per zone) and the app security group of the network stack.
    fn placement(
        &self,
        vpc: &VpcPlacement,
        template: &Template,
    ) -> Result<(Vec<Value>, Value), Vec<Diagnostic>> {
        let field = format!("{}.vpc.network_stack", self.field);
        let link = |output: &str| self.ctx.link(template, &vpc.network_stack, output, &field);
        let subnets = (0..self.ctx.zones().len())
            .map(|zone| link(&network::private_subnet_output(zone)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|d| vec![d])?;
        let group = link(network::APP_SG_OUTPUT).map_err(|d| vec![d])?;
        Ok((subnets, group))
    }

    /// The role's statements: exactly what the declared uses need, each on named resources.
    fn statements(&self, template: &mut Template) -> Result<Vec<Value>, Vec<Diagnostic>> {
        let function = self.function;
        let ctx = self.ctx;
        let one = |result: Result<Value, Diagnostic>| result.map_err(|d| vec![d]);
        let mut statements = vec![json!({
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            // The group's ARN attribute ends in `:*`: its log streams.
            "Resource": get_att(&log_group_id(&function.name), "Arn"),
        })];
        if let Some(vpc) = &function.vpc {
            let (subnets, group) = self.placement(vpc, template)?;
            let arn = |kind: &str, id: Value| {
                let mut variables = Map::new();
                variables.insert("Id".into(), id);
                sub_with(
                    &format!(
                        "arn:${{AWS::Partition}}:ec2:${{AWS::Region}}:${{AWS::AccountId}}:{kind}/${{Id}}"
                    ),
                    variables,
                )
            };
            let interfaces = sub(
                "arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:network-interface/*",
            );
            let mut create_on = vec![interfaces.clone()];
            create_on.extend(subnets.into_iter().map(|s| arn("subnet", s)));
            create_on.push(arn("security-group", group));
            statements.push(json!({
                "Sid": "CreateNetworkInterfacesInPrivateSubnets",
                "Effect": "Allow",
                "Action": ["ec2:CreateNetworkInterface"],
                "Resource": create_on,
            }));
            statements.push(json!({
                "Sid": "ManageNetworkInterfaces",
                "Effect": "Allow",
                "Action": [
                    "ec2:AssignPrivateIpAddresses",
                    "ec2:DeleteNetworkInterface",
                    "ec2:UnassignPrivateIpAddresses",
                ],
                "Resource": interfaces,
            }));
            statements.push(json!({
                // No resource-level permissions exist for these (Service Authorization Reference,
                // Amazon EC2): `*` is the only resource they can be granted on.
                "Sid": "DescribeNetworkActionsSupportNoResourceLevelPermissions",
                "Effect": "Allow",
                "Action": ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"],
                "Resource": "*",
            }));
        }
        for (index, source) in function.consumes.iter().enumerate() {
            let field = format!("{}.consumes[{index}]", self.field);
            let queue = one(self.component_output(
                template,
                source.stack.as_deref(),
                &storage::queue_arn_output(&source.queue),
                &field,
            ))?;
            statements.push(json!({
                "Sid": format!("Consume{}", pascal_case(&source.queue)),
                "Effect": "Allow",
                "Action": ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
                "Resource": queue,
            }));
        }
        for (verb, uses) in [("Read", &function.reads), ("Write", &function.writes)] {
            for (index, data) in uses.iter().enumerate() {
                let field = format!("{}.{}s[{index}]", self.field, verb.to_lowercase());
                if let Some(bucket) = &data.bucket {
                    statements.extend(self.bucket_statements(verb, bucket));
                } else if let Some(table) = &data.table {
                    let arn = one(self.component_output(
                        template,
                        data.stack.as_deref(),
                        &super::tables::table_arn_output(table),
                        &field,
                    ))?;
                    statements.push(table_statement(verb, table, arn));
                }
            }
        }
        statements.extend(self.key_statements());
        for (index, topic) in function.publishes.iter().enumerate() {
            let field = format!("{}.publishes[{index}]", self.field);
            let arn = one(self.component_output(
                template,
                topic.stack.as_deref(),
                &super::topics::topic_arn_output(&topic.topic),
                &field,
            ))?;
            // The topics are encrypted with the AWS managed key `alias/aws/sns`, whose key policy
            // lets every principal of the account use it through SNS: publishers need no KMS grant.
            statements.push(json!({
                "Sid": format!("PublishTo{}", pascal_case(&topic.topic)),
                "Effect": "Allow",
                "Action": ["sns:Publish"],
                "Resource": arn,
            }));
        }
        if let Some(database) = &function.connects {
            let field = format!("{}.connects.database_stack", self.field);
            // Not exported by the database stack (a secret can be replaced): a parameter strata fills
            // from its outputs, like the endpoints.
            let secret = one(ctx.stack_output(
                template,
                &database.database_stack,
                super::database::MASTER_SECRET_OUTPUT,
                &field,
            ))?;
            statements.push(json!({
                "Sid": "ReadDatabaseSecret",
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue"],
                "Resource": secret,
            }));
        }
        let mut seen = BTreeSet::new();
        for statement in &statements {
            let sid = statement["Sid"].as_str().unwrap_or_default().to_owned();
            if !seen.insert(sid.clone()) {
                return Err(vec![self.problem(
                    "",
                    format!("declares the same use twice (statement {sid}); list each queue, bucket, table and topic once"),
                )]);
            }
        }
        Ok(statements)
    }

    /// The KMS use a queue or bucket under a customer-managed key of its stack needs (staging and
    /// prod put queues and buckets under such keys, `queues.encryption_key` / `buckets.encryption_key`):
    /// an SQS event source's role needs `kms:Decrypt` on the queue's key (Lambda Developer Guide,
    /// Using Lambda with Amazon SQS, execution role permissions), a reader of SSE-KMS objects
    /// `kms:Decrypt` and a writer `kms:GenerateDataKey` (S3 User Guide, Using server-side encryption
    /// with AWS KMS keys: "To upload an object encrypted with an AWS KMS key ... you need
    /// kms:GenerateDataKey permissions on the key"). The keys live in another stack and the function
    /// cannot know whether one is used, so the grant is on the account's keys of this region, and
    /// only as used by SQS or S3 on the function's behalf (`kms:ViaService`, KMS Developer Guide,
    /// AWS KMS condition keys): the SQS and S3 statements above already limit that to the queues
    /// and buckets it declares. Under SSE-SQS or SSE-S3 no KMS call is made and the grant is unused.
    fn key_statements(&self) -> Vec<Value> {
        let function = self.function;
        let keys = sub("arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*");
        let through = |service: &str| json!({ "StringEquals": { "kms:ViaService": sub(&format!("{service}.${{AWS::Region}}.amazonaws.com")) } });
        let mut statements = Vec::new();
        if !function.consumes.is_empty() {
            statements.push(json!({
                "Sid": "DecryptConsumedMessagesThroughSqs",
                "Effect": "Allow",
                "Action": ["kms:Decrypt"],
                "Resource": keys.clone(),
                "Condition": through("sqs"),
            }));
        }
        let mut actions = Vec::new();
        if function.reads.iter().any(|data| data.bucket.is_some()) {
            actions.push("kms:Decrypt");
        }
        if function.writes.iter().any(|data| data.bucket.is_some()) {
            actions.push("kms:GenerateDataKey");
        }
        if !actions.is_empty() {
            statements.push(json!({
                "Sid": "UseObjectKeysThroughS3",
                "Effect": "Allow",
                "Action": actions,
                "Resource": keys,
                "Condition": through("s3"),
            }));
        }
        statements
    }

    /// Bucket ARNs from the bucket's name, not from `Fn::GetAtt`: a bucket that notifies this
    /// function depends on its invoke permission, which depends on the function, which depends on
    /// this role; a role that referred to the bucket would close that circle.
    fn bucket_statements(&self, verb: &str, purpose: &str) -> Vec<Value> {
        let name = naming::bucket_name(
            self.ctx.project(),
            &self.ctx.environment.name,
            purpose,
            self.ctx.account_id(),
        );
        let base = pascal_case(purpose);
        let objects = sub(&format!("arn:${{AWS::Partition}}:s3:::{name}/*"));
        match verb {
            "Read" => vec![
                json!({
                    "Sid": format!("ReadObjectsOf{base}"),
                    "Effect": "Allow",
                    "Action": ["s3:GetObject"],
                    "Resource": objects,
                }),
                json!({
                    "Sid": format!("List{base}"),
                    "Effect": "Allow",
                    "Action": ["s3:ListBucket"],
                    "Resource": sub(&format!("arn:${{AWS::Partition}}:s3:::{name}")),
                }),
            ],
            _ => vec![json!({
                "Sid": format!("WriteObjectsOf{base}"),
                "Effect": "Allow",
                "Action": ["s3:PutObject"],
                "Resource": objects,
            })],
        }
    }

    /// An output of a component of this stack (`stack` absent or this one) or an export of another.
    fn component_output(
        &self,
        template: &Template,
        stack: Option<&str>,
        output: &str,
        field: &str,
    ) -> Result<Value, Diagnostic> {
        self.ctx
            .link(template, stack.unwrap_or(self.ctx.stack), output, field)
    }

    /// One event source mapping per consumed queue. Failed messages go back to the queue and, after
    /// its `maxReceiveCount`, to its dead-letter queue (the queue's redrive policy is the DLQ; no
    /// Lambda on-failure destination, which SQS sources do not support). Partial batch responses
    /// (`ReportBatchItemFailures`) let the handler return only the failed messages, so one bad
    /// message does not send its whole batch round again.
    fn event_sources(&self, template: &mut Template) -> Result<(), Vec<Diagnostic>> {
        let function = self.function;
        for (index, source) in function.consumes.iter().enumerate() {
            let field = format!("{}.consumes[{index}]", self.field);
            let queue = self
                .component_output(
                    template,
                    source.stack.as_deref(),
                    &storage::queue_arn_output(&source.queue),
                    &field,
                )
                .map_err(|d| vec![d])?;
            let mut properties = json!({
                "FunctionName": reference(&function_id(&function.name)),
                "EventSourceArn": queue,
                "BatchSize": source.batch_size,
                "Enabled": true,
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
                "Tags": self.ctx.tags(Some(&function.name)),
            });
            if source.batching_window_seconds > 0 {
                properties["MaximumBatchingWindowInSeconds"] =
                    json!(source.batching_window_seconds);
            }
            self.ctx
                .add(
                    template,
                    &field,
                    &event_source_id(&function.name, &source.queue),
                    Resource::new("AWS::Lambda::EventSourceMapping", properties),
                )
                .map_err(|d| vec![d])?;
        }
        Ok(())
    }

    /// An EventBridge rule per schedule, and the permission that lets exactly that rule invoke.
    fn schedules(&self, template: &mut Template) -> Result<(), Vec<Diagnostic>> {
        let function = self.function;
        let base = pascal_case(&function.name);
        for (index, schedule) in function.schedules.iter().enumerate() {
            let field = format!("{}.schedules[{index}]", self.field);
            let rule = format!("{base}Schedule{}", index + 1);
            let add = |template: &mut Template, id: &str, resource: Resource| {
                self.ctx
                    .add(template, &field, id, resource)
                    .map_err(|d| vec![d])
            };
            add(
                template,
                &rule,
                Resource::new(
                    "AWS::Events::Rule",
                    json!({
                        "Description": format!("Invokes {} on {}", function_name(self.ctx, &function.name), schedule.expression),
                        "ScheduleExpression": schedule.expression,
                        "State": "ENABLED",
                        "Targets": [{ "Id": base, "Arn": get_att(&function_id(&function.name), "Arn") }],
                        "Tags": self.ctx.tags(Some(&function.name)),
                    }),
                ),
            )?;
            add(
                template,
                &format!("{rule}Permission"),
                Resource::new(
                    "AWS::Lambda::Permission",
                    json!({
                        "FunctionName": reference(&function_id(&function.name)),
                        "Action": "lambda:InvokeFunction",
                        "Principal": "events.amazonaws.com",
                        "SourceArn": get_att(&rule, "Arn"),
                    }),
                ),
            )?;
        }
        Ok(())
    }
}

pub fn event_source_id(function: &str, queue: &str) -> String {
    format!("{}{}EventSource", pascal_case(function), pascal_case(queue))
}

fn table_statement(verb: &str, table: &str, arn: Value) -> Value {
    let mut variables = Map::new();
    variables.insert("Table".into(), arn.clone());
    let indexes = sub_with("${Table}/index/*", variables);
    let (actions, resources) = match verb {
        "Read" => (
            json!([
                "dynamodb:BatchGetItem",
                "dynamodb:ConditionCheckItem",
                "dynamodb:GetItem",
                "dynamodb:Query",
                "dynamodb:Scan",
            ]),
            json!([arn, indexes]),
        ),
        _ => (
            json!([
                "dynamodb:BatchWriteItem",
                "dynamodb:DeleteItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
            ]),
            json!([arn]),
        ),
    };
    json!({
        "Sid": format!("{verb}{}Table", pascal_case(table)),
        "Effect": "Allow",
        "Action": actions,
        "Resource": resources,
    })
}

/// Environment variable names: "[a-zA-Z]([a-zA-Z0-9_])+" (Lambda API reference, Environment,
/// Variables), and none of the names Lambda reserves.
pub fn check_variable_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let shaped = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !shaped {
        return Err(format!(
            "`{name}` is not a valid variable name: a letter, then at least one letter, digit or underscore"
        ));
    }
    if RESERVED_VARIABLES.contains(&name) {
        return Err(format!("`{name}` is reserved: Lambda sets it itself"));
    }
    Ok(())
}

/// Files that can hold `handler` for `runtime`: `None` when strata does not know the runtime's
/// handler convention (Java, .NET, Ruby, OS-only runtimes); empty when the handler is malformed.
fn handler_files(runtime: &str, handler: &str) -> Option<Vec<String>> {
    let (module, function) = handler.rsplit_once('.')?;
    let malformed = module.is_empty() || function.is_empty();
    if runtime.starts_with("python") {
        if malformed {
            return Some(Vec::new());
        }
        // `package.module.function`: the module path uses dots.
        return Some(vec![format!("{}.py", module.replace('.', "/"))]);
    }
    if runtime.starts_with("nodejs") {
        if malformed {
            return Some(Vec::new());
        }
        return Some(
            ["js", "mjs", "cjs"]
                .iter()
                .map(|ext| format!("{module}.{ext}"))
                .collect(),
        );
    }
    None
}

/// A value a function's environment variable holds: a literal (text, number, true/false), or a
/// value of a component: `{queue: Q}` (its URL), `{bucket: B}` (its name), `{table: T}` (its name),
/// `{topic: T}` (its ARN), each with an optional `stack:` when the component is in another stack.
/// What a function's environment can read of the database it connects to (`{ database: <value>,
/// stack: <database stack> }`), and the database stack's output holding it.
const DATABASE_VALUES: [(&str, &str); 4] = [
    ("secret_arn", super::database::MASTER_SECRET_OUTPUT),
    ("writer_endpoint", super::database::WRITER_ENDPOINT_OUTPUT),
    ("reader_endpoints", super::database::READER_ENDPOINTS_OUTPUT),
    ("port", super::database::PORT_OUTPUT),
];

/// The stack of the database an environment variable refers to, if it refers to one.
fn database_reference<'a>(value: &'a serde_yaml::Value, ctx: &'a StackContext) -> Option<&'a str> {
    let map = value.as_mapping()?;
    map.get("database")?;
    Some(
        map.get("stack")
            .and_then(serde_yaml::Value::as_str)
            .unwrap_or(ctx.stack),
    )
}

fn env_value(
    value: &serde_yaml::Value,
    ctx: &StackContext,
    template: &mut Template,
    field: &str,
) -> Result<Value, Diagnostic> {
    use serde_yaml::Value as Yaml;
    match value {
        Yaml::String(text) => Ok(json!(text)),
        Yaml::Bool(flag) => Ok(json!(flag.to_string())),
        Yaml::Number(number) => Ok(json!(number.to_string())),
        Yaml::Mapping(map) => {
            let text = |key: &str| map.get(key).and_then(Yaml::as_str);
            let allowed = ["stack", "queue", "bucket", "table", "topic", "database"];
            if let Some(unknown) = map
                .keys()
                .find(|k| !k.as_str().is_some_and(|k| allowed.contains(&k)))
            {
                return Err(ctx.diagnostic(
                    field,
                    format!(
                        "unknown key `{}`; a reference names one of queue, bucket, table, topic or database, and optionally its stack",
                        serde_yaml::to_string(unknown).unwrap_or_default().trim()
                    ),
                ));
            }
            let kinds: Vec<(&str, &str)> = ["queue", "bucket", "table", "topic", "database"]
                .into_iter()
                .filter_map(|kind| text(kind).map(|name| (kind, name)))
                .collect();
            let [(kind, name)] = kinds.as_slice() else {
                return Err(ctx.diagnostic(
                    field,
                    "names exactly one of queue (its URL), bucket (its name), table (its name), topic (its ARN) or database (one of its connection values)",
                ));
            };
            let stack = text("stack").unwrap_or(ctx.stack);
            if *kind == "database" {
                let Some((_, output)) = DATABASE_VALUES.iter().find(|(value, _)| value == name)
                else {
                    let known: Vec<&str> = DATABASE_VALUES.iter().map(|(value, _)| *value).collect();
                    return Err(ctx.diagnostic(
                        field,
                        format!("`database: {name}` is not a value of the database; use one of {}", known.join(", ")),
                    ));
                };
                // Endpoints change when an instance is replaced, and the secret with it: received as
                // parameters strata fills from the database stack's outputs, never as imports.
                return ctx.stack_output(template, stack, output, field);
            }
            let output = match *kind {
                "queue" => storage::queue_url_output(name),
                "bucket" => storage::bucket_name_output(name),
                "table" => super::tables::table_name_output(name),
                _ => super::topics::topic_arn_output(name),
            };
            ctx.link(template, stack, &output, field)
        }
        _ => Err(ctx.diagnostic(
            field,
            "must be a text, a number, true/false, or a reference such as `{ queue: photoUploaded, stack: storage }`",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtimes_are_checked_against_the_lifecycle_table() {
        assert_eq!(check_runtime("python3.13", "2026-12-01", false), Ok(()));
        assert_eq!(check_runtime("nodejs22.x", "2026-12-01", false), Ok(()));
        let deprecated = check_runtime("python3.9", "2026-12-01", false).unwrap_err();
        assert!(
            deprecated.contains("deprecated on 2025-12-15")
                && deprecated.contains("refuses to create functions with it from 2027-02-01")
                && deprecated.contains("move to python3.14"),
            "{deprecated}"
        );
        // The same runtime the day before its deprecation is still fine.
        assert_eq!(check_runtime("python3.9", "2025-12-14", false), Ok(()));
        let unknown = check_runtime("python4", "2026-12-01", false).unwrap_err();
        assert!(
            unknown.contains("python3.13") && !unknown.contains("python2.7"),
            "{unknown}"
        );
    }

    /// The acknowledgement accepts a deprecated runtime while Lambda still creates functions with it
    /// (python3.9: deprecated 2025-12-15, creation blocked from 2027-02-01 in the pinned table), and
    /// never an unknown one.
    #[test]
    fn a_deprecated_runtime_is_accepted_when_acknowledged_until_lambda_blocks_creation() {
        assert_eq!(check_runtime("python3.9", "2026-12-01", true), Ok(()));
        assert!(
            check_runtime("python3.9", "2026-12-01", false)
                .unwrap_err()
                .contains("`allow_deprecated_runtime: true` accepts it")
        );
        let blocked = check_runtime("python3.9", "2027-02-01", true).unwrap_err();
        assert!(
            blocked.contains("since 2027-02-01 Lambda refuses to create functions with it")
                && blocked.contains("move to python3.14"),
            "{blocked}"
        );
        assert!(check_runtime("python4", "2026-12-01", true).is_err());
    }

    #[test]
    fn schedules_follow_eventbridge_syntax() {
        for good in [
            "rate(1 hour)",
            "rate(5 minutes)",
            "rate(2 days)",
            "cron(0 3 * * ? *)",
        ] {
            assert_eq!(check_schedule(good), Ok(()), "{good}");
        }
        for bad in [
            "rate(1 hours)",
            "rate(5 minute)",
            "rate(0 minutes)",
            "cron(0 3 * * ?)",
            "every hour",
        ] {
            assert!(check_schedule(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn variable_names_follow_lambda_rules() {
        assert_eq!(check_variable_name("TABLE_NAME"), Ok(()));
        assert!(check_variable_name("1ABC").is_err());
        assert!(check_variable_name("A-B").is_err());
        assert!(
            check_variable_name("AWS_REGION")
                .unwrap_err()
                .contains("reserved")
        );
    }

    #[test]
    fn handlers_name_files_of_their_runtime() {
        assert_eq!(
            handler_files("python3.13", "handler.main"),
            Some(vec!["handler.py".to_owned()])
        );
        assert_eq!(
            handler_files("python3.13", "app.api.main"),
            Some(vec!["app/api.py".to_owned()])
        );
        assert_eq!(
            handler_files("nodejs22.x", "index.handler"),
            Some(vec![
                "index.js".to_owned(),
                "index.mjs".to_owned(),
                "index.cjs".to_owned()
            ])
        );
        assert_eq!(handler_files("python3.13", ".main"), Some(vec![]));
        assert_eq!(handler_files("java21", "com.example.Handler::handle"), None);
    }

    #[test]
    fn today_is_an_iso_date() {
        let today = today();
        assert_eq!(today.len(), 10);
        assert!(today.as_str() > "2026-01-01", "{today}");
    }
}
