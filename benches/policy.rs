//! What `validate` costs with its policy gate, at fleet scale: the shipped environments, and 30, 300 and
//! 1000 copies of the dev environment (each its own file, so each renders its own names). Two ways:
//! - `one pass`: what `validate` does, every environment's templates in one evaluation, each rule file run
//!   once over all the templates that select it (`Project::check_policies_all`);
//! - `per environment`: one evaluation per environment with the rule files' syntax checked each time, as
//!   `validate` did before (`policy::evaluate` per environment).
//!
//! Run with `cargo bench --bench policy`; the README's table comes from it.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use strata::policy::{TemplateInput, Waiver, evaluate};
use strata::project::{Project, RenderedEnvironment};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy file");
        }
    }
}

/// A copy of the shipped project with `copies` more environments, each the dev environment's file again.
fn fleet(copies: usize) -> tempfile::TempDir {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("temp dir");
    for sub in ["environments", "stacks", "policies"] {
        copy_dir(&root.join(sub), &dir.path().join(sub));
    }
    let dev = std::fs::read_to_string(root.join("environments/dev.yaml")).expect("dev.yaml");
    for index in 0..copies {
        std::fs::write(
            dir.path().join(format!("environments/dev{index:04}.yaml")),
            &dev,
        )
        .expect("write environment");
    }
    dir
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
            .map(|(s, template)| TemplateInput {
                stack: &s.name,
                template,
            })
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

fn validate(c: &mut Criterion) {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR"));
    let project = Project::open(shipped).expect("the shipped project opens");
    let names = project.environment_names().expect("environments");
    let mut group = c.benchmark_group("validate, shipped environments");
    group.bench_function("one pass", |b| {
        b.iter(|| black_box(one_pass(&project, &names)))
    });
    group.bench_function("per environment", |b| {
        b.iter(|| black_box(per_environment(&project, &names)))
    });
    group.finish();

    let mut group = c.benchmark_group("validate, copies of dev");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    for copies in [30, 300, 1000] {
        let dir = fleet(copies);
        let project = Project::open(dir.path()).expect("the fleet opens");
        let names: Vec<String> = (0..copies).map(|i| format!("dev{i:04}")).collect();
        assert_eq!(
            one_pass(&project, &names),
            per_environment(&project, &names),
            "both ways find the same"
        );
        group.bench_with_input(BenchmarkId::new("one pass", copies), &names, |b, names| {
            b.iter(|| black_box(one_pass(&project, names)))
        });
        group.bench_with_input(
            BenchmarkId::new("per environment", copies),
            &names,
            |b, names| b.iter(|| black_box(per_environment(&project, names))),
        );
    }
    group.finish();
}

criterion_group!(benches, validate);
criterion_main!(benches);
