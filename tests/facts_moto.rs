//! The account-facts adapter (SSM, EC2, RDS, S3 reads plan makes before any change set) against moto.
//! What moto answers is recorded in tests/support/MOTO_NOTES.md section 9; where it cannot show an answer
//! real AWS gives, what strata concludes from the answers is tested on data instead.

mod support;

use strata::aws::facts::{AccountFacts, BucketOwnership, ElasticIpUsage};
use strata::aws::{AwsError, SdkAccountFacts};
use support::moto::Moto;

/// The public parameter the bastion's image defaults to; moto ships it.
const AL2023: &str = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";

fn block<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Runtime::new().unwrap().block_on(future)
}

#[test]
fn parameter_store_images_and_instance_types() {
    let moto = Moto::start();
    block(async {
        let clients = support::clients(&moto).await;
        let facts = SdkAccountFacts::new(&clients);
        let image = facts
            .ssm_parameter(AL2023)
            .await
            .unwrap()
            .expect("moto has the public Amazon Linux parameter");
        assert!(image.starts_with("ami-"), "{image}");
        assert_eq!(
            facts.ssm_parameter("/no/such/parameter").await.unwrap(),
            None
        );

        // A missing id is absent, not an error for the whole call.
        let images = facts
            .images(&[image.clone(), "ami-0a1b2c3d4e5f60718".into()])
            .await
            .unwrap();
        assert_eq!(images.len(), 1, "{images:?}");
        assert_eq!(images[0].id, image);
        assert_eq!(images[0].architecture.as_deref(), Some("x86_64"));
        assert_eq!(images[0].state.as_deref(), Some("available"));

        let types = facts
            .instance_types(&["t3.micro".into(), "t4g.micro".into(), "t9.nope".into()])
            .await
            .unwrap();
        let found: Vec<(&str, Vec<String>)> = types
            .iter()
            .map(|t| (t.name.as_str(), t.architectures.clone()))
            .collect();
        assert_eq!(
            found,
            [
                ("t3.micro", vec!["x86_64".to_string()]),
                ("t4g.micro", vec!["arm64".to_string()])
            ]
        );
    });
}

#[test]
fn rds_offerings_as_moto_answers_them() {
    let moto = Moto::start();
    block(async {
        let clients = support::clients(&moto).await;
        let facts = SdkAccountFacts::new(&clients);
        // moto has orderable options only for aurora-postgresql and neptune; postgres has none.
        let aurora = facts
            .orderable_versions("aurora-postgresql", "db.r5.large")
            .await
            .unwrap();
        assert!(!aurora.is_empty(), "{aurora:?}");
        assert!(
            aurora.windows(2).all(|w| w[0] < w[1]),
            "sorted, deduplicated"
        );
        assert_eq!(
            facts
                .orderable_versions("postgres", "db.t4g.micro")
                .await
                .unwrap(),
            Vec::<String>::new()
        );
        // DescribeDBEngineVersions is not implemented: HTML 500, classified as unsupported.
        let err = facts.engine_versions("postgres").await.unwrap_err();
        assert!(
            matches!(
                err,
                AwsError::Unsupported {
                    operation: "DescribeDBEngineVersions",
                    ..
                }
            ),
            "{err:?}"
        );
    });
}

#[test]
fn bucket_ownership_and_elastic_ips() {
    let moto = Moto::start();
    block(async {
        let clients = support::clients(&moto).await;
        let facts = SdkAccountFacts::new(&clients);
        assert_eq!(
            facts.bucket_ownership("strata-free-name").await.unwrap(),
            BucketOwnership::Free
        );
        clients
            .s3
            .create_bucket()
            .bucket("strata-ours")
            .create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            facts.bucket_ownership("strata-ours").await.unwrap(),
            BucketOwnership::Accessible {
                region: Some("eu-west-1".into())
            }
        );

        assert_eq!(
            facts.elastic_ip_usage().await.unwrap(),
            ElasticIpUsage {
                quota: 5,
                allocated: 0
            }
        );
        clients
            .ec2
            .allocate_address()
            .domain(aws_sdk_ec2::types::DomainType::Vpc)
            .send()
            .await
            .unwrap();
        assert_eq!(facts.elastic_ip_usage().await.unwrap().allocated, 1);
    });
}
