//! What `validate` costs with its policy gate, at fleet scale: the shipped environments, and 30, 300 and
//! 1000 copies of the dev environment (each its own file, so each renders its own names). Two ways:
//! - `one pass`: what `validate` does, every environment's templates in one evaluation, each rule file run
//!   once over all the templates that select it (`Project::check_policies_all`);
//! - `per environment`: one evaluation per environment with the rule files' syntax checked each time, as
//!   `validate` did before (`policy::evaluate` per environment).
//!
//! - `one pass, cache warm`: what a second `validate` does: render, then read each result back from the
//!   policy cache (nothing changed, so nothing is evaluated).
//!
//! Profile (perf, this bench's `one pass` over the shipped environments, cfn-guard 3.2.1): cfn-guard's
//! validate is ~77% of the time; inside it, resolving `Resources.*` queries deep-clones every value it
//! visits (`accumulate_map`, ~34%), parsing each template into its value tree is ~14%, and malloc/free
//! of those clones is over a third of all samples. The evaluator's internals are crate-private, so the
//! levers are outside it: evaluate less (one pass; the cache) and allocate faster (mimalloc).
//!
//! Run with `cargo bench --bench policy`; the README's table comes from it.

// The binary's allocator (src/main.rs), so that these figures are the command's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

#[path = "../tests/support/mod.rs"]
mod support;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use strata::policy::{ReportCache, TemplateInput, Waiver, evaluate};
use strata::project::{Project, RenderedEnvironment};
use support::Fixture;

/// A copy of the shipped project with `copies` more environments, each the dev environment's file again.
fn fleet(copies: usize) -> Fixture {
    let fixture = Fixture::copy_of_project();
    let dev = std::fs::read_to_string(fixture.path("environments/dev.yaml")).expect("dev.yaml");
    for index in 0..copies {
        fixture.write(&format!("environments/dev{index:04}.yaml"), &dev);
    }
    fixture
}

fn render_all(project: &Project, names: &[String]) -> Vec<RenderedEnvironment> {
    names
        .iter()
        .map(|name| project.render(name).expect("renders"))
        .collect()
}

fn one_pass(project: &Project, names: &[String]) -> usize {
    let rendered = render_all(project, names);
    let reports = project.check_policies_all(&rendered).expect("evaluates");
    reports.iter().map(|r| r.findings.len()).sum()
}

fn per_environment(project: &Project, names: &[String]) -> usize {
    let mut found = 0;
    for rendered in render_all(project, names) {
        let values: Vec<serde_json::Value> = rendered
            .stacks
            .iter()
            .map(|s| strata::render::template_value(&s.template))
            .collect();
        let templates: Vec<TemplateInput> = rendered
            .stacks
            .iter()
            .zip(&values)
            .map(|(s, template)| TemplateInput::new(&s.name, template))
            .collect();
        let waivers: Vec<Waiver> = rendered
            .stacks
            .iter()
            .flat_map(|s| s.waivers.clone())
            .collect();
        let files = project.policies.selection(&rendered.environment);
        found += evaluate(&files, &templates, &waivers)
            .expect("evaluates")
            .findings
            .len();
    }
    found
}

/// What `validate` does with its cache warm: render, then read every (rule file, template) result back.
fn warm_pass(project: &Project, names: &[String], cache: &ReportCache) -> usize {
    let rendered = render_all(project, names);
    let (reports, used) = project
        .check_policies_cached(&rendered, cache)
        .expect("evaluates");
    assert_eq!(used.evaluated, 0, "the cache was warmed");
    reports.iter().map(|r| r.findings.len()).sum()
}

/// A cache under `dir`, filled by one pass.
fn warmed(project: &Project, names: &[String], dir: &Path) -> ReportCache {
    let cache = ReportCache::at(dir);
    let rendered = render_all(project, names);
    project
        .check_policies_cached(&rendered, &cache)
        .expect("evaluates");
    cache
}

fn validate(c: &mut Criterion) {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR"));
    let project = Project::open(shipped).expect("the shipped project opens");
    let names = project.environment_names().expect("environments");
    let cache_dir = tempfile::tempdir().expect("temp dir");
    let cache = warmed(&project, &names, cache_dir.path());
    let mut group = c.benchmark_group("validate, shipped environments");
    group.bench_function("one pass", |b| {
        b.iter(|| black_box(one_pass(&project, &names)))
    });
    group.bench_function("per environment", |b| {
        b.iter(|| black_box(per_environment(&project, &names)))
    });
    group.bench_function("one pass, cache warm", |b| {
        b.iter(|| black_box(warm_pass(&project, &names, &cache)))
    });
    group.finish();

    // Cold passes over 1000 environments take about a minute each, too long for criterion's ten samples:
    // scripts/bench-validate.sh times those as the command. Here: cold at 30 and 300, warm at all sizes.
    let mut group = c.benchmark_group("validate, copies of dev");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    for copies in [30, 300, 1000] {
        let dir = fleet(copies);
        let project = Project::open(dir.root()).expect("the fleet opens");
        let names: Vec<String> = (0..copies).map(|i| format!("dev{i:04}")).collect();
        let cache_dir = tempfile::tempdir().expect("temp dir");
        let cache = warmed(&project, &names, cache_dir.path());
        if copies == 30 {
            assert_eq!(
                one_pass(&project, &names),
                per_environment(&project, &names),
                "both ways find the same"
            );
            group.bench_with_input(
                BenchmarkId::new("per environment", copies),
                &names,
                |b, names| b.iter(|| black_box(per_environment(&project, names))),
            );
        }
        if copies <= 300 {
            group.bench_with_input(BenchmarkId::new("one pass", copies), &names, |b, names| {
                b.iter(|| black_box(one_pass(&project, names)))
            });
        }
        group.bench_with_input(
            BenchmarkId::new("one pass, cache warm", copies),
            &names,
            |b, names| b.iter(|| black_box(warm_pass(&project, names, &cache))),
        );
    }
    group.finish();
}

criterion_group!(benches, validate);
criterion_main!(benches);
