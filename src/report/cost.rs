//! The monthly cost estimate as text: the environment's total with its priced lines, what is left
//! out (priced by use, or no price known), and the change between two estimates.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::cost::{CostChange, Estimate, Omission};
use crate::report::Style;

pub fn render(estimate: &Estimate, style: Style) -> String {
    let mut text = headline(estimate, style);
    for line in &estimate.lines {
        let _ = writeln!(
            text,
            "  {:<9} {:<28} {:<32} {:>7} {:<8} x ${:<8} {:>10}",
            line.stack,
            line.logical_id,
            line.item,
            quantity(line.quantity),
            line.unit,
            line.unit_usd,
            usd(line.monthly_usd)
        );
    }
    omissions(
        &mut text,
        "not included, priced by use",
        &estimate.usage_priced,
    );
    omissions(&mut text, "not included, no price known", &estimate.unknown);
    text
}

fn headline(estimate: &Estimate, style: Style) -> String {
    format!(
        "Monthly cost estimate of {} ({}): {} ({}, on-demand list prices compiled {} in src/cost/prices.yaml; an estimate, not a bill)\n",
        style.bold(&estimate.environment),
        estimate.region,
        style.bold(&usd(estimate.monthly_usd)),
        estimate.currency,
        estimate.prices_of
    )
}

/// The estimate before and after a change, and each resource whose cost changes.
pub fn render_change(change: &CostChange, style: Style) -> String {
    let (before, after) = (&change.before, &change.after);
    let mut text = format!(
        "Monthly cost estimate of {} ({}): {} -> {} ({}; prices compiled {} in src/cost/prices.yaml, an estimate, not a bill)\n",
        style.bold(&after.environment),
        after.region,
        usd(before.monthly_usd),
        style.bold(&usd(after.monthly_usd)),
        signed(change.monthly_delta_usd),
        after.prices_of
    );
    for resource in &change.resources {
        let _ = writeln!(
            text,
            "  {:<9} {:<28} {:>10} -> {:>10} ({})",
            resource.stack,
            resource.logical_id,
            usd(resource.before_usd),
            usd(resource.after_usd),
            signed(resource.after_usd - resource.before_usd)
        );
    }
    let new_unknown: Vec<Omission> = after
        .unknown
        .iter()
        .filter(|o| !before.unknown.contains(o))
        .cloned()
        .collect();
    omissions(
        &mut text,
        "not included, no price known (new with this change)",
        &new_unknown,
    );
    text
}

/// Omissions grouped by type and reason, each with the resources it applies to.
fn omissions(text: &mut String, title: &str, list: &[Omission]) {
    if list.is_empty() {
        return;
    }
    let mut grouped: BTreeMap<(&str, &str), Vec<String>> = BTreeMap::new();
    for omission in list {
        grouped
            .entry((&omission.resource_type, &omission.reason))
            .or_default()
            .push(format!("{}/{}", omission.stack, omission.logical_id));
    }
    let _ = writeln!(text, "  {title}:");
    for ((resource_type, reason), resources) in grouped {
        let _ = writeln!(
            text,
            "    {resource_type}: {reason}: {}",
            resources.join(", ")
        );
    }
}

pub fn usd(amount: f64) -> String {
    format!("${:.2}", amount)
}

pub fn signed(amount: f64) -> String {
    if amount < 0.0 {
        format!("-${:.2}", -amount)
    } else {
        format!("+${:.2}", amount)
    }
}

fn quantity(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value}")
    }
}
