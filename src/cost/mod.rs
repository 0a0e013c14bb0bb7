//! Monthly cost ESTIMATE of rendered templates, from the committed price table (`prices.yaml`, with
//! the source and date of every price). Only what a template fixes is priced (hours of NAT
//! gateways, public IPv4 addresses, instances and DB instances, provisioned storage, secrets,
//! keys); what depends on use (data processed, requests, storage of buckets) is listed, and a price
//! the table does not have is listed as unknown, never guessed.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::project::RenderedEnvironment;

const PRICES: &str = include_str!("prices.yaml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceTable {
    pub retrieved: String,
    pub currency: String,
    pub hours_per_month: f64,
    pub rds_multi_az_factor: f64,
    pub regions: BTreeMap<String, RegionPrices>,
    pub no_charge: BTreeMap<String, String>,
    pub usage_priced: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionPrices {
    pub nat_gateway_hour: Price,
    pub nat_gateway_gb: Price,
    pub public_ipv4_hour: Price,
    /// By instance type: Linux, shared tenancy.
    pub ec2_instance_hour: BTreeMap<String, Price>,
    /// By engine, then DB instance class: Single-AZ.
    pub rds_instance_hour: BTreeMap<String, BTreeMap<String, Price>>,
    /// By storage type: Single-AZ.
    pub rds_storage_gb_month: BTreeMap<String, Price>,
    pub secret_month: Price,
    pub kms_key_month: Price,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub usd: f64,
    pub source: String,
}

/// The committed table. It is part of the program: a table that does not parse fails its unit test.
pub fn prices() -> &'static PriceTable {
    static TABLE: OnceLock<PriceTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        serde_yaml::from_str(PRICES).unwrap_or_else(|err| {
            // Not user data: the file is compiled in, and `the_price_table_parses` covers it.
            panic!("src/cost/prices.yaml: {err}")
        })
    })
}

/// One priced component of one resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostLine {
    pub stack: String,
    pub logical_id: String,
    pub resource_type: String,
    /// `NAT gateway hours`, `db.t4g.micro Multi-AZ hours`, `gp3 storage`.
    pub item: String,
    pub quantity: f64,
    /// `h`, `GB-month`, `month`.
    pub unit: String,
    pub unit_usd: f64,
    pub monthly_usd: f64,
}

/// A resource, or a part of one, the estimate does not include, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Omission {
    pub stack: String,
    pub logical_id: String,
    pub resource_type: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    pub environment: String,
    pub region: String,
    pub currency: String,
    /// Date the price table was compiled.
    pub prices_of: String,
    /// Sum of `lines`.
    pub monthly_usd: f64,
    pub lines: Vec<CostLine>,
    /// Priced by use (requests, data, storage): not in the sum.
    pub usage_priced: Vec<Omission>,
    /// No price in the table, or a value only known at deploy time: not in the sum.
    pub unknown: Vec<Omission>,
}

impl Estimate {
    /// Monthly cost of one resource (its priced lines).
    pub fn of(&self, stack: &str, logical_id: &str) -> f64 {
        // Folded from +0.0: an empty f64 sum is -0.0.
        self.lines
            .iter()
            .filter(|l| l.stack == stack && l.logical_id == logical_id)
            .map(|l| l.monthly_usd)
            .fold(0.0, |total, cost| total + cost)
    }
}

/// The estimate of a rendered environment.
pub fn estimate_environment(rendered: &RenderedEnvironment) -> Estimate {
    let templates: Vec<(String, Value)> = rendered
        .stacks
        .iter()
        .map(|s| (s.name.clone(), crate::render::template_value(&s.template)))
        .collect();
    estimate(
        &rendered.environment.name,
        &rendered.environment.settings.region,
        &templates,
    )
}

/// The estimate of templates (stack short name, template), in one region.
pub fn estimate(environment: &str, region: &str, templates: &[(String, Value)]) -> Estimate {
    let table = prices();
    let mut estimate = Estimate {
        environment: environment.to_string(),
        region: region.to_string(),
        currency: table.currency.clone(),
        prices_of: table.retrieved.clone(),
        monthly_usd: 0.0,
        lines: Vec::new(),
        usage_priced: Vec::new(),
        unknown: Vec::new(),
    };
    for (stack, template) in templates {
        let Some(resources) = template.get("Resources").and_then(Value::as_object) else {
            continue;
        };
        for (logical_id, resource) in resources {
            let resource_type = resource
                .get("Type")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let mut pricer = Pricer {
                table,
                region: table.regions.get(region),
                region_name: region,
                resources,
                resource,
                found: Found::default(),
            };
            pricer.price(resource_type);
            let at = |reason: String| Omission {
                stack: stack.clone(),
                logical_id: logical_id.clone(),
                resource_type: resource_type.to_string(),
                reason,
            };
            for (item, quantity, unit, unit_usd) in pricer.found.lines {
                estimate.lines.push(CostLine {
                    stack: stack.clone(),
                    logical_id: logical_id.clone(),
                    resource_type: resource_type.to_string(),
                    item,
                    quantity,
                    unit: unit.to_string(),
                    unit_usd,
                    monthly_usd: quantity * unit_usd,
                });
            }
            estimate
                .usage_priced
                .extend(pricer.found.usage.into_iter().map(at));
            estimate
                .unknown
                .extend(pricer.found.unknown.into_iter().map(at));
        }
    }
    // Folded from +0.0: an empty f64 sum is -0.0, which would print as "$-0.00".
    estimate.monthly_usd = estimate
        .lines
        .iter()
        .map(|l| l.monthly_usd)
        .fold(0.0, |total, cost| total + cost);
    estimate
}

#[derive(Default)]
struct Found {
    /// (item, quantity, unit, unit price)
    lines: Vec<(String, f64, &'static str, f64)>,
    usage: Vec<String>,
    unknown: Vec<String>,
}

/// Prices one resource against the region's table.
struct Pricer<'a> {
    table: &'a PriceTable,
    region: Option<&'a RegionPrices>,
    region_name: &'a str,
    /// The template's resources, for what a resource takes from another (a replica's storage).
    resources: &'a serde_json::Map<String, Value>,
    resource: &'a Value,
    found: Found,
}

impl Pricer<'_> {
    fn price(&mut self, resource_type: &str) {
        if self.table.no_charge.contains_key(resource_type) {
            return;
        }
        if let Some(what) = self.table.usage_priced.get(resource_type) {
            self.found.usage.push(what.clone());
            return;
        }
        let Some(region) = self.region else {
            self.found.unknown.push(format!(
                "the price table has no prices for region {}",
                self.region_name
            ));
            return;
        };
        let hours = self.table.hours_per_month;
        match resource_type {
            "AWS::EC2::NatGateway" => {
                self.line("NAT gateway hours", hours, "h", &region.nat_gateway_hour);
                self.found
                    .usage
                    .push(format!("data processed: ${}/GB", region.nat_gateway_gb.usd));
            }
            "AWS::EC2::EIP" => {
                self.line(
                    "public IPv4 address hours",
                    hours,
                    "h",
                    &region.public_ipv4_hour,
                );
            }
            "AWS::EC2::Instance" => {
                match self.literal("InstanceType") {
                    Some(kind) => match region.ec2_instance_hour.get(&kind) {
                        Some(price) => self.line(&format!("{kind} hours"), hours, "h", price),
                        None => self.unknown(format!("no price for instance type {kind}")),
                    },
                    None => self.unknown("InstanceType is not a literal value".into()),
                }
                // The root volume's size comes from the image unless the template sets it.
                self.unknown(
                    "EBS volumes: their size comes from the image, not the template".into(),
                );
            }
            "AWS::RDS::DBInstance" => self.db_instance(region),
            "AWS::SecretsManager::Secret" => {
                self.line("secret", 1.0, "month", &region.secret_month)
            }
            "AWS::KMS::Key" => {
                self.line("customer managed key", 1.0, "month", &region.kms_key_month)
            }
            other => self.unknown(format!("the price table does not know {other}")),
        }
    }

    fn db_instance(&mut self, region: &RegionPrices) {
        let hours = self.table.hours_per_month;
        let multi_az = self.property("MultiAZ").is_some_and(is_true);
        let (factor, deployment) = if multi_az {
            (self.table.rds_multi_az_factor, "Multi-AZ")
        } else {
            (1.0, "Single-AZ")
        };
        // A read replica has its source's engine and storage unless it says otherwise.
        let source = self
            .property("SourceDBInstanceIdentifier")
            .and_then(|v| v.get("Ref"))
            .and_then(Value::as_str)
            .and_then(|id| self.resources.get(id))
            .and_then(|r| r.get("Properties"));
        let inherited = |name: &str| {
            self.literal(name)
                .or_else(|| source.and_then(|p| p.get(name)).and_then(literal))
        };
        let engine = inherited("Engine");
        let class = self.literal("DBInstanceClass");
        let storage_type = inherited("StorageType").unwrap_or_else(|| "gp2".into());
        let size = inherited("AllocatedStorage").and_then(|s| s.parse::<f64>().ok());
        match (engine.as_deref(), class) {
            (Some(engine), Some(class)) => {
                match region
                    .rds_instance_hour
                    .get(engine)
                    .and_then(|c| c.get(&class))
                {
                    Some(price) => self.scaled_line(
                        &format!("{class} {deployment} hours"),
                        hours,
                        "h",
                        price,
                        factor,
                    ),
                    None => self.unknown(format!("no price for {class} ({engine}, {deployment})")),
                }
            }
            _ => self.unknown("Engine or DBInstanceClass is not a literal value".into()),
        }
        match (size, region.rds_storage_gb_month.get(&storage_type)) {
            (Some(size), Some(price)) => self.scaled_line(
                &format!("{storage_type} storage {deployment}"),
                size,
                "GB-month",
                price,
                factor,
            ),
            (None, _) => self.unknown("AllocatedStorage is not a literal value".into()),
            (_, None) => self.unknown(format!("no price for {storage_type} storage")),
        }
        self.found
            .usage
            .push("backup storage beyond the DB's size, I/O beyond gp3's baseline".into());
    }

    fn property(&self, name: &str) -> Option<&Value> {
        self.resource.get("Properties").and_then(|p| p.get(name))
    }

    fn literal(&self, name: &str) -> Option<String> {
        self.property(name).and_then(literal)
    }

    fn line(&mut self, item: &str, quantity: f64, unit: &'static str, price: &Price) {
        self.scaled_line(item, quantity, unit, price, 1.0);
    }

    fn scaled_line(
        &mut self,
        item: &str,
        quantity: f64,
        unit: &'static str,
        price: &Price,
        factor: f64,
    ) {
        self.found
            .lines
            .push((item.to_string(), quantity, unit, price.usd * factor));
    }

    fn unknown(&mut self, reason: String) {
        self.found.unknown.push(reason);
    }
}

/// A string or number written as-is in the template (not an intrinsic function).
fn literal(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn is_true(value: &Value) -> bool {
    value.as_bool() == Some(true) || value.as_str() == Some("true")
}

/// One resource whose monthly estimate differs between two estimates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceDelta {
    pub stack: String,
    pub logical_id: String,
    pub before_usd: f64,
    pub after_usd: f64,
}

/// What a change does to the monthly estimate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostChange {
    pub before: Estimate,
    pub after: Estimate,
    pub monthly_delta_usd: f64,
    /// Only the resources whose estimate changes.
    pub resources: Vec<ResourceDelta>,
}

pub fn change(before: Estimate, after: Estimate) -> CostChange {
    let mut ids: Vec<(&str, &str)> = before
        .lines
        .iter()
        .chain(&after.lines)
        .map(|l| (l.stack.as_str(), l.logical_id.as_str()))
        .collect();
    ids.sort();
    ids.dedup();
    let resources = ids
        .into_iter()
        .filter_map(|(stack, id)| {
            let (old, new) = (before.of(stack, id), after.of(stack, id));
            ((old - new).abs() > 1e-9).then(|| ResourceDelta {
                stack: stack.to_string(),
                logical_id: id.to_string(),
                before_usd: old,
                after_usd: new,
            })
        })
        .collect();
    CostChange {
        monthly_delta_usd: after.monthly_usd - before.monthly_usd,
        resources,
        before,
        after,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_price_table_parses_and_cites_a_source_for_every_price() {
        let table = prices();
        assert_eq!(table.hours_per_month, 730.0);
        let region = &table.regions["eu-west-1"];
        let mut all = vec![
            &region.nat_gateway_hour,
            &region.nat_gateway_gb,
            &region.public_ipv4_hour,
            &region.secret_month,
            &region.kms_key_month,
        ];
        all.extend(region.ec2_instance_hour.values());
        all.extend(region.rds_instance_hour.values().flat_map(|c| c.values()));
        all.extend(region.rds_storage_gb_month.values());
        for price in all {
            assert!(
                price.usd > 0.0 && !price.source.trim().is_empty(),
                "{price:?}"
            );
        }
    }

    fn one(resources: Value) -> Estimate {
        estimate(
            "dev",
            "eu-west-1",
            &[("s".to_string(), json!({ "Resources": resources }))],
        )
    }

    #[test]
    fn a_multi_az_instance_pays_twice_and_a_replica_takes_its_sources_storage() {
        let estimate = one(json!({
            "Primary": {"Type": "AWS::RDS::DBInstance", "Properties": {
                "Engine": "postgres", "DBInstanceClass": "db.t4g.micro", "MultiAZ": true,
                "AllocatedStorage": "20", "StorageType": "gp3"}},
            "Replica": {"Type": "AWS::RDS::DBInstance", "Properties": {
                "DBInstanceClass": "db.t4g.micro", "SourceDBInstanceIdentifier": {"Ref": "Primary"}}},
        }));
        // Primary: 730 h x 0.017 x 2 = 24.82, 20 GB x 0.127 x 2 = 5.08.
        assert!((estimate.of("s", "Primary") - 29.90).abs() < 1e-9);
        // Replica: 730 h x 0.017 = 12.41, 20 GB x 0.127 = 2.54 (gp3 from its source).
        assert!((estimate.of("s", "Replica") - 14.95).abs() < 1e-9);
        assert!(estimate.unknown.is_empty(), "{:?}", estimate.unknown);
    }

    #[test]
    fn unknown_types_and_prices_are_listed_not_guessed() {
        let estimate = one(json!({
            "Big": {"Type": "AWS::RDS::DBInstance", "Properties": {
                "Engine": "postgres", "DBInstanceClass": "db.x9.huge", "AllocatedStorage": "10", "StorageType": "gp3"}},
            "Thing": {"Type": "AWS::Made::Up", "Properties": {}},
            "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {}},
        }));
        let reasons: Vec<(&str, &str)> = estimate
            .unknown
            .iter()
            .map(|o| (o.logical_id.as_str(), o.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            [
                ("Big", "no price for db.x9.huge (postgres, Single-AZ)"),
                ("Thing", "the price table does not know AWS::Made::Up"),
            ]
        );
        // Only the storage is priced: 10 x 0.127.
        assert!((estimate.monthly_usd - 1.27).abs() < 1e-9);
        assert_eq!(
            estimate.usage_priced.len(),
            2,
            "{:?}",
            estimate.usage_priced
        );
    }

    #[test]
    fn a_region_without_prices_prices_nothing() {
        let estimate = estimate(
            "x",
            "ap-south-2",
            &[(
                "s".to_string(),
                json!({"Resources": {"Nat": {"Type": "AWS::EC2::NatGateway"}}}),
            )],
        );
        assert_eq!(estimate.monthly_usd, 0.0);
        assert_eq!(
            estimate.unknown[0].reason,
            "the price table has no prices for region ap-south-2"
        );
    }
}
