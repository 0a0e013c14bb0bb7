//! What a change does to a resource, in the terms CloudFormation uses: one type for AWS's answer
//! (a change set), strata's prediction (the catalog) and the plan that shows both.

use serde::{Deserialize, Serialize};

/// What a change set does with one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeAction {
    Add,
    Modify,
    Remove,
    /// An existing resource brought under the stack's management.
    Import,
    /// Decided only while the change set executes (a dynamic reference, a macro).
    Dynamic,
}

impl ChangeAction {
    /// A change set's `Action` value; `None` for an action this version of strata does not know.
    pub fn from_aws(text: &str) -> Option<ChangeAction> {
        Some(match text {
            "Add" => ChangeAction::Add,
            "Modify" => ChangeAction::Modify,
            "Remove" => ChangeAction::Remove,
            "Import" => ChangeAction::Import,
            "Dynamic" => ChangeAction::Dynamic,
            _ => return None,
        })
    }

    /// `+` add, `~` modify (also import and dynamic: the resource stays, something about it changes), `-` remove.
    pub fn symbol(self) -> char {
        match self {
            ChangeAction::Add => '+',
            ChangeAction::Modify | ChangeAction::Import | ChangeAction::Dynamic => '~',
            ChangeAction::Remove => '-',
        }
    }

    /// The existing resource is changed in place or replaced (not added, not removed).
    pub fn changes_existing(self) -> bool {
        matches!(
            self,
            ChangeAction::Modify | ChangeAction::Import | ChangeAction::Dynamic
        )
    }
}

/// How a property change affects the resource: AWS's change set `Replacement` field, or strata's
/// prediction of it from the resource catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
    /// A change set's `Replacement` value ("True", "False", "Conditional").
    pub fn from_aws(text: &str) -> Option<Replacement> {
        match text {
            "True" => Some(Replacement::Always),
            "False" => Some(Replacement::Never),
            "Conditional" => Some(Replacement::Conditional),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_values_parse() {
        assert_eq!(Replacement::from_aws("True"), Some(Replacement::Always));
        assert_eq!(Replacement::from_aws("False"), Some(Replacement::Never));
        assert_eq!(
            Replacement::from_aws("Conditional"),
            Some(Replacement::Conditional)
        );
        assert_eq!(Replacement::from_aws(""), None);
        assert_eq!(ChangeAction::from_aws("Remove"), Some(ChangeAction::Remove));
        assert_eq!(ChangeAction::from_aws("SyncWithActual"), None);
    }

    #[test]
    fn the_strongest_effect_wins() {
        assert!(Replacement::Always > Replacement::Conditional);
        assert!(Replacement::Conditional > Replacement::Never);
    }
}
