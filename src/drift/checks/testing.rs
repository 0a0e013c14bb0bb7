//! Plain-data cases for the checks' unit tests: a declared resource, physical ids, exports and live snapshots.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Ctx, SeparateRule, Verdict, check};
use crate::drift::Difference;
use crate::drift::compare::LiveAttributes;
use crate::drift::live::LiveState;
use crate::drift::resolve::Resolver;
use crate::model::{Resource, Template};

/// The resource under test is `Res`; other declared resources (a launch template, say) may be added.
pub struct Case {
    pub template: Template,
    pub physical_ids: BTreeMap<String, String>,
    pub exports: BTreeMap<String, String>,
    pub live: LiveState,
    pub separate_rules: Vec<SeparateRule>,
}

impl Case {
    pub fn new(resource_type: &'static str, properties: Value) -> Case {
        let mut template = Template::default();
        template
            .add("Res", Resource::new(resource_type, properties))
            .expect("one resource");
        Case {
            template,
            physical_ids: BTreeMap::new(),
            exports: BTreeMap::new(),
            live: LiveState::default(),
            separate_rules: Vec::new(),
        }
    }

    pub fn physical(mut self, logical_id: &str, physical_id: &str) -> Case {
        self.physical_ids
            .insert(logical_id.to_owned(), physical_id.to_owned());
        self
    }

    pub fn declare(
        mut self,
        logical_id: &str,
        resource_type: &'static str,
        properties: Value,
    ) -> Case {
        self.template
            .add(logical_id, Resource::new(resource_type, properties))
            .expect("distinct logical ids");
        self
    }

    pub fn export(mut self, name: &str, value: &str) -> Case {
        self.exports.insert(name.to_owned(), value.to_owned());
        self
    }
}

pub fn verdict(case: &Case, physical_id: &str) -> Verdict {
    let mut physical_ids = case.physical_ids.clone();
    physical_ids.insert("Res".into(), physical_id.into());
    let attributes = LiveAttributes {
        template: &case.template,
        physical_ids: &physical_ids,
        live: &case.live,
        region: "eu-west-1",
        account_id: "111111111111",
    };
    let resolver = Resolver {
        stack_name: "app-dev-stack",
        region: "eu-west-1",
        account_id: "111111111111",
        physical_ids: &physical_ids,
        parameters: &Default::default(),
        exports: &case.exports,
        attributes: &attributes,
    };
    let ctx = Ctx {
        logical_id: "Res",
        physical_id,
        resource: &case.template.resources["Res"],
        template: &case.template,
        resolver: &resolver,
        live: &case.live,
        separate_rules: &case.separate_rules,
    };
    let reader = super::checked_by(ctx.resource.resource_type).expect("a type strata checks");
    check(reader, &ctx)
}

/// The differences found; panics if the resource is reported deleted.
pub fn differences(case: &Case, physical_id: &str) -> Vec<Difference> {
    match verdict(case, physical_id) {
        Verdict::Checked { differences, .. } => differences,
        Verdict::Deleted => panic!("expected differences, the resource is reported deleted"),
    }
}

pub fn is_deleted(case: &Case, physical_id: &str) -> bool {
    verdict(case, physical_id) == Verdict::Deleted
}
