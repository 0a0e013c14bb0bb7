//! Deploying an environment on the emulator with `strata apply`, as a user would.

use std::path::Path;

use strata::aws::AwsClients;

use super::moto::Moto;

/// Runs `strata apply --env <env> --yes` against `moto` and insists it succeeds.
pub fn apply(root: &Path, env: &str, moto: &Moto) {
    let output = super::strata_on(root, moto)
        .args(["apply", "--env", env, "--yes"])
        .output()
        .expect("strata runs");
    assert!(
        output.status.success(),
        "apply --env {env} failed\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// moto's CloudFormation cannot delete NAT gateways or route tables, so deleting a VPC stack fails
/// with DependencyViolation and leaks the VPC (MOTO_NOTES.md §5). AWS deletes them
/// with the stack. Remove them through the EC2 API first, exactly as the stack would.
///
/// And moto treats `DeletionPolicy: RetainExceptOnCreate` as `Delete`: a bucket holding objects
/// (the artifact bucket's function packages) then fails its delete silently, and DescribeStacks of
/// the deleted stack by its id answers HTTP 500 (moto re-creates the bucket while resolving the
/// outputs: BucketAlreadyExists; MOTO_NOTES section 12). AWS keeps the bucket and completes the
/// delete. Emptying the buckets first gives the emulator the case it handles.
pub async fn delete_what_moto_cannot(clients: &AwsClients) {
    let buckets = clients.s3.list_buckets().send().await.unwrap();
    for bucket in buckets.buckets() {
        let name = bucket.name().unwrap();
        let objects = clients
            .s3
            .list_objects_v2()
            .bucket(name)
            .send()
            .await
            .unwrap();
        for object in objects.contents() {
            clients
                .s3
                .delete_object()
                .bucket(name)
                .key(object.key().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
    let nats = clients.ec2.describe_nat_gateways().send().await.unwrap();
    for nat in nats.nat_gateways() {
        clients
            .ec2
            .delete_nat_gateway()
            .nat_gateway_id(nat.nat_gateway_id().unwrap())
            .send()
            .await
            .unwrap();
    }
    let tables = clients.ec2.describe_route_tables().send().await.unwrap();
    for table in tables.route_tables() {
        if table.associations().iter().any(|a| a.main() == Some(true)) {
            continue;
        }
        for association in table.associations() {
            clients
                .ec2
                .disassociate_route_table()
                .association_id(association.route_table_association_id().unwrap())
                .send()
                .await
                .unwrap();
        }
        clients
            .ec2
            .delete_route_table()
            .route_table_id(table.route_table_id().unwrap())
            .send()
            .await
            .unwrap();
    }
}
