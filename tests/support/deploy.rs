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
pub async fn delete_what_moto_cannot(clients: &AwsClients) {
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
