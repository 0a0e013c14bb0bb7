//! Bastion host: an EC2 instance in the third zone's public subnet with an Elastic IP,
//! IMDSv2 enforced, an SSM-capable role, and user data forwarding ports to the databases.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::definition::StackDir;
use crate::diagnostic::Diagnostic;
use crate::model::intrinsics::{base64, escape_for_sub, get_att, reference, sub, sub_with};
use crate::model::{Resource, Template};
use crate::stacks::{StackContext, database, network};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BastionComponent {
    pub network_stack: String,
    pub database_stack: String,
    pub instance_type: String,
    pub image_id: String,
    /// Handlebars template (beside the stack definitions) rendered into the instance's user data.
    pub user_data_template: String,
    /// Database port on the endpoints; the writer is forwarded to the same local port,
    /// replicas to the ports after it.
    pub database_port: u16,
}

pub const INSTANCE: &str = "BastionInstance";
pub const EIP: &str = "BastionEip";
const ROLE: &str = "BastionRole";
const PROFILE: &str = "BastionInstanceProfile";
const LAUNCH_TEMPLATE: &str = "BastionLaunchTemplate";
/// The bastion lives in the third zone's public subnet.
const ZONE: usize = 2;

/// Runtime values the user data needs, filled in by CloudFormation through `Fn::Sub`.
const RUNTIME_VALUES: [(&str, &str); 2] = [
    ("writer_endpoint", database::WRITER_ENDPOINT_OUTPUT),
    ("reader_endpoints", database::READER_ENDPOINTS_OUTPUT),
];

pub fn build(
    component: &BastionComponent,
    ctx: &StackContext,
    template: &mut Template,
) -> Result<(), Vec<Diagnostic>> {
    let field = "bastion";
    let one = |result: Result<Value, Diagnostic>| result.map_err(|d| vec![d]);
    let subnet = one(ctx.link(
        template,
        &component.network_stack,
        &network::public_subnet_output(ZONE),
        "bastion.network_stack",
    ))?;
    let group = one(ctx.link(
        template,
        &component.network_stack,
        network::BASTION_SG_OUTPUT,
        "bastion.network_stack",
    ))?;
    let user_data = one(user_data(component, ctx, template))?;
    let add = |template: &mut Template, id: &str, resource: Resource| {
        ctx.add(template, field, id, resource).map_err(|d| vec![d])
    };

    add(
        template,
        ROLE,
        Resource::new(
            "AWS::IAM::Role",
            json!({
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Effect": "Allow",
                        "Principal": { "Service": "ec2.amazonaws.com" },
                        "Action": "sts:AssumeRole",
                    }],
                },
                "ManagedPolicyArns": [sub("arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore")],
                "Tags": ctx.tags(Some("bastion")),
            }),
        ),
    )?;
    add(
        template,
        PROFILE,
        Resource::new(
            "AWS::IAM::InstanceProfile",
            json!({
                "Roles": [reference(ROLE)],
            }),
        ),
    )?;
    add(
        template,
        LAUNCH_TEMPLATE,
        Resource::new(
            "AWS::EC2::LaunchTemplate",
            json!({
                "LaunchTemplateData": {
                    "MetadataOptions": {
                        "HttpEndpoint": "enabled",
                        "HttpTokens": "required",
                        "HttpPutResponseHopLimit": 1,
                    },
                },
                "TagSpecifications": [{ "ResourceType": "launch-template", "Tags": ctx.tags(Some("bastion")) }],
            }),
        ),
    )?;
    add(
        template,
        INSTANCE,
        Resource::new(
            "AWS::EC2::Instance",
            json!({
                "ImageId": component.image_id,
                "InstanceType": component.instance_type,
                "SubnetId": subnet,
                "SecurityGroupIds": [group],
                "IamInstanceProfile": reference(PROFILE),
                "LaunchTemplate": {
                    "LaunchTemplateId": reference(LAUNCH_TEMPLATE),
                    "Version": get_att(LAUNCH_TEMPLATE, "LatestVersionNumber"),
                },
                "UserData": user_data,
                "Tags": ctx.tags(Some("bastion")),
            }),
        ),
    )?;
    add(
        template,
        EIP,
        Resource::new(
            "AWS::EC2::EIP",
            json!({
                "Domain": "vpc",
                "InstanceId": reference(INSTANCE),
                "Tags": ctx.tags(Some("bastion")),
            }),
        ),
    )?;

    let mut export = |name: &str, description: &str, value: Value| {
        ctx.add_output(
            template,
            field,
            name,
            ctx.exported(description, value, name),
        )
        .map_err(|d| vec![d])
    };
    export(
        "BastionPublicIp",
        "Public IP address of the bastion host",
        reference(EIP),
    )?;
    export(
        "BastionInstanceId",
        "Instance id of the bastion host (for SSM sessions)",
        reference(INSTANCE),
    )?;
    Ok(())
}

/// Renders the user-data template with placeholders for runtime values, escapes the rest for
/// `Fn::Sub`, then turns the placeholders into `${...}` variables bound to the database exports.
fn user_data(
    component: &BastionComponent,
    ctx: &StackContext,
    template: &Template,
) -> Result<Value, Diagnostic> {
    let placeholder = |name: &str| format!("@@strata-runtime:{name}@@");
    let mut data = json!({
        "project": ctx.project(),
        "environment": ctx.environment.name,
        "database_port": component.database_port,
        "writer_local_port": component.database_port,
        "first_reader_local_port": u32::from(component.database_port) + 1,
    });
    for (key, output) in RUNTIME_VALUES {
        data[key] = Value::String(placeholder(output));
    }
    let rendered = StackDir::render_template(
        ctx.templates,
        ctx.file,
        &component.user_data_template,
        &data,
    )
    .map_err(|d| ctx.diagnostic("bastion.user_data_template", d.to_string()))?;
    let mut text = escape_for_sub(&rendered);
    let mut variables = Map::new();
    for (_, output) in RUNTIME_VALUES {
        text = text.replace(&placeholder(output), &format!("${{{output}}}"));
        variables.insert(
            output.to_string(),
            ctx.link(
                template,
                &component.database_stack,
                output,
                "bastion.database_stack",
            )?,
        );
    }
    Ok(base64(sub_with(&text, variables)))
}
