//! Semantic checks of a merged environment; each problem names the file that set the value.

use crate::cidr;
use crate::config::{Environment, RESERVED_TAGS};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::naming;
use crate::stacks::{bastion, database, log_group, storage};

pub fn environment(env: &Environment) -> Result<(), Vec<Diagnostic>> {
    let mut found = Diagnostics::default();
    let mut check = |field: &str, result: Result<(), String>| {
        if let Err(message) = result {
            let file = env.origins.file_of(field).unwrap_or(&env.file);
            found.push(Diagnostic::new(file, field, message));
        }
    };
    let s = &env.settings;

    check(
        "environment",
        naming::check_slug(&env.name, 16).map_err(|m| format!("environment file name: {m}")),
    );
    check("project", naming::check_slug(&s.project, 24));
    check("account_id", account_id(&s.account_id));
    check("region", region(&s.region));
    check(
        "availability_zones",
        availability_zones(&s.region, &s.availability_zones),
    );
    for (key, value) in &s.tags {
        check(&format!("tags.{key}"), tag(key, value));
    }

    if let Some(network) = &s.network {
        check(
            "network.vpc_cidr",
            cidr::parse_vpc_cidr(&network.vpc_cidr)
                .map(drop)
                .map_err(|e| e.to_string()),
        );
        check(
            "network.public_subnet_prefix",
            cidr::check_prefix("a subnet", network.public_subnet_prefix).map_err(|e| e.to_string()),
        );
        check(
            "network.private_subnet_prefix",
            cidr::check_prefix("a subnet", network.private_subnet_prefix)
                .map_err(|e| e.to_string()),
        );
        if let Ok(vpc) = cidr::parse_vpc_cidr(&network.vpc_cidr) {
            let zones = s.availability_zones.len().max(1);
            check(
                "network",
                cidr::plan_subnets(
                    vpc,
                    zones,
                    network.public_subnet_prefix,
                    network.private_subnet_prefix,
                )
                .map(drop)
                .map_err(|e| e.to_string()),
            );
        }

        check(
            "network.flow_log_retention_days",
            log_group::check_retention(network.flow_log_retention_days),
        );
    }

    if let Some(db) = &s.database {
        check(
            "database.replicas.count",
            at_least(
                db.replicas.count,
                1,
                "the platform serves reads from at least one read replica",
            ),
        );
        check(
            "database.replicas.count",
            at_most(
                db.replicas.count,
                5,
                "RDS allows at most 5 read replicas of a PostgreSQL instance here",
            ),
        );
        check(
            "database.backup_retention_days",
            in_range(
                db.backup_retention_days,
                1,
                35,
                "read replicas need automated backups on the primary; RDS allows up to 35 days",
            ),
        );
        check(
            "database.storage_gb",
            in_range(
                db.storage_gb,
                20,
                65536,
                "gp3 storage for RDS PostgreSQL is 20 to 65536 GiB",
            ),
        );
        check(
            "database.port",
            in_range(
                u32::from(db.port),
                1150,
                65535,
                "RDS accepts ports 1150 to 65535",
            ),
        );
        check(
            "database.engine_version",
            database::check_engine_version(&db.engine_version),
        );
        check(
            "database.instance_class",
            prefixed(&db.instance_class, "db."),
        );
        check(
            "database.replicas.instance_class",
            prefixed(&db.replicas.instance_class, "db."),
        );
        check(
            "database.master_username",
            master_username(&db.master_username),
        );
        check("database.name", database_name(&db.name));
        check(
            "database.monitoring_interval_seconds",
            database::check_monitoring_interval(db.monitoring_interval_seconds),
        );
        check(
            "database.performance_insights_retention_days",
            database::check_performance_insights_retention(db.performance_insights_retention_days),
        );
        check(
            "database.log_retention_days",
            log_group::check_retention(db.log_retention_days),
        );
    }

    if let Some(buckets) = &s.buckets {
        check(
            "buckets.access_log_retention_days",
            at_least(
                buckets.access_log_retention_days,
                1,
                "the log bucket expires access logs after this many days",
            ),
        );
    }

    if let Some(bastion) = &s.bastion {
        if let Err((field, message)) = bastion::choose_image(&bastion.instance_type, &bastion.image)
        {
            check(field, Err(message));
        }
        for (index, source) in bastion.allowed_cidrs.iter().enumerate() {
            check(
                &format!("bastion.allowed_cidrs[{index}]"),
                cidr::parse_source_cidr(source)
                    .map(drop)
                    .map_err(|e| e.to_string()),
            );
        }
    }

    if let Some(queues) = &s.queues {
        for (key, value, limit) in [
            (
                "visibility_timeout_seconds",
                queues.visibility_timeout_seconds,
                storage::VISIBILITY_TIMEOUT_SECONDS,
            ),
            (
                "message_retention_seconds",
                queues.message_retention_seconds,
                storage::RETENTION_SECONDS,
            ),
            (
                "max_receive_count",
                queues.max_receive_count,
                storage::MAX_RECEIVE_COUNT,
            ),
        ] {
            check(
                &format!("queues.{key}"),
                storage::check_sqs_limit(value, &limit),
            );
        }
    }

    found.finish(())
}

fn account_id(text: &str) -> Result<(), String> {
    if text.len() == 12 && text.chars().all(|c| c.is_ascii_digit()) {
        Ok(())
    } else {
        Err(format!(
            "`{text}` is not a 12-digit AWS account id (quote it so YAML keeps leading zeros)"
        ))
    }
}

fn region(text: &str) -> Result<(), String> {
    let parts: Vec<&str> = text.split('-').collect();
    let shaped = parts.len() >= 3
        && parts[0].len() == 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()));
    if shaped {
        Ok(())
    } else {
        Err(format!(
            "`{text}` is not an AWS region name such as eu-west-1"
        ))
    }
}

fn availability_zones(region: &str, zones: &[String]) -> Result<(), String> {
    if zones.len() != 3 {
        return Err(format!(
            "exactly three availability zones are required, {} given",
            zones.len()
        ));
    }
    for zone in zones {
        let suffix = zone.strip_prefix(region);
        let ok = suffix.is_some_and(|s| s.len() == 1 && s.chars().all(|c| c.is_ascii_lowercase()));
        if !ok {
            return Err(format!(
                "`{zone}` is not a zone of region {region} (expected e.g. {region}a)"
            ));
        }
    }
    let mut unique = zones.to_vec();
    unique.sort();
    unique.dedup();
    if unique.len() != zones.len() {
        return Err("availability zones must be distinct".into());
    }
    Ok(())
}

fn tag(key: &str, value: &str) -> Result<(), String> {
    if RESERVED_TAGS.contains(&key) {
        return Err(format!(
            "`{key}` is set by strata itself and cannot be overridden"
        ));
    }
    if key.is_empty() || key.len() > 128 || key.starts_with("aws:") {
        return Err(format!(
            "tag key `{key}` must be 1-128 characters and not start with `aws:`"
        ));
    }
    if value.len() > 256 {
        return Err(format!(
            "tag value is {} characters; AWS allows 256",
            value.len()
        ));
    }
    Ok(())
}

fn at_least(value: u32, min: u32, why: &str) -> Result<(), String> {
    if value >= min {
        Ok(())
    } else {
        Err(format!("is {value}, must be at least {min}: {why}"))
    }
}

fn at_most(value: u32, max: u32, why: &str) -> Result<(), String> {
    if value <= max {
        Ok(())
    } else {
        Err(format!("is {value}, must be at most {max}: {why}"))
    }
}

fn in_range(value: u32, min: u32, max: u32, why: &str) -> Result<(), String> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "is {value}, must be between {min} and {max}: {why}"
        ))
    }
}

fn prefixed(text: &str, prefix: &str) -> Result<(), String> {
    if text.starts_with(prefix) && text.len() > prefix.len() {
        Ok(())
    } else {
        Err(format!(
            "`{text}` is not an instance class such as {prefix}t4g.medium"
        ))
    }
}

fn master_username(text: &str) -> Result<(), String> {
    let shaped = (1..=63).contains(&text.len())
        && text.starts_with(|c: char| c.is_ascii_alphabetic())
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !shaped {
        return Err(format!(
            "`{text}` must be 1-63 letters, digits or underscores, starting with a letter"
        ));
    }
    if ["postgres", "rdsadmin", "admin", "root"].contains(&text) {
        return Err(format!("`{text}` is reserved by RDS PostgreSQL"));
    }
    Ok(())
}

fn database_name(text: &str) -> Result<(), String> {
    let shaped = (1..=63).contains(&text.len())
        && text.starts_with(|c: char| c.is_ascii_alphabetic())
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if shaped {
        Ok(())
    } else {
        Err(format!(
            "`{text}` must be 1-63 letters, digits or underscores, starting with a letter"
        ))
    }
}
