//! Which property changes make CloudFormation replace a resource, for every type strata renders.
//!
//! AWS reports this in a change set's `Replacement` field; this table is strata's own prediction
//! for when it does not (the local emulator never fills it in) and for reviewing a diff offline.
//! Source: the "Update requires" line of each property in the CloudFormation resource reference.

/// How a property change affects the resource.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Replacement {
    /// Updated in place.
    Never,
    /// Replaced in some cases (AWS's "Conditional").
    Conditional,
    /// Replaced: a new physical resource is created and the old one deleted.
    Always,
}

impl Replacement {
    /// Parses a change set's `Replacement` value ("True", "False", "Conditional").
    pub fn from_aws(text: &str) -> Option<Replacement> {
        match text {
            "True" => Some(Replacement::Always),
            "False" => Some(Replacement::Never),
            "Conditional" => Some(Replacement::Conditional),
            _ => None,
        }
    }
}

/// Types whose replacement or removal destroys data.
pub const STATEFUL_TYPES: [&str; 3] =
    ["AWS::RDS::DBInstance", "AWS::S3::Bucket", "AWS::SQS::Queue"];

pub fn is_stateful(resource_type: &str) -> bool {
    STATEFUL_TYPES.contains(&resource_type)
}

/// The effect of changing top-level property `property` of a `resource_type`.
pub fn effect_of(resource_type: &str, property: &str) -> Replacement {
    let (always, conditional): (&[&str], &[&str]) = match resource_type {
        "AWS::EC2::VPC" => (
            &[
                "CidrBlock",
                "InstanceTenancy",
                "Ipv4IpamPoolId",
                "Ipv4NetmaskLength",
            ],
            &[],
        ),
        "AWS::EC2::Subnet" => (
            &[
                "AvailabilityZone",
                "AvailabilityZoneId",
                "CidrBlock",
                "VpcId",
                "Ipv4IpamPoolId",
                "Ipv4NetmaskLength",
                "Ipv6Native",
                "OutpostArn",
            ],
            &[],
        ),
        "AWS::EC2::VPCGatewayAttachment" => (&["VpcId"], &[]),
        "AWS::EC2::RouteTable" => (&["VpcId"], &[]),
        "AWS::EC2::Route" => (
            &[
                "RouteTableId",
                "DestinationCidrBlock",
                "DestinationIpv6CidrBlock",
                "DestinationPrefixListId",
            ],
            &[],
        ),
        "AWS::EC2::SubnetRouteTableAssociation" => (&["RouteTableId", "SubnetId"], &[]),
        "AWS::EC2::EIP" => (
            &[
                "Domain",
                "NetworkBorderGroup",
                "PublicIpv4Pool",
                "Address",
                "IpamPoolId",
                "TransferAddress",
            ],
            &[],
        ),
        "AWS::EC2::NatGateway" => (
            &[
                "AllocationId",
                "SubnetId",
                "ConnectivityType",
                "PrivateIpAddress",
                "MaxDrainDurationSeconds",
            ],
            &[],
        ),
        "AWS::EC2::SecurityGroup" => (&["GroupDescription", "GroupName", "VpcId"], &[]),
        "AWS::EC2::LaunchTemplate" => (&["LaunchTemplateName"], &[]),
        "AWS::EC2::Instance" => (
            &[
                "AvailabilityZone",
                "ImageId",
                "SubnetId",
                "KeyName",
                "LaunchTemplate",
                "NetworkInterfaces",
                "PrivateIpAddress",
                "SecurityGroups",
                "CpuOptions",
                "ElasticGpuSpecifications",
                "ElasticInferenceAccelerators",
                "EnclaveOptions",
                "HibernationOptions",
                "HostResourceGroupArn",
                "Ipv6AddressCount",
                "Ipv6Addresses",
                "LicenseSpecifications",
                "PlacementGroupName",
            ],
            &["Tenancy", "HostId"],
        ),
        "AWS::IAM::Role" => (&["RoleName", "Path"], &[]),
        "AWS::IAM::InstanceProfile" => (&["InstanceProfileName", "Path"], &[]),
        "AWS::RDS::DBSubnetGroup" => (&["DBSubnetGroupName"], &[]),
        "AWS::RDS::DBInstance" => (
            &[
                "Engine",
                "DBInstanceIdentifier",
                "DBName",
                "MasterUsername",
                "StorageEncrypted",
                "KmsKeyId",
                "AvailabilityZone",
                "SourceDBInstanceIdentifier",
                "DBSnapshotIdentifier",
                "CharacterSetName",
                "Timezone",
                "Port",
                "SourceRegion",
                "NcharCharacterSetName",
                "CustomIAMInstanceProfile",
            ],
            &[
                "DBSubnetGroupName",
                "DBClusterIdentifier",
                "AllocatedStorage",
                "EngineVersion",
            ],
        ),
        "AWS::S3::Bucket" => (&["BucketName", "ObjectLockEnabled"], &[]),
        "AWS::S3::BucketPolicy" => (&["Bucket"], &[]),
        "AWS::SQS::Queue" => (&["QueueName", "FifoQueue"], &[]),
        _ => (&[], &[]),
    };
    if always.contains(&property) {
        Replacement::Always
    } else if conditional.contains(&property) {
        Replacement::Conditional
    } else {
        Replacement::Never
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_properties_force_replacement() {
        assert_eq!(effect_of("AWS::EC2::VPC", "CidrBlock"), Replacement::Always);
        assert_eq!(
            effect_of("AWS::RDS::DBInstance", "Engine"),
            Replacement::Always
        );
        assert_eq!(
            effect_of("AWS::S3::Bucket", "BucketName"),
            Replacement::Always
        );
        assert_eq!(
            effect_of("AWS::SQS::Queue", "FifoQueue"),
            Replacement::Always
        );
    }

    #[test]
    fn tuning_properties_update_in_place() {
        assert_eq!(
            effect_of("AWS::RDS::DBInstance", "DBInstanceClass"),
            Replacement::Never
        );
        assert_eq!(
            effect_of("AWS::SQS::Queue", "VisibilityTimeout"),
            Replacement::Never
        );
        assert_eq!(
            effect_of("AWS::EC2::SecurityGroup", "SecurityGroupIngress"),
            Replacement::Never
        );
        assert_eq!(
            effect_of("AWS::RDS::DBInstance", "EngineVersion"),
            Replacement::Conditional
        );
    }

    #[test]
    fn aws_values_parse() {
        assert_eq!(Replacement::from_aws("True"), Some(Replacement::Always));
        assert_eq!(
            Replacement::from_aws("Conditional"),
            Some(Replacement::Conditional)
        );
        assert_eq!(Replacement::from_aws(""), None);
    }
}
