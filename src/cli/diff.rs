use clap::Args;
use serde::Serialize;

use crate::cli::{Console, write_out};
use crate::cost::{self, CostChange};
use crate::diff::{self, EnvironmentDiff, revision};
use crate::error::Error;
use crate::exit::Outcome;
use crate::project::{Project, RenderedEnvironment};

#[derive(Debug, Args)]
pub struct DiffArgs {
    #[arg(long)]
    pub env: String,

    /// Git revision to compare the working tree with (default: the merge base of HEAD and the main branch).
    #[arg(long, value_name = "GIT_REF")]
    pub against: Option<String>,

    /// Print the differences as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Renders `environment` from the working tree and from a revision: (working tree, revision's render
/// or `None` when that revision has no such environment, the revision).
pub(crate) fn render_both(
    project: &Project,
    environment: &str,
    against: Option<&str>,
) -> Result<
    (
        RenderedEnvironment,
        Option<RenderedEnvironment>,
        diff::Revision,
    ),
    Error,
> {
    let new = project.render(environment)?;
    let checkout = revision::checkout(&project.root, against)?;
    let invalid = |source: Error| Error::RevisionInvalid {
        reference: checkout.revision.reference.clone(),
        commit: checkout.revision.commit.clone(),
        source: Box::new(source),
    };
    let old_project = Project::open(&checkout.root).map_err(invalid)?;
    let old = match old_project.render(environment) {
        Ok(old) => Some(old),
        // A new environment: everything in it is an addition.
        Err(Error::UnknownEnvironment { .. }) => None,
        Err(other) => return Err(invalid(other)),
    };
    Ok((new, old, checkout.revision.clone()))
}

/// `diff --json`: the differences and what they do to the monthly cost estimate.
#[derive(Serialize)]
struct DiffDocument<'a> {
    #[serde(flatten)]
    diff: &'a EnvironmentDiff,
    cost: &'a CostChange,
}

pub fn run(project: &Project, args: &DiffArgs, console: &mut Console) -> Result<Outcome, Error> {
    let (new, old, revision) = render_both(project, &args.env, args.against.as_deref())?;
    let diff = diff::compare(old.as_ref(), &new, revision);
    let cost = cost_change(old.as_ref(), &new);
    if args.json {
        let document = DiffDocument {
            diff: &diff,
            cost: &cost,
        };
        write_out(console.out, &crate::report::json("diff", &document)?)?;
    } else {
        let mut text = crate::report::diff::render(&diff, console.style);
        text.push('\n');
        text.push_str(&crate::report::cost::render_change(&cost, console.style));
        write_out(console.out, &text)?;
    }
    Ok(if diff.has_changes() {
        Outcome::ChangesPending
    } else {
        Outcome::Success
    })
}

/// The estimate of the revision's render (nothing when it has no such environment) and of the working tree's.
pub(crate) fn cost_change(
    old: Option<&RenderedEnvironment>,
    new: &RenderedEnvironment,
) -> CostChange {
    let before = match old {
        Some(old) => cost::estimate_environment(old),
        None => cost::estimate(&new.environment.name, &new.environment.settings.region, &[]),
    };
    cost::change(before, cost::estimate_environment(new))
}
