//! What a no-change `plan --env dev` costs against a real wire protocol: moto server (started like the
//! tests start it, from the project's `.venv`), the dev environment applied once, then `strata plan`
//! run as a process through the tests' counting proxy (tests/support/faults.rs, with no faults).
//!
//! Two figures: the wall time of one plan (criterion), and the AWS calls it makes, printed once and
//! checked against the bound (at most two calls per stack without values CloudFormation
//! resolves itself, plus the account check and one ListStacks). The same count is asserted by
//! tests/plan_moto.rs; here it is printed for the README's table.
//!
//! Run with `cargo bench --bench plan`.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use support::faults::{FaultProxy, Faults};
use support::moto::Moto;
use support::{Fixture, endpoint_env, moto_env};

fn no_change_plan(c: &mut Criterion) {
    let moto = Moto::start();
    let fixture = Fixture::copy_of_project();
    support::deploy::apply(fixture.root(), "dev", &moto);
    let proxy = FaultProxy::start(moto.port(), Faults::none());
    let plan = || {
        let output = support::strata(fixture.root())
            .envs(moto_env(&moto))
            .envs(endpoint_env(&proxy.endpoint_url()))
            .env_remove("AWS_SESSION_TOKEN")
            .args(["plan", "--env", "dev", "--detailed-exitcode"])
            .output()
            .expect("strata runs");
        assert_eq!(
            output.status.code(),
            Some(0),
            "a no-change plan exits 0: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };

    plan();
    let mut per_service: BTreeMap<String, usize> = BTreeMap::new();
    for seen in proxy.seen() {
        let service = seen.call.split(' ').next().unwrap_or_default().to_string();
        *per_service.entry(service).or_default() += 1;
    }
    let stack_calls = per_service.get("cloudformation").copied().unwrap_or(0)
        + per_service.get("sts").copied().unwrap_or(0);
    println!(
        "calls of one no-change plan of dev: {stack_calls} CloudFormation + STS; \
         read-only pre-flight reads: {per_service:?}"
    );

    let mut group = c.benchmark_group("plan");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("no-change plan of dev against moto (process)", |b| {
        b.iter(plan)
    });
    group.finish();
}

criterion_group!(benches, no_change_plan);
criterion_main!(benches);
