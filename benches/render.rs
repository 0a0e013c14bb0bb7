//! How long validate + render of the shipped platform takes: the design promises milliseconds.
//! Run with `cargo bench --bench render`.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use strata::project::Project;
use strata::render::{self, Format};

fn render_every_environment(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let project = Project::open(root).expect("the shipped project opens");
    let environments = project.environment_names().expect("environments");

    c.bench_function("open project (read + compile stack definitions)", |b| {
        b.iter(|| Project::open(black_box(root)).expect("opens"))
    });
    c.bench_function("load, validate and render all environments to YAML", |b| {
        b.iter(|| {
            for env in &environments {
                let rendered = project.render(env).expect("renders");
                for stack in &rendered.stacks {
                    black_box(
                        render::to_text(&stack.name, &stack.template, Format::Yaml).expect("text"),
                    );
                }
            }
        })
    });
}

criterion_group!(benches, render_every_environment);
criterion_main!(benches);
