//! PostgreSQL primary with a managed master password, its read replicas and their subnet group.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::diagnostic::Diagnostic;
use crate::model::intrinsics::{get_att, join, reference};
use crate::model::{Lifecycle, Resource, Template};
use crate::stacks::{StackContext, network};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseComponent {
    /// The stack whose network component provides subnets and security groups.
    pub network_stack: String,
    pub engine_version: String,
    pub instance_class: String,
    pub storage_gb: u32,
    pub multi_az: bool,
    pub backup_retention_days: u32,
    pub deletion_protection: bool,
    pub port: u16,
    pub master_username: String,
    pub database_name: String,
    pub replicas: Replicas,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replicas {
    pub count: u32,
    pub instance_class: String,
}

pub const PRIMARY: &str = "DatabasePrimary";
pub const SUBNET_GROUP: &str = "DatabaseSubnetGroup";

pub const WRITER_ENDPOINT_OUTPUT: &str = "WriterEndpoint";
pub const READER_ENDPOINTS_OUTPUT: &str = "ReaderEndpoints";
pub const PORT_OUTPUT: &str = "Port";

pub fn replica(index: u32) -> String {
    format!("DatabaseReplica{}", index + 1)
}

pub fn build(
    component: &DatabaseComponent,
    ctx: &StackContext,
    template: &mut Template,
) -> Result<(), Vec<Diagnostic>> {
    check(component, ctx)?;
    let field = "database";
    let net = &component.network_stack;
    let link = |output: &str, template: &Template| {
        ctx.link(template, net, output, "database.network_stack")
    };
    let subnets: Vec<Value> = (0..ctx.zones().len())
        .map(|zone| link(&network::private_subnet_output(zone), template))
        .collect::<Result<_, _>>()
        .map_err(|d| vec![d])?;
    let security_groups = vec![link(network::DATABASE_SG_OUTPUT, template).map_err(|d| vec![d])?];
    let one = |result: Result<(), Diagnostic>| result.map_err(|d| vec![d]);

    one(ctx.add(
        template,
        field,
        SUBNET_GROUP,
        Resource::new(
            "AWS::RDS::DBSubnetGroup",
            json!({
                "DBSubnetGroupDescription": format!("Private subnets of {}", ctx.prefix()),
                "SubnetIds": subnets,
                "Tags": ctx.tags(Some("database")),
            }),
        ),
    ))?;

    one(ctx.add(
        template,
        field,
        PRIMARY,
        Resource::new(
            "AWS::RDS::DBInstance",
            json!({
                "Engine": "postgres",
                "EngineVersion": component.engine_version,
                "DBInstanceClass": component.instance_class,
                "AllocatedStorage": component.storage_gb.to_string(),
                "StorageType": "gp3",
                "StorageEncrypted": true,
                "PubliclyAccessible": false,
                "MultiAZ": component.multi_az,
                "BackupRetentionPeriod": component.backup_retention_days,
                "DeletionProtection": component.deletion_protection,
                "ManageMasterUserPassword": true,
                "MasterUsername": component.master_username,
                "DBName": component.database_name,
                "Port": component.port.to_string(),
                "DBSubnetGroupName": reference(SUBNET_GROUP),
                "VPCSecurityGroups": security_groups,
                "CopyTagsToSnapshot": true,
                "AutoMinorVersionUpgrade": true,
                "Tags": ctx.tags(Some("primary")),
            }),
        )
        .lifecycle(Lifecycle::SNAPSHOT),
    ))?;

    for index in 0..component.replicas.count {
        // RDS cannot take a final snapshot of a replica; it holds no data the primary lacks.
        one(ctx.add(
            template,
            field,
            &replica(index),
            Resource::new(
                "AWS::RDS::DBInstance",
                json!({
                    "SourceDBInstanceIdentifier": reference(PRIMARY),
                    "Port": component.port.to_string(),
                    "DBInstanceClass": component.replicas.instance_class,
                    "StorageType": "gp3",
                    "PubliclyAccessible": false,
                    "VPCSecurityGroups": security_groups,
                    "CopyTagsToSnapshot": true,
                    "AutoMinorVersionUpgrade": true,
                    "Tags": ctx.tags(Some(&format!("replica-{}", index + 1))),
                }),
            )
            .lifecycle(Lifecycle::DELETE),
        ))?;
    }

    outputs(component, ctx, template).map_err(|d| vec![d])
}

fn check(component: &DatabaseComponent, ctx: &StackContext) -> Result<(), Vec<Diagnostic>> {
    let mut problems = Vec::new();
    if component.replicas.count == 0 {
        problems.push(ctx.diagnostic(
            "database.replicas.count",
            "is 0, must be at least 1: the platform serves reads from a read replica",
        ));
    }
    if component.backup_retention_days == 0 {
        problems.push(ctx.diagnostic(
            "database.backup_retention_days",
            "is 0, must be at least 1: read replicas need automated backups on the primary",
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn outputs(
    component: &DatabaseComponent,
    ctx: &StackContext,
    template: &mut Template,
) -> Result<(), Diagnostic> {
    let field = "database";
    let readers: Vec<Value> = (0..component.replicas.count)
        .map(|index| get_att(&replica(index), "Endpoint.Address"))
        .collect();
    let mut export = |name: &str, description: &str, value: Value| {
        ctx.add_output(
            template,
            field,
            name,
            ctx.exported(description, value, name),
        )
    };
    export(
        WRITER_ENDPOINT_OUTPUT,
        "Writer (primary) endpoint address",
        get_att(PRIMARY, "Endpoint.Address"),
    )?;
    export(
        PORT_OUTPUT,
        "Database port",
        get_att(PRIMARY, "Endpoint.Port"),
    )?;
    export(
        READER_ENDPOINTS_OUTPUT,
        "Read replica endpoint addresses, comma separated",
        join(",", readers.clone()),
    )?;
    // The master secret's ARN is not exported: `GetAtt MasterUserSecret.SecretArn` is not supported
    // everywhere strata must run (the local emulator rejects the template), and RDS itself reports
    // it (DescribeDBInstances), which is where `strata outputs` reads it.
    for (index, reader) in readers.into_iter().enumerate() {
        let name = format!("ReaderEndpoint{}", index + 1);
        export(
            &name,
            &format!("Endpoint address of read replica {}", index + 1),
            reader,
        )?;
    }
    Ok(())
}
