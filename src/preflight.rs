//! Pre-flight checks: what only the account and region can answer, asked read-only before `plan` makes any
//! change set. Neither cfn-lint nor the emulator knows whether an image exists in a region, whether RDS sells
//! an engine version on an instance class there, who owns a bucket name, or how many Elastic IPs the account
//! may still allocate; real AWS answers each of these only halfway through a stack operation, after other
//! resources were built, and then rolls back. So `plan` asks first and stops with exit 1, naming the setting
//! of the environment file to change.
//!
//! The checks are pure functions of plain data ([`Wanted`] from the environment and its rendered templates,
//! the `*Facts` read through the [`AccountFacts`] seam); [`check`] gathers the data and runs them.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use crate::aws::cloudformation::CloudFormation;
use crate::aws::facts::{BucketOwnership, ElasticIpUsage, Image, InstanceType};
use crate::aws::{AccountFacts, AwsError};
use crate::config::Environment;
use crate::config::environment::NatMode;
use crate::error::Error;
use crate::project::{RenderedEnvironment, RenderedStack};
use crate::stacks::bastion;

/// A setting the account refuses, as a check finds it: the environment field and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Dotted path in the environment file (`bastion.image`).
    pub field: &'static str,
    pub message: String,
}

fn finding(field: &'static str, message: impl Into<String>) -> Finding {
    Finding {
        field,
        message: message.into(),
    }
}

/// A finding placed in the environment's files: where to change the setting, and where its value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The environment's own file, where an override belongs.
    pub file: PathBuf,
    pub field: &'static str,
    /// The file that sets the value now, when it is another one (the shared base).
    pub set_in: Option<PathBuf>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: {}",
            self.file.display(),
            self.field,
            self.message
        )?;
        if let Some(set_in) = &self.set_in {
            write!(f, " (the value now comes from {})", set_in.display())?;
        }
        Ok(())
    }
}

fn locate(environment: &Environment, found: Finding) -> Problem {
    let set_in = environment
        .origins
        .file_of(found.field)
        .filter(|origin| *origin != environment.file.as_path())
        .map(|origin| origin.to_path_buf());
    Problem {
        file: environment.file.clone(),
        field: found.field,
        set_in,
        message: found.message,
    }
}

/// What the environment asks of the account, for the stacks being planned.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Wanted {
    pub region: String,
    pub image: Option<WantedImage>,
    pub database: Option<WantedDatabase>,
    /// Bucket names the templates create.
    pub buckets: Vec<String>,
    /// Elastic IPs each stack's template holds, by stack name.
    pub elastic_ips: BTreeMap<String, u32>,
    pub nat: Option<NatMode>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WantedImage {
    pub image: bastion::Image,
    pub instance_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WantedDatabase {
    pub engine: String,
    /// As the environment gives it: a major version (`17`) or a pinned minor (`17.6`).
    pub version: String,
    /// The classes ordered, with the field that sets each.
    pub classes: Vec<(&'static str, String)>,
}

/// What EC2 and SSM answer about the image and the instance type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFacts {
    /// The image id: the pinned one, or what the SSM parameter holds (`None`: the parameter does not exist).
    pub resolved: Option<String>,
    /// DescribeImages of that id (`None`: no such image this account may launch in the region).
    pub image: Option<Image>,
    /// DescribeInstanceTypes of the instance type (`None`: not offered in the region).
    pub instance_type: Option<InstanceType>,
}

/// What RDS answers about the engine: the versions it offers, and per class the versions orderable on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseFacts {
    /// DescribeDBEngineVersions; `Err` with the reason when the endpoint cannot answer it.
    pub engine_versions: Result<Vec<String>, String>,
    /// DescribeOrderableDBInstanceOptions per class.
    pub orderable: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElasticIpFacts {
    pub usage: ElasticIpUsage,
    /// Elastic IPs the deployed stacks hold already (they count in `usage.allocated`), by stack name.
    pub deployed: BTreeMap<String, u32>,
}

/// What the checks found: problems stop the plan; what could not be checked is said.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verdict {
    pub findings: Vec<Finding>,
    pub not_checked: Vec<String>,
}

/// The image exists in the region, is available and fits the instance type's architecture. EC2 refuses to
/// launch an image id it does not know in the region ("AMIs are a regional resource", EC2 User Guide, Copy an
/// AMI) with `InvalidAMIID.NotFound`, and an image whose architecture the instance type's processor lacks
/// (DescribeInstanceTypes `ProcessorInfo.SupportedArchitectures`; DescribeImages `Architecture`).
pub fn check_image(wanted: &WantedImage, facts: &ImageFacts, region: &str) -> Vec<Finding> {
    let mut found = Vec::new();
    let Some(id) = &facts.resolved else {
        if let bastion::Image::SsmParameter(name) = &wanted.image {
            found.push(finding(
                "bastion.image",
                format!(
                    "the SSM parameter `{name}` does not exist in {region} (SSM GetParameter: ParameterNotFound); name an existing parameter or pin an AMI id of {region}"
                ),
            ));
        }
        return found;
    };
    let source = match &wanted.image {
        bastion::Image::Pinned(_) => format!("image `{id}`"),
        bastion::Image::SsmParameter(name) => format!("image `{id}` (from SSM parameter `{name}`)"),
    };
    match &facts.image {
        None => found.push(finding(
            "bastion.image",
            format!(
                "{source} does not exist in {region}, or this account may not launch it (EC2 DescribeImages finds nothing; RunInstances would fail with InvalidAMIID.NotFound). AMI ids are per region: pin an id of {region}, or use `{}`",
                bastion::LATEST_AMAZON_LINUX
            ),
        )),
        Some(image) => {
            if let Some(state) = image.state.as_deref().filter(|s| *s != "available") {
                found.push(finding(
                    "bastion.image",
                    format!("{source} is `{state}`, not `available`: EC2 launches only available images"),
                ));
            }
            match (&facts.instance_type, image.architecture.as_deref()) {
                (None, _) => found.push(finding(
                    "bastion.instance_type",
                    format!(
                        "instance type `{}` is not offered in {region} (EC2 DescribeInstanceTypes)",
                        wanted.instance_type
                    ),
                )),
                (Some(offered), Some(architecture))
                    if !offered.architectures.iter().any(|a| a == architecture) =>
                {
                    found.push(finding(
                        "bastion.image",
                        format!(
                            "{source} is built for {architecture}, but instance type `{}` runs {}: choose an image of that architecture (`{}` picks it) or another instance type",
                            wanted.instance_type,
                            offered.architectures.join(", "),
                            bastion::LATEST_AMAZON_LINUX
                        ),
                    ));
                }
                _ => {}
            }
        }
    }
    found
}

/// Whether an offered engine version is what the setting asks for: the same version, or a minor of the
/// major version given alone (`17` takes `17.6`).
fn version_matches(setting: &str, offered: &str) -> bool {
    offered == setting
        || offered
            .strip_prefix(setting)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// RDS offers the engine version in the region, and each instance class can be ordered with it. RDS refuses
/// a combination it does not list (RDS API Reference, DescribeOrderableDBInstanceOptions: "Describes the
/// orderable DB instance options for a specified DB engine"; CreateDBInstance then fails with
/// `InvalidParameterCombination`). When the endpoint cannot say which versions exist, neither is checked.
pub fn check_database(wanted: &WantedDatabase, facts: &DatabaseFacts, region: &str) -> Verdict {
    let mut verdict = Verdict::default();
    let offered = match &facts.engine_versions {
        Ok(offered) => offered,
        Err(reason) => {
            verdict.not_checked.push(format!(
                "database engine version and instance classes: {reason}"
            ));
            return verdict;
        }
    };
    let engine = &wanted.engine;
    let version = &wanted.version;
    if !offered.iter().any(|v| version_matches(version, v)) {
        let mut majors: Vec<&str> = offered
            .iter()
            .map(|v| v.split('.').next().unwrap_or(v))
            .collect();
        majors.dedup();
        verdict.findings.push(finding(
            "database.engine_version",
            format!(
                "RDS offers no {engine} version {version} in {region} (DescribeDBEngineVersions; offered major versions: {})",
                if majors.is_empty() { "none".to_owned() } else { majors.join(", ") }
            ),
        ));
        return verdict;
    }
    for (field, class) in &wanted.classes {
        let orderable = facts.orderable.get(class).map(Vec::as_slice).unwrap_or(&[]);
        if orderable.iter().any(|v| version_matches(version, v)) {
            continue;
        }
        let others = if orderable.is_empty() {
            format!("RDS offers no {engine} version at all on {class} there")
        } else {
            format!("versions orderable on it: {}", orderable.join(", "))
        };
        verdict.findings.push(finding(
            field,
            format!(
                "{class} cannot be ordered with {engine} {version} in {region} (DescribeOrderableDBInstanceOptions; {others})"
            ),
        ));
    }
    verdict
}

/// Each bucket name is free or already this account's, in this region. Bucket names are global: S3 answers
/// HeadBucket with 404 for a free name, 200 for a bucket we may access, 403 for one we may not (another
/// account's: CreateBucket would fail with `BucketAlreadyExists`), and tells the region of an existing bucket
/// (S3 API Reference, HeadBucket: "If the bucket does not exist or you do not have permission to access it,
/// the HEAD request returns a generic 400 Bad Request, 403 Forbidden or 404 Not Found code";
/// `x-amz-bucket-region`).
pub fn check_buckets(
    names: &[String],
    ownership: &BTreeMap<String, BucketOwnership>,
    region: &str,
) -> Vec<Finding> {
    let how_to_fix = "bucket names are {project}-{environment}-{purpose}-{account_id} and global across all accounts: change `project` (or the bucket's purpose in stacks/)";
    names
        .iter()
        .filter_map(|name| {
            let message = match ownership.get(name)? {
                BucketOwnership::Free => return None,
                BucketOwnership::Accessible { region: there }
                    if there.as_deref().is_none_or(|r| r == region) =>
                {
                    return None;
                }
                BucketOwnership::Forbidden => format!(
                    "the bucket name `{name}` belongs to another AWS account (S3 HeadBucket: 403 Forbidden); {how_to_fix}"
                ),
                BucketOwnership::Accessible { region: there }
                | BucketOwnership::ElsewhereInRegion { region: there } => format!(
                    "the bucket `{name}` already exists in {}, not in {region}, and cannot be created here (S3 HeadBucket); {how_to_fix}",
                    there.as_deref().unwrap_or("another region")
                ),
            };
            Some(finding("project", message))
        })
        .collect()
}

/// The Elastic IPs the plan adds fit the account's quota in the region: addresses the deployed stacks hold
/// count once (they are already allocated). EC2 refuses an allocation beyond `vpc-max-elastic-ips` with
/// `AddressLimitExceeded` (EC2 API Reference, DescribeAccountAttributes: "vpc-max-elastic-ips: The maximum
/// number of Elastic IP addresses that you can allocate"; EC2 User Guide, Elastic IP address quota: five per
/// Region by default).
pub fn check_elastic_ips(
    wanted: &BTreeMap<String, u32>,
    nat: Option<NatMode>,
    facts: &ElasticIpFacts,
    region: &str,
) -> Vec<Finding> {
    let added: BTreeMap<&String, u32> = wanted
        .iter()
        .map(|(stack, count)| {
            let held = facts.deployed.get(stack).copied().unwrap_or(0);
            (stack, count.saturating_sub(held))
        })
        .filter(|(_, added)| *added > 0)
        .collect();
    let needed: u32 = added.values().sum();
    let free = facts.usage.quota.saturating_sub(facts.usage.allocated);
    if needed <= free {
        return Vec::new();
    }
    let breakdown = added
        .iter()
        .map(|(stack, n)| format!("{n} for {stack}"))
        .collect::<Vec<_>>()
        .join(", ");
    let fix = match nat {
        Some(NatMode::PerAz) => {
            "set `network.nat: single` (one NAT gateway, one Elastic IP) or ask AWS for a higher quota (Service Quotas: Amazon EC2, EC2-VPC Elastic IPs)"
        }
        _ => {
            "ask AWS for a higher quota (Service Quotas: Amazon EC2, EC2-VPC Elastic IPs) or release unused addresses"
        }
    };
    vec![finding(
        "network.nat",
        format!(
            "the plan allocates {needed} more Elastic IPs ({breakdown}), but the account may allocate {} in {region} and {} are allocated (EC2 DescribeAccountAttributes vpc-max-elastic-ips, DescribeAddresses); {fix}",
            facts.usage.quota, facts.usage.allocated
        ),
    )]
}

fn has_type(stacks: &[&RenderedStack], resource_type: &str) -> bool {
    stacks.iter().any(|s| {
        s.template
            .resources
            .values()
            .any(|r| r.resource_type == resource_type)
    })
}

/// What the planned stacks ask of the account: the bastion's image and instance type and the database's
/// engine, version and classes (from the environment, where those settings live), bucket names and Elastic
/// IPs (from the rendered templates).
pub fn wanted(environment: &Environment, stacks: &[&RenderedStack]) -> Wanted {
    let settings = &environment.settings;
    let image = settings
        .bastion
        .as_ref()
        .filter(|_| has_type(stacks, "AWS::EC2::Instance"))
        .and_then(|bastion| {
            bastion::choose_image(&bastion.instance_type, &bastion.image)
                .ok()
                .map(|image| WantedImage {
                    image,
                    instance_type: bastion.instance_type.clone(),
                })
        });
    let engine = stacks
        .iter()
        .flat_map(|s| s.template.resources.values())
        .filter(|r| r.resource_type == "AWS::RDS::DBInstance")
        .find_map(|r| r.properties.get("Engine").and_then(|e| e.as_str()))
        .map(str::to_owned);
    let database = engine.zip(settings.database.as_ref()).map(|(engine, db)| {
        let mut classes = vec![("database.instance_class", db.instance_class.clone())];
        if db.replicas.count > 0 {
            classes.push((
                "database.replicas.instance_class",
                db.replicas.instance_class.clone(),
            ));
        }
        WantedDatabase {
            engine,
            version: db.engine_version.clone(),
            classes,
        }
    });
    let buckets = stacks
        .iter()
        .flat_map(|s| s.template.resources.values())
        .filter(|r| r.resource_type == "AWS::S3::Bucket")
        .filter_map(|r| r.properties.get("BucketName").and_then(|n| n.as_str()))
        .map(str::to_owned)
        .collect();
    let elastic_ips = stacks
        .iter()
        .map(|s| {
            let count = s
                .template
                .resources
                .values()
                .filter(|r| r.resource_type == "AWS::EC2::EIP")
                .count();
            (
                s.stack_name.clone(),
                u32::try_from(count).unwrap_or(u32::MAX),
            )
        })
        .filter(|(_, count)| *count > 0)
        .collect();
    Wanted {
        region: settings.region.clone(),
        image,
        database,
        buckets,
        elastic_ips,
        nat: settings
            .network
            .as_ref()
            .filter(|_| has_type(stacks, "AWS::EC2::NatGateway"))
            .map(|network| network.nat),
    }
}

/// Reads what the checks need through the seams and runs them: `Ok` with what could not be checked, or
/// [`Error::Preflight`] naming every setting the account refuses. Read-only.
pub async fn check<C: CloudFormation, F: AccountFacts>(
    cloudformation: &C,
    facts: &F,
    rendered: &RenderedEnvironment,
    selected: Option<&str>,
) -> Result<Vec<String>, Error> {
    let stacks: Vec<&RenderedStack> = rendered
        .stacks
        .iter()
        .filter(|s| selected.is_none_or(|only| only == s.name))
        .collect();
    let wanted = wanted(&rendered.environment, &stacks);
    let region = wanted.region.as_str();
    let mut verdict = Verdict::default();
    if let Some(image) = &wanted.image {
        let gathered = image_facts(facts, image).await?;
        verdict
            .findings
            .extend(check_image(image, &gathered, region));
    }
    if let Some(database) = &wanted.database {
        let gathered = database_facts(facts, database).await?;
        let found = check_database(database, &gathered, region);
        verdict.findings.extend(found.findings);
        verdict.not_checked.extend(found.not_checked);
    }
    let mut ownership = BTreeMap::new();
    for name in &wanted.buckets {
        ownership.insert(name.clone(), facts.bucket_ownership(name).await?);
    }
    verdict
        .findings
        .extend(check_buckets(&wanted.buckets, &ownership, region));
    if !wanted.elastic_ips.is_empty() {
        let gathered = elastic_ip_facts(cloudformation, facts, &wanted).await?;
        verdict.findings.extend(check_elastic_ips(
            &wanted.elastic_ips,
            wanted.nat,
            &gathered,
            region,
        ));
    }
    if verdict.findings.is_empty() {
        return Ok(verdict.not_checked);
    }
    Err(Error::Preflight {
        environment: rendered.environment.name.clone(),
        problems: verdict
            .findings
            .into_iter()
            .map(|f| locate(&rendered.environment, f))
            .collect(),
    })
}

async fn image_facts<F: AccountFacts>(
    facts: &F,
    wanted: &WantedImage,
) -> Result<ImageFacts, Error> {
    let resolved = match &wanted.image {
        bastion::Image::Pinned(id) => Some(id.clone()),
        bastion::Image::SsmParameter(name) => facts.ssm_parameter(name).await?,
    };
    let image = match &resolved {
        Some(id) => facts
            .images(std::slice::from_ref(id))
            .await?
            .into_iter()
            .find(|image| &image.id == id),
        None => None,
    };
    let instance_type = facts
        .instance_types(std::slice::from_ref(&wanted.instance_type))
        .await?
        .into_iter()
        .find(|t| t.name == wanted.instance_type);
    Ok(ImageFacts {
        resolved,
        image,
        instance_type,
    })
}

async fn database_facts<F: AccountFacts>(
    facts: &F,
    wanted: &WantedDatabase,
) -> Result<DatabaseFacts, Error> {
    let engine_versions = match facts.engine_versions(&wanted.engine).await {
        Ok(versions) => Ok(versions.into_iter().map(|v| v.version).collect()),
        // An endpoint without the API (AWS always has it) cannot say; the checks say they did not run.
        Err(AwsError::Unsupported { operation, .. }) => {
            Err(format!("{operation} is not available at this endpoint"))
        }
        Err(other) => return Err(other.into()),
    };
    let mut orderable = BTreeMap::new();
    if engine_versions.is_ok() {
        for (_, class) in &wanted.classes {
            if !orderable.contains_key(class) {
                let versions = facts.orderable_versions(&wanted.engine, class).await?;
                orderable.insert(class.clone(), versions);
            }
        }
    }
    Ok(DatabaseFacts {
        engine_versions,
        orderable,
    })
}

async fn elastic_ip_facts<C: CloudFormation, F: AccountFacts>(
    cloudformation: &C,
    facts: &F,
    wanted: &Wanted,
) -> Result<ElasticIpFacts, Error> {
    let usage = facts.elastic_ip_usage().await?;
    let mut deployed = BTreeMap::new();
    // When every address the templates hold fits in what is free, no deployed stack needs reading to
    // know the plan fits (each read is a call per stack in every plan, a no-change plan included).
    let held_at_most: u32 = wanted.elastic_ips.values().sum();
    if held_at_most <= usage.quota.saturating_sub(usage.allocated) {
        return Ok(ElasticIpFacts { usage, deployed });
    }
    for stack in wanted.elastic_ips.keys() {
        let exists = cloudformation
            .describe_stack(stack)
            .await?
            .is_some_and(|d| !d.status.has_no_resources_deployed());
        if !exists {
            continue;
        }
        let held = cloudformation
            .list_stack_resources(stack)
            .await?
            .iter()
            .filter(|r| r.resource_type == "AWS::EC2::EIP")
            .count();
        deployed.insert(stack.clone(), u32::try_from(held).unwrap_or(u32::MAX));
    }
    Ok(ElasticIpFacts { usage, deployed })
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGION: &str = "eu-west-1";
    const AL2023: &str = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";

    fn latest() -> WantedImage {
        WantedImage {
            image: bastion::Image::SsmParameter(AL2023.into()),
            instance_type: "t3.micro".into(),
        }
    }

    fn image(id: &str, architecture: &str, state: &str) -> Image {
        Image {
            id: id.into(),
            architecture: Some(architecture.into()),
            state: Some(state.into()),
            name: None,
        }
    }

    fn runs(name: &str, architecture: &str) -> Option<InstanceType> {
        Some(InstanceType {
            name: name.into(),
            architectures: vec![architecture.into()],
        })
    }

    fn fields(found: &[Finding]) -> Vec<&str> {
        found.iter().map(|f| f.field).collect()
    }

    #[test]
    fn an_existing_image_of_the_instance_types_architecture_passes() {
        let facts = ImageFacts {
            resolved: Some("ami-0abc".into()),
            image: Some(image("ami-0abc", "x86_64", "available")),
            instance_type: runs("t3.micro", "x86_64"),
        };
        assert_eq!(check_image(&latest(), &facts, REGION), []);
    }

    #[test]
    fn a_pinned_image_missing_in_the_region_names_bastion_image() {
        // EC2 answers InvalidAMIID.NotFound for an id the region does not have ("AMIs are a regional
        // resource", EC2 User Guide): the id of the placeholder the first version shipped.
        let wanted = WantedImage {
            image: bastion::Image::Pinned("ami-0a1b2c3d4e5f60718".into()),
            instance_type: "t3.micro".into(),
        };
        let facts = ImageFacts {
            resolved: Some("ami-0a1b2c3d4e5f60718".into()),
            image: None,
            instance_type: runs("t3.micro", "x86_64"),
        };
        let found = check_image(&wanted, &facts, REGION);
        assert_eq!(fields(&found), ["bastion.image"]);
        assert!(
            found[0]
                .message
                .contains("`ami-0a1b2c3d4e5f60718` does not exist in eu-west-1"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn a_missing_ssm_parameter_names_bastion_image() {
        let wanted = WantedImage {
            image: bastion::Image::SsmParameter("/no/such".into()),
            instance_type: "t3.micro".into(),
        };
        let facts = ImageFacts {
            resolved: None,
            image: None,
            instance_type: runs("t3.micro", "x86_64"),
        };
        let found = check_image(&wanted, &facts, REGION);
        assert_eq!(fields(&found), ["bastion.image"]);
        assert!(found[0].message.contains("ParameterNotFound"));
    }

    #[test]
    fn an_arm_image_on_an_x86_instance_type_is_refused() {
        let wanted = WantedImage {
            image: bastion::Image::Pinned("ami-0arm".into()),
            instance_type: "t3.micro".into(),
        };
        let facts = ImageFacts {
            resolved: Some("ami-0arm".into()),
            image: Some(image("ami-0arm", "arm64", "available")),
            instance_type: runs("t3.micro", "x86_64"),
        };
        let found = check_image(&wanted, &facts, REGION);
        assert_eq!(fields(&found), ["bastion.image"]);
        assert!(found[0].message.contains("built for arm64"));
    }

    #[test]
    fn an_image_not_available_or_an_instance_type_not_offered_is_refused() {
        let facts = ImageFacts {
            resolved: Some("ami-0abc".into()),
            image: Some(image("ami-0abc", "x86_64", "deregistered")),
            instance_type: None,
        };
        let found = check_image(&latest(), &facts, REGION);
        assert_eq!(fields(&found), ["bastion.image", "bastion.instance_type"]);
    }

    fn postgres(version: &str) -> WantedDatabase {
        WantedDatabase {
            engine: "postgres".into(),
            version: version.into(),
            classes: vec![
                ("database.instance_class", "db.t4g.micro".into()),
                ("database.replicas.instance_class", "db.r6g.large".into()),
            ],
        }
    }

    fn offered(versions: &[&str], orderable: &[(&str, &[&str])]) -> DatabaseFacts {
        DatabaseFacts {
            engine_versions: Ok(versions.iter().map(|v| v.to_string()).collect()),
            orderable: orderable
                .iter()
                .map(|(class, vs)| {
                    (
                        class.to_string(),
                        vs.iter().map(|v| v.to_string()).collect(),
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn a_major_version_takes_any_of_its_minors_and_each_class_must_order_it() {
        let facts = offered(
            &["16.10", "17.6"],
            &[("db.t4g.micro", &["17.6"]), ("db.r6g.large", &["16.10"])],
        );
        let verdict = check_database(&postgres("17"), &facts, REGION);
        assert_eq!(
            fields(&verdict.findings),
            ["database.replicas.instance_class"]
        );
        assert!(
            verdict.findings[0]
                .message
                .contains("versions orderable on it: 16.10")
        );
        // `1` is not a prefix of `17.6` in the version's sense.
        let verdict = check_database(&postgres("1"), &facts, REGION);
        assert_eq!(fields(&verdict.findings), ["database.engine_version"]);
        assert!(
            verdict.findings[0]
                .message
                .contains("offered major versions: 16, 17")
        );
    }

    #[test]
    fn a_pinned_minor_must_be_offered_exactly() {
        let facts = offered(
            &["17.5", "17.6"],
            &[
                ("db.t4g.micro", &["17.5", "17.6"]),
                ("db.r6g.large", &["17.5", "17.6"]),
            ],
        );
        assert_eq!(
            check_database(&postgres("17.6"), &facts, REGION),
            Verdict::default()
        );
        let verdict = check_database(&postgres("17.4"), &facts, REGION);
        assert_eq!(fields(&verdict.findings), ["database.engine_version"]);
    }

    #[test]
    fn without_the_engine_versions_api_nothing_about_the_database_is_claimed() {
        let facts = DatabaseFacts {
            engine_versions: Err(
                "DescribeDBEngineVersions is not available at this endpoint".into()
            ),
            orderable: BTreeMap::new(),
        };
        let verdict = check_database(&postgres("17"), &facts, REGION);
        assert_eq!(verdict.findings, []);
        assert_eq!(verdict.not_checked.len(), 1);
        assert!(verdict.not_checked[0].contains("DescribeDBEngineVersions"));
    }

    #[test]
    fn a_bucket_name_of_another_account_or_region_is_refused_and_ours_passes() {
        let names: Vec<String> = ["free", "ours", "theirs", "elsewhere", "moved"]
            .iter()
            .map(|n| n.to_string())
            .collect();
        let ownership = BTreeMap::from([
            ("free".to_string(), BucketOwnership::Free),
            (
                "ours".to_string(),
                BucketOwnership::Accessible {
                    region: Some(REGION.into()),
                },
            ),
            // S3 HeadBucket: 403 Forbidden when the bucket exists and this account may not access it.
            ("theirs".to_string(), BucketOwnership::Forbidden),
            (
                "elsewhere".to_string(),
                BucketOwnership::Accessible {
                    region: Some("us-west-2".into()),
                },
            ),
            (
                "moved".to_string(),
                BucketOwnership::ElsewhereInRegion {
                    region: Some("us-east-1".into()),
                },
            ),
        ]);
        let found = check_buckets(&names, &ownership, REGION);
        assert_eq!(fields(&found), ["project", "project", "project"]);
        assert!(
            found[0]
                .message
                .contains("`theirs` belongs to another AWS account")
        );
        assert!(
            found[1]
                .message
                .contains("`elsewhere` already exists in us-west-2")
        );
        assert!(
            found[2]
                .message
                .contains("`moved` already exists in us-east-1")
        );
    }

    #[test]
    fn elastic_ips_count_only_what_the_plan_adds_against_the_quota() {
        let wanted = BTreeMap::from([
            ("photofeed-prod-network".to_string(), 3),
            ("photofeed-prod-bastion".to_string(), 1),
        ]);
        // The network already holds its three; the bastion's one is new: 4 of 5 allocated, 1 free.
        let facts = ElasticIpFacts {
            usage: ElasticIpUsage {
                quota: 5,
                allocated: 4,
            },
            deployed: BTreeMap::from([("photofeed-prod-network".to_string(), 3)]),
        };
        assert_eq!(
            check_elastic_ips(&wanted, Some(NatMode::PerAz), &facts, REGION),
            []
        );
        let full = ElasticIpFacts {
            usage: ElasticIpUsage {
                quota: 5,
                allocated: 5,
            },
            ..facts
        };
        let found = check_elastic_ips(&wanted, Some(NatMode::PerAz), &full, REGION);
        assert_eq!(fields(&found), ["network.nat"]);
        assert!(
            found[0]
                .message
                .contains("1 more Elastic IPs (1 for photofeed-prod-bastion)")
        );
        assert!(found[0].message.contains("set `network.nat: single`"));
    }

    #[test]
    fn a_finding_names_the_environment_file_and_where_the_value_comes_from() {
        let project =
            crate::project::Project::open(std::path::Path::new(env!("CARGO_MANIFEST_DIR")))
                .expect("the shipped project opens");
        let rendered = project.render("dev").expect("dev renders");
        let problem = locate(
            &rendered.environment,
            finding(
                "database.engine_version",
                "RDS offers no postgres version 17",
            ),
        );
        assert!(problem.file.ends_with("environments/dev.yaml"));
        assert!(
            problem
                .set_in
                .as_deref()
                .is_some_and(|f| f.ends_with("environments/base.yaml")),
            "{problem:?}"
        );
        let text = problem.to_string();
        assert!(
            text.contains("dev.yaml: database.engine_version: RDS offers no postgres version 17"),
            "{text}"
        );
    }

    #[test]
    fn the_shipped_environments_want_the_image_the_database_buckets_and_addresses() {
        let project =
            crate::project::Project::open(std::path::Path::new(env!("CARGO_MANIFEST_DIR")))
                .expect("the shipped project opens");
        let rendered = project.render("prod").expect("prod renders");
        let stacks: Vec<&RenderedStack> = rendered.stacks.iter().collect();
        let wanted = wanted(&rendered.environment, &stacks);
        assert_eq!(wanted.region, rendered.environment.settings.region);
        assert!(wanted.image.is_some());
        let database = wanted.database.expect("a database");
        assert_eq!(database.engine, "postgres");
        assert_eq!(database.classes.len(), 2);
        assert!(!wanted.buckets.is_empty());
        assert!(wanted.elastic_ips.values().sum::<u32>() >= 1);
    }
}
