//! HTTP APIs (API Gateway v2, `ProtocolType: HTTP`) with routes to the functions of the same stack,
//! one stage per environment (named after it) with access logging into a log group with retention,
//! and throttling per environment.
//!
//! Why HTTP APIs and not REST APIs (API Gateway v1):
//! - Lambda proxy integrations are what the routes do, and HTTP APIs are built for that at a lower
//!   price and latency (API Gateway Developer Guide, Choose between REST APIs and HTTP APIs).
//! - A stage with `AutoDeploy: true` publishes every route change. A REST API serves a snapshot made
//!   by an `AWS::ApiGateway::Deployment`, which CloudFormation does not make again when methods
//!   change: templates must rename the deployment on every change or serve stale routes.
//! - Access logs of a REST API need an account-wide CloudWatch Logs role set in API Gateway's account
//!   settings (`AWS::ApiGateway::Account`, one per account and region, shared by every project in
//!   it: API Gateway Developer Guide, Set up CloudWatch logging for REST APIs, "you must grant API
//!   Gateway permission to read and write logs to CloudWatch for your account"). An HTTP API's stage
//!   names its log group and needs nothing account-wide; the deploying principal needs the
//!   `logs:CreateLogDelivery` family of permissions (Developer Guide, Configure logging for HTTP APIs),
//!   listed in examples/ci/README.md.
//!
//! The cost: moto 5.2.5's CloudFormation silently skips every `AWS::ApiGatewayV2::*` resource, so no
//! emulator test can show the API. Its templates are checked by cfn-lint and the catalog's schemas,
//! its rules by the policy tests, and its wiring by the tests in this file and tests/templates.rs;
//! the stage's drift check on plain data and on the rendered template (src/drift/checks/application.rs,
//! src/drift/compare.rs).

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::{Map, json};

use crate::diagnostic::Diagnostic;
use crate::model::intrinsics::{get_att, reference, sub, sub_with};
use crate::model::{Lifecycle, Output, Resource, Template};
use crate::naming::pascal_case;
use crate::stacks::functions::{self, FunctionComponent};
use crate::stacks::{StackContext, log_group, storage};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpApiComponent {
    /// Short name, unique in the stack; the API is named `{project}-{env}-{name}`.
    pub name: String,
    pub routes: Vec<Route>,
    pub throttling: Throttling,
    /// Days the access log group keeps events (a CloudWatch Logs retention value).
    pub access_log_retention_days: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// `METHOD /path` (`GET /feed/{userId}`, `ANY /{proxy+}`) or `$default`.
    pub route: String,
    /// A function of this stack.
    pub function: String,
}

/// Stage-wide limits for every route (DefaultRouteSettings). The account's own quota is 10,000
/// requests per second with a burst of 5,000 across all APIs of a region (API Gateway quotas,
/// adjustable); a stage's limits apply below it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Throttling {
    /// Requests per second, steady.
    pub rate_limit: f64,
    /// Requests that may arrive at once above the rate.
    pub burst_limit: u32,
}

/// An HTTP API integration gives up after 30 seconds (API Gateway quotas for HTTP APIs,
/// "Maximum integration timeout: 30 seconds"): a longer function timeout would only waste work.
pub const INTEGRATION_TIMEOUT_SECONDS: u32 = 30;

const METHODS: [&str; 8] = [
    "ANY", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT",
];

/// One line per request, JSON, with the request id first (API Gateway Developer Guide, Configure
/// logging for HTTP APIs: "The format must include at least $context.requestId").
const ACCESS_LOG_FORMAT: &str = concat!(
    r#"{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","#,
    r#""requestTime":"$context.requestTime","routeKey":"$context.routeKey","#,
    r#""status":"$context.status","protocol":"$context.protocol","#,
    r#""responseLength":"$context.responseLength","integrationError":"$context.integrationErrorMessage"}"#
);

pub fn api_id(name: &str) -> String {
    format!("{}Api", pascal_case(name))
}

/// A route key API Gateway accepts, split into method and path (`None` for `$default`).
pub fn parse_route(route: &str) -> Result<Option<(&str, &str)>, String> {
    if route == "$default" {
        return Ok(None);
    }
    let Some((method, path)) = route.split_once(' ') else {
        return Err(format!(
            "`{route}` is not a route: `METHOD /path` (e.g. `GET /feed`) or `$default`"
        ));
    };
    if !METHODS.contains(&method) {
        return Err(format!(
            "`{method}` is not an HTTP method API Gateway routes; one of {}",
            METHODS.join(", ")
        ));
    }
    if !path.starts_with('/') || path.contains(' ') || path.contains("//") {
        return Err(format!(
            "path `{path}` must start with `/` and contain no spaces or empty segments"
        ));
    }
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (index, segment) in segments.iter().enumerate() {
        let is_param = segment.starts_with('{') && segment.ends_with('}');
        let greedy = segment.ends_with("+}");
        if greedy && index + 1 != segments.len() {
            return Err(format!(
                "`{segment}` in `{path}`: a greedy path variable must be the last segment"
            ));
        }
        let name = segment
            .trim_start_matches('{')
            .trim_end_matches('}')
            .trim_end_matches('+');
        if is_param
            && (name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        {
            return Err(format!(
                "`{segment}` in `{path}` is not a path variable such as `{{userId}}`"
            ));
        }
        if !is_param && (segment.contains('{') || segment.contains('}')) {
            return Err(format!(
                "`{segment}` in `{path}`: a path variable takes a whole segment"
            ));
        }
    }
    Ok(Some((method, path)))
}

/// The part of an execute-api ARN after the stage that matches the route: `GET/feed/*` for
/// `GET /feed/{userId}` (a variable matches any value), `*/...` for `ANY`, `$default` as itself.
fn source_arn_suffix(route: Option<(&str, &str)>) -> String {
    match route {
        None => "$default".to_owned(),
        Some((method, path)) => {
            let method = if method == "ANY" { "*" } else { method };
            let path: Vec<&str> = path
                .split('/')
                .map(|segment| {
                    if segment.starts_with('{') {
                        "*"
                    } else {
                        segment
                    }
                })
                .collect();
            format!("{method}{}", path.join("/"))
        }
    }
}

fn route_id(api: &str, route: &str) -> String {
    let name = if route == "$default" {
        "Default".to_owned()
    } else {
        pascal_case(&route.to_lowercase())
    };
    format!("{}{name}Route", api_id(api))
}

pub fn build(
    apis: &[HttpApiComponent],
    functions: &[FunctionComponent],
    ctx: &StackContext,
    template: &mut Template,
) -> Result<(), Vec<Diagnostic>> {
    let mut problems = Vec::new();
    storage::check_unique(
        apis.iter().map(|a| a.name.as_str()),
        "apis",
        "name",
        ctx,
        &mut problems,
    );
    let known = functions::names(functions);
    for (index, api) in apis.iter().enumerate() {
        if let Err(mut found) = build_api(index, api, &known, ctx, template) {
            problems.append(&mut found);
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn build_api(
    index: usize,
    api: &HttpApiComponent,
    functions: &BTreeMap<&str, &FunctionComponent>,
    ctx: &StackContext,
    template: &mut Template,
) -> Result<(), Vec<Diagnostic>> {
    let field = format!("apis[{index}]");
    let mut problems = Vec::new();
    if api.routes.is_empty() {
        problems.push(ctx.diagnostic(&format!("{field}.routes"), "lists no routes"));
    }
    if let Err(message) = log_group::check_retention(api.access_log_retention_days) {
        problems.push(ctx.diagnostic(&format!("{field}.access_log_retention_days"), message));
    }
    if !(api.throttling.rate_limit.is_finite() && api.throttling.rate_limit > 0.0) {
        problems.push(ctx.diagnostic(
            &format!("{field}.throttling.rate_limit"),
            "must be a positive number of requests per second",
        ));
    }
    if api.throttling.burst_limit == 0 {
        problems.push(ctx.diagnostic(
            &format!("{field}.throttling.burst_limit"),
            "must be at least 1: a burst limit of 0 refuses every request",
        ));
    }
    let mut seen = BTreeSet::new();
    let mut routes = Vec::new();
    for (n, route) in api.routes.iter().enumerate() {
        let path = format!("{field}.routes[{n}]");
        match parse_route(&route.route) {
            Err(message) => problems.push(ctx.diagnostic(&format!("{path}.route"), message)),
            Ok(parsed) => {
                if !seen.insert(route.route.clone()) {
                    problems.push(ctx.diagnostic(
                        &format!("{path}.route"),
                        format!("duplicate route `{}`", route.route),
                    ));
                }
                routes.push((path.clone(), route, parsed));
            }
        }
        match functions.get(route.function.as_str()) {
            None => problems.push(ctx.diagnostic(
                &format!("{path}.function"),
                format!(
                    "unknown function `{}`; routes go to functions of this stack: {}",
                    route.function,
                    storage::listing(functions.keys().copied())
                ),
            )),
            Some(function) if function.timeout_seconds > INTEGRATION_TIMEOUT_SECONDS => {
                problems.push(ctx.diagnostic(
                    &format!("{path}.function"),
                    format!(
                        "function `{}` has a timeout of {} s, but an HTTP API integration gives up after {INTEGRATION_TIMEOUT_SECONDS} s (API Gateway quotas); lower its timeout_seconds",
                        route.function, function.timeout_seconds
                    ),
                ))
            }
            Some(_) => {}
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    let name = format!("{}-{}", ctx.prefix(), api.name);
    let id = api_id(&api.name);
    let stage = ctx.environment.name.clone();
    let add = |template: &mut Template, field: &str, logical_id: &str, resource: Resource| {
        ctx.add(template, field, logical_id, resource)
            .map_err(|d| vec![d])
    };
    add(
        template,
        &field,
        &id,
        Resource::new(
            "AWS::ApiGatewayV2::Api",
            json!({
                "Name": name,
                "ProtocolType": "HTTP",
                "Description": format!("HTTP API {name}"),
                "Tags": ctx.tag_map(Some(&api.name)),
            }),
        ),
    )?;
    let logs = format!("{id}AccessLogs");
    // Access records expire by retention; deleted with the API (a kept group would block the
    // next creation of the same name). API Gateway delivers HTTP API access logs through CloudWatch
    // Logs' log delivery, which adds a resource policy for the group; under `/aws/vendedlogs/` one
    // policy covers every such group (CloudWatch Logs User Guide, Enable logging from AWS services:
    // log group names starting with /aws/vendedlogs/ keep the resource policy within its size limit).
    add(
        template,
        &field,
        &logs,
        Resource::new(
            "AWS::Logs::LogGroup",
            json!({
                "LogGroupName": format!("/aws/vendedlogs/http-api/{name}"),
                "RetentionInDays": api.access_log_retention_days,
                "Tags": ctx.tags(Some(&api.name)),
            }),
        )
        .lifecycle(Lifecycle::DELETE),
    )?;
    add(
        template,
        &field,
        &format!("{id}Stage"),
        Resource::new(
            "AWS::ApiGatewayV2::Stage",
            json!({
                "ApiId": reference(&id),
                "StageName": stage,
                "Description": format!("{} stage of {name}", ctx.environment.name),
                "AutoDeploy": true,
                "AccessLogSettings": {
                    "DestinationArn": get_att(&logs, "Arn"),
                    "Format": ACCESS_LOG_FORMAT,
                },
                "DefaultRouteSettings": {
                    "ThrottlingBurstLimit": api.throttling.burst_limit,
                    "ThrottlingRateLimit": api.throttling.rate_limit,
                },
                "Tags": ctx.tag_map(Some(&api.name)),
            }),
        ),
    )?;

    let mut integrated = BTreeSet::new();
    for (path, route, parsed) in routes {
        let function_id = functions::function_id(&route.function);
        let integration = format!("{id}{}Integration", pascal_case(&route.function));
        if integrated.insert(route.function.clone()) {
            add(
                template,
                &path,
                &integration,
                Resource::new(
                    "AWS::ApiGatewayV2::Integration",
                    json!({
                        "ApiId": reference(&id),
                        "IntegrationType": "AWS_PROXY",
                        "IntegrationUri": get_att(&function_id, "Arn"),
                        // Version 2.0 is the HTTP API event and response format for Lambda.
                        "PayloadFormatVersion": "2.0",
                    }),
                ),
            )?;
        }
        let route_logical_id = route_id(&api.name, &route.route);
        add(
            template,
            &path,
            &route_logical_id,
            Resource::new(
                "AWS::ApiGatewayV2::Route",
                json!({
                    "ApiId": reference(&id),
                    "RouteKey": route.route,
                    "Target": sub(&format!("integrations/${{{integration}}}")),
                }),
            ),
        )?;
        // Only this route of this API's stage may invoke the function.
        let mut variables = Map::new();
        variables.insert("Api".into(), reference(&id));
        add(
            template,
            &path,
            &format!("{}Permission", route_logical_id.trim_end_matches("Route")),
            Resource::new(
                "AWS::Lambda::Permission",
                json!({
                    "FunctionName": reference(&function_id),
                    "Action": "lambda:InvokeFunction",
                    "Principal": "apigateway.amazonaws.com",
                    "SourceArn": sub_with(
                        &format!(
                            "arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{Api}}/{stage}/{}",
                            source_arn_suffix(parsed)
                        ),
                        variables,
                    ),
                }),
            ),
        )?;
    }

    let base = pascal_case(&api.name);
    for (output, description, value) in [
        (
            format!("{base}ApiUrl"),
            format!("Base URL of the {} API's {stage} stage", api.name),
            sub(&format!(
                "https://${{{id}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{stage}"
            )),
        ),
        (
            format!("{base}ApiId"),
            format!("Id of the {} API", api.name),
            reference(&id),
        ),
    ] {
        ctx.add_output(
            template,
            &field,
            &output,
            Output {
                description,
                value,
                export: None,
            },
        )
        .map_err(|d| vec![d])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn route_keys_follow_api_gateway_syntax() {
        assert_eq!(parse_route("GET /feed"), Ok(Some(("GET", "/feed"))));
        assert_eq!(parse_route("ANY /{proxy+}"), Ok(Some(("ANY", "/{proxy+}"))));
        assert_eq!(parse_route("$default"), Ok(None));
        for bad in [
            "GET",
            "FETCH /x",
            "GET feed",
            "GET /a//b",
            "GET /{proxy+}/x",
            "GET /a{b}",
            "GET /{}",
        ] {
            assert!(parse_route(bad).is_err(), "{bad}");
        }
    }

    /// Lambda permissions for API Gateway name the invoking route as
    /// `arn:aws:execute-api:<region>:<account>:<api-id>/<stage>/<METHOD>/<path>`, compared with
    /// `StringLike` (AWS::Lambda::Permission, SourceArn), so a path variable is a `*`.
    #[test]
    fn permissions_match_exactly_their_route() {
        assert_eq!(source_arn_suffix(Some(("GET", "/feed"))), "GET/feed");
        assert_eq!(
            source_arn_suffix(Some(("GET", "/feed/{userId}"))),
            "GET/feed/*"
        );
        assert_eq!(source_arn_suffix(Some(("ANY", "/{proxy+}"))), "*/*");
        assert_eq!(source_arn_suffix(None), "$default");
    }

    #[test]
    fn route_ids_are_readable_and_distinct() {
        assert_eq!(
            route_id("feed", "GET /feed/{userId}"),
            "FeedApiGetFeedUseridRoute"
        );
        assert_eq!(route_id("feed", "GET /feed"), "FeedApiGetFeedRoute");
        assert_eq!(route_id("feed", "$default"), "FeedApiDefaultRoute");
        assert_ne!(
            route_id("feed", "GET /feed"),
            route_id("feed", "POST /feed")
        );
    }

    #[test]
    fn the_access_log_format_is_one_json_line_with_the_request_id() {
        let parsed: Value = serde_json::from_str(ACCESS_LOG_FORMAT).unwrap();
        assert_eq!(parsed["requestId"], "$context.requestId");
        assert!(!ACCESS_LOG_FORMAT.contains('\n'));
    }
}
