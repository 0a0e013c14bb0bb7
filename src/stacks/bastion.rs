//! Bastion host: an EC2 instance in the third zone's public subnet with an Elastic IP,
//! IMDSv2 enforced, an SSM-capable role, and user data forwarding ports to the databases that
//! re-renders the forwarding at every boot.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::definition::StackDir;
use crate::diagnostic::Diagnostic;
use crate::model::intrinsics::{base64, escape_for_sub, get_att, reference, sub, sub_with};
use crate::model::{Parameter, Resource, Template};
use crate::stacks::{StackContext, database, network, service_trust_policy};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BastionComponent {
    pub network_stack: String,
    pub database_stack: String,
    pub instance_type: String,
    /// `amazon-linux-2023`, a pinned AMI id (`ami-...`) or an SSM parameter path (`/...`); see
    /// [`choose_image`].
    pub image: String,
    /// Handlebars template (beside the stack definitions) rendered into the instance's user data.
    pub user_data_template: String,
    /// Database port on the endpoints; the writer is forwarded to the same local port,
    /// replicas to the ports after it.
    pub database_port: u16,
    /// One-minute CloudWatch metrics (AWS::EC2::Instance, Monitoring).
    #[serde(default = "on")]
    pub detailed_monitoring: bool,
    /// AWS::EC2::Instance, DisableApiTermination: "If you set this parameter to true, you can't
    /// terminate the instance using the Amazon EC2 console, CLI, or API".
    #[serde(default)]
    pub termination_protection: bool,
}

fn on() -> bool {
    true
}

/// The root device of Amazon Linux 2023 images (Amazon Linux 2023 User Guide: AL2023 AMIs use
/// `/dev/xvda`); a block device mapping for another name would add a second volume instead.
const ROOT_DEVICE: &str = "/dev/xvda";

/// Size of the root volume in GiB: the size of the Amazon Linux 2023 images' root snapshot. A
/// mapping may leave VolumeSize out ("If you specify a snapshot, the default is the snapshot
/// size", AWS::EC2::Instance Ebs), but it must not be smaller than the snapshot, so a pinned image
/// with a larger root snapshot needs its own definition. Stated here rather than left to the
/// image so that the volume, which the instance is billed for, is visible in the template.
const ROOT_VOLUME_GIB: u32 = 8;

pub const INSTANCE: &str = "BastionInstance";
pub const EIP: &str = "BastionEip";
const ROLE: &str = "BastionRole";
const PROFILE: &str = "BastionInstanceProfile";
const LAUNCH_TEMPLATE: &str = "BastionLaunchTemplate";
/// The bastion lives in the third zone's public subnet.
const ZONE: usize = 2;
/// Template parameter through which CloudFormation resolves an SSM-named image.
pub const IMAGE_PARAMETER: &str = "BastionImageId";

/// The processor architecture of an instance type, which its image must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    X86_64,
    Arm64,
}

impl Architecture {
    /// From the instance family (`t4g.micro` -> arm64). AWS Graviton families carry a `g` right
    /// after the generation (`t4g`, `m7g`, `c6gn`, `r8gd`, `im4gn`, `is4gen`, `g5g`, `hpc7g`), and
    /// `a1` is the first Graviton (Amazon EC2 Instance Types, naming conventions: "g: AWS Graviton
    /// processors"). Everything else here is x86_64.
    pub fn of_instance_type(instance_type: &str) -> Result<Architecture, String> {
        let invalid = || {
            format!(
                "`{instance_type}` is not an EC2 instance type such as t3.micro (family, generation, attributes, size)"
            )
        };
        let (family, size) = instance_type.split_once('.').ok_or_else(invalid)?;
        let series_len = family
            .find(|c: char| c.is_ascii_digit())
            .ok_or_else(invalid)?;
        let after_series = &family[series_len..];
        let generation_len = after_series
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(after_series.len());
        let attributes = &after_series[generation_len..];
        let shaped = series_len > 0
            && family[..series_len].chars().all(|c| c.is_ascii_lowercase())
            && attributes
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !size.is_empty()
            && size
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !shaped {
            return Err(invalid());
        }
        Ok(if attributes.starts_with('g') || family == "a1" {
            Architecture::Arm64
        } else {
            Architecture::X86_64
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }

    /// The public SSM parameter with the latest Amazon Linux 2023 AMI for this architecture, in
    /// every region (Amazon Linux 2023 User Guide, "Launching AL2023 using the SSM parameter and
    /// AWS CLI": `/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64` and
    /// `...-arm64`).
    pub fn amazon_linux_parameter(self) -> String {
        format!(
            "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{}",
            self.as_str()
        )
    }
}

/// Where the bastion's image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Image {
    /// An AMI id pinned by the environment (AMI ids are per region).
    Pinned(String),
    /// An SSM parameter that CloudFormation resolves at every stack create and update.
    SsmParameter(String),
}

/// The `image` setting that means the latest Amazon Linux 2023 for the instance type's architecture.
pub const LATEST_AMAZON_LINUX: &str = "amazon-linux-2023";

/// The image an environment asks for in `bastion.image`: `amazon-linux-2023` (the latest Amazon
/// Linux 2023 for the instance type's architecture, through its public SSM parameter), an AMI id
/// (`ami-...`, pinned; AMI ids are per region) or the path of another SSM parameter (`/...`).
/// `Err((field, reason))` names the setting at fault.
pub fn choose_image(instance_type: &str, image: &str) -> Result<Image, (&'static str, String)> {
    let architecture =
        Architecture::of_instance_type(instance_type).map_err(|m| ("bastion.instance_type", m))?;
    if image == LATEST_AMAZON_LINUX {
        Ok(Image::SsmParameter(architecture.amazon_linux_parameter()))
    } else if image.starts_with("ami-") {
        check_image_id(image).map_err(|m| ("bastion.image", m))?;
        Ok(Image::Pinned(image.to_owned()))
    } else if image.starts_with('/') {
        check_ssm_parameter(image, architecture).map_err(|m| ("bastion.image", m))?;
        Ok(Image::SsmParameter(image.to_owned()))
    } else {
        Err((
            "bastion.image",
            format!(
                "`{image}` is neither `{LATEST_AMAZON_LINUX}`, an AMI id (ami-...) nor an SSM parameter path (/...)"
            ),
        ))
    }
}

/// `ami-` and 8 or 17 lowercase hex digits (Amazon EC2 API Reference, Image: "ImageId ... ami-"
/// followed by the id; older ids have 8 digits, current ones 17).
fn check_image_id(text: &str) -> Result<(), String> {
    let hex = text.strip_prefix("ami-").unwrap_or("");
    let digits = hex
        .chars()
        .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
    if (hex.len() == 8 || hex.len() == 17) && digits {
        Ok(())
    } else {
        Err(format!(
            "`{text}` is not an AMI id (ami- and 8 or 17 lowercase hex digits, such as ami-087fc0fcee2c7570a); AMI ids are per region"
        ))
    }
}

/// An SSM parameter name (Systems Manager User Guide, parameter names: letters, digits and
/// `.-_/`, hierarchies start with `/`). A default Amazon Linux parameter must match the instance
/// type's architecture: EC2 refuses to launch an arm64 image on an x86_64 type and the reverse.
fn check_ssm_parameter(path: &str, architecture: Architecture) -> Result<(), String> {
    let shaped = path.starts_with('/')
        && path.len() > 1
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c));
    if !shaped {
        return Err(format!(
            "`{path}` is not an SSM parameter path such as {}",
            architecture.amazon_linux_parameter()
        ));
    }
    for other in [Architecture::X86_64, Architecture::Arm64] {
        if other != architecture && path.ends_with(&format!("-{}", other.as_str())) {
            return Err(format!(
                "`{path}` names an {} image, but the instance type is {}; use {}",
                other.as_str(),
                architecture.as_str(),
                architecture.amazon_linux_parameter()
            ));
        }
    }
    Ok(())
}

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
    let image = image_property(component, ctx, template).map_err(|d| vec![d])?;
    let add = |template: &mut Template, id: &str, resource: Resource| {
        ctx.add(template, field, id, resource).map_err(|d| vec![d])
    };

    add(
        template,
        ROLE,
        Resource::new(
            "AWS::IAM::Role",
            json!({
                "AssumeRolePolicyDocument": service_trust_policy("ec2.amazonaws.com", None),
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
                "ImageId": image,
                "InstanceType": component.instance_type,
                "SubnetId": subnet,
                "SecurityGroupIds": [group],
                "IamInstanceProfile": reference(PROFILE),
                "Monitoring": component.detailed_monitoring,
                "DisableApiTermination": component.termination_protection,
                // The root volume encrypted (with the account's aws/ebs key): "Encrypted: Indicates
                // whether the volume should be encrypted ... Encrypted EBS volumes must be attached
                // to instances that support Amazon EBS encryption" (AWS::EC2::Instance Ebs); every
                // current instance type does. On the instance itself, beside the launch template:
                // moto reads BlockDeviceMappings only there, and AWS applies either.
                "BlockDeviceMappings": [{
                    "DeviceName": ROOT_DEVICE,
                    "Ebs": {
                        "Encrypted": true,
                        "VolumeType": "gp3",
                        "VolumeSize": ROOT_VOLUME_GIB,
                        "DeleteOnTermination": true,
                    },
                }],
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

    // Not exported: the instance id changes whenever the instance is replaced (a new image), and an export
    // another stack imported could then not change.
    let mut export = |name: &str, description: &str, value: Value| {
        ctx.add_output(template, field, name, ctx.output(description, value))
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

/// The instance's `ImageId`: the pinned id, or a `Ref` to an SSM-typed template parameter.
///
/// Why a parameter of type `AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>` and not a
/// `{{resolve:ssm:...}}` dynamic reference, which also accepts public parameters: CloudFormation
/// resolves a parameter type "at every stack create and update" and records the value it used on
/// the stack (DescribeStacks, parameter `ResolvedValue`), so the plan can compare the image the
/// bastion runs with the one the parameter names now and show the replacement a new image means
/// (ImageId: "Update requires: Replacement"). For dynamic references, "CloudFormation doesn't
/// support drift detection on dynamic references" and recommends a stack update "if you update
/// the parameter version in Systems Manager" (CloudFormation User Guide, Get a plaintext value
/// from Systems Manager Parameter Store): the template would not change, so nothing would show
/// the new image. (The local emulator resolves parameter types from its copy of the public
/// parameters and passes dynamic references through unresolved.)
fn image_property(
    component: &BastionComponent,
    ctx: &StackContext,
    template: &mut Template,
) -> Result<Value, Diagnostic> {
    let image = choose_image(&component.instance_type, &component.image)
        .map_err(|(field, message)| ctx.diagnostic(field, message))?;
    match image {
        Image::Pinned(id) => Ok(Value::String(id)),
        Image::SsmParameter(path) => {
            ctx.add_parameter(
                template,
                "bastion",
                IMAGE_PARAMETER,
                Parameter::new(
                    "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
                    "SSM parameter naming the bastion's image; CloudFormation resolves it at every stack update",
                )
                .default_value(path),
            )?;
            Ok(reference(IMAGE_PARAMETER))
        }
    }
}

/// MIME boundary of the multi-part user data; no line of the script may be `--//`.
const MIME_BOUNDARY: &str = "//";

/// The bastion's script as user data that cloud-init runs at every boot, not only the first.
///
/// Why: "By default, user data scripts and cloud-init directives run only during the boot cycle
/// when you first launch an instance" (Amazon EC2 User Guide, Run commands when you launch an EC2
/// instance with user data input). A change of the forwarded endpoints changes the user data,
/// which CloudFormation applies by stopping the instance, changing the attribute and starting it
/// again (AWS::EC2::Instance, UserData: "Update requires: Some interruptions"), and a script that
/// runs only once would keep the old forwarding. So the script is sent as MIME multi-part user
/// data with a cloud-config part that makes cloud-init's `scripts-user` module run always, the
/// form the AWS Knowledge Center gives ("How can I utilize user data to automatically run a script
/// with every restart of my Amazon EC2 Linux instance?"): every boot renders the forwarding anew
/// from the user data CloudFormation last set, and the instance (its id, address and host keys)
/// stays. The alternative, replacing the instance on every endpoint change, was not chosen.
pub fn run_at_every_boot(script: &str) -> Result<String, String> {
    let boundary = format!("--{MIME_BOUNDARY}");
    if script.lines().any(|line| line.starts_with(&boundary)) {
        return Err(format!(
            "a line of the user data starts with `{boundary}`, the MIME boundary strata wraps it in"
        ));
    }
    if !script.is_ascii() {
        return Err("the user data must be ASCII (sent as 7bit MIME parts)".into());
    }
    let part = |content_type: &str, file: &str, body: &str| {
        format!(
            "{boundary}\nContent-Type: {content_type}; charset=\"us-ascii\"\nMIME-Version: 1.0\nContent-Transfer-Encoding: 7bit\nContent-Disposition: attachment; filename=\"{file}\"\n\n{body}"
        )
    };
    let mut body = script.to_owned();
    if !body.ends_with('\n') {
        body.push('\n');
    }
    Ok(format!(
        "Content-Type: multipart/mixed; boundary=\"{MIME_BOUNDARY}\"\nMIME-Version: 1.0\n\n{}\n{}{boundary}--\n",
        part(
            "text/cloud-config",
            "cloud-config.txt",
            "#cloud-config\ncloud_final_modules:\n- [scripts-user, always]\n"
        ),
        part("text/x-shellscript", "userdata.txt", &body),
    ))
}

/// Renders the user-data template with placeholders for runtime values, escapes the rest for
/// `Fn::Sub`, then turns the placeholders into `${...}` variables bound to the database stack's
/// outputs (stack parameters: the endpoints change with the replica count).
fn user_data(
    component: &BastionComponent,
    ctx: &StackContext,
    template: &mut Template,
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
    let every_boot = run_at_every_boot(&rendered)
        .map_err(|message| ctx.diagnostic("bastion.user_data_template", message))?;
    let mut text = escape_for_sub(&every_boot);
    let mut variables = Map::new();
    for (_, output) in RUNTIME_VALUES {
        text = text.replace(&placeholder(output), &format!("${{{output}}}"));
        variables.insert(
            output.to_string(),
            ctx.stack_output(
                template,
                &component.database_stack,
                output,
                "bastion.database_stack",
            )?,
        );
    }
    Ok(base64(sub_with(&text, variables)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graviton_families_are_arm64_and_the_rest_x86_64() {
        for arm in [
            "t4g.micro",
            "m7g.large",
            "c6gn.xlarge",
            "r8gd.2xlarge",
            "im4gn.large",
            "is4gen.medium",
            "g5g.xlarge",
            "hpc7g.4xlarge",
            "a1.medium",
            "x2gd.large",
        ] {
            assert_eq!(
                Architecture::of_instance_type(arm),
                Ok(Architecture::Arm64),
                "{arm}"
            );
        }
        for x86 in [
            "t3.micro",
            "t3a.nano",
            "m5.large",
            "g4dn.xlarge",
            "c7i.large",
            "m7i-flex.large",
            "p5.48xlarge",
            "z1d.metal",
            "d3en.xlarge",
        ] {
            assert_eq!(
                Architecture::of_instance_type(x86),
                Ok(Architecture::X86_64),
                "{x86}"
            );
        }
        for bad in ["t3", "micro", ".micro", "T3.micro", "t3.", "3t.micro"] {
            assert!(Architecture::of_instance_type(bad).is_err(), "{bad}");
        }
    }

    /// Issue 10, finding 7: the script reaches cloud-init as the shell-script part of MIME
    /// multi-part user data whose cloud-config part runs `scripts-user` always.
    #[test]
    fn the_user_data_script_runs_at_every_boot() {
        let wrapped = run_at_every_boot("#!/bin/bash\necho hi").unwrap();
        assert_eq!(
            wrapped,
            "Content-Type: multipart/mixed; boundary=\"//\"\nMIME-Version: 1.0\n\n\
             --//\nContent-Type: text/cloud-config; charset=\"us-ascii\"\nMIME-Version: 1.0\n\
             Content-Transfer-Encoding: 7bit\nContent-Disposition: attachment; filename=\"cloud-config.txt\"\n\n\
             #cloud-config\ncloud_final_modules:\n- [scripts-user, always]\n\n\
             --//\nContent-Type: text/x-shellscript; charset=\"us-ascii\"\nMIME-Version: 1.0\n\
             Content-Transfer-Encoding: 7bit\nContent-Disposition: attachment; filename=\"userdata.txt\"\n\n\
             #!/bin/bash\necho hi\n--//--\n"
        );
        assert!(run_at_every_boot("echo a\n--//\necho b\n").is_err());
        assert!(run_at_every_boot("echo caf\u{e9}\n").is_err());
    }

    /// Issue 10, finding 2: the default image is the public SSM parameter of the latest Amazon
    /// Linux 2023 for the instance type's architecture; a pinned id must look like an AMI id.
    #[test]
    fn the_image_follows_the_architecture_unless_pinned() {
        assert_eq!(
            choose_image("t3.micro", LATEST_AMAZON_LINUX),
            Ok(Image::SsmParameter(
                "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64".into()
            ))
        );
        assert_eq!(
            choose_image("t4g.small", LATEST_AMAZON_LINUX),
            Ok(Image::SsmParameter(
                "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64".into()
            ))
        );
        assert_eq!(
            choose_image("t3.micro", "ami-087fc0fcee2c7570a"),
            Ok(Image::Pinned("ami-087fc0fcee2c7570a".into()))
        );
        assert_eq!(
            choose_image("t3.micro", "ami-12ab34cd"),
            Ok(Image::Pinned("ami-12ab34cd".into()))
        );
        for bad in ["ami-087FC0FCEE2C7570A", "ami-087fc0fcee2c7570", "ami-xyz"] {
            let (field, message) = choose_image("t3.micro", bad).unwrap_err();
            assert_eq!(field, "bastion.image");
            assert!(message.contains("not an AMI id"), "{message}");
        }
        let (field, message) = choose_image(
            "t4g.micro",
            "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
        )
        .unwrap_err();
        assert_eq!(field, "bastion.image");
        assert!(message.contains("the instance type is arm64"), "{message}");
        for bad in ["/golden image", "latest", "087fc0fcee2c7570a"] {
            assert_eq!(
                choose_image("t3.micro", bad).unwrap_err().0,
                "bastion.image"
            );
        }
        assert_eq!(
            choose_image("t3", LATEST_AMAZON_LINUX).unwrap_err().0,
            "bastion.instance_type"
        );
    }
}
