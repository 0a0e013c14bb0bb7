//! strata converges through a network that loses answers and a service that throttles: the CLI, with the SDK's
//! standard retries, talks to moto through the fault-injecting proxy (tests/support/faults.rs). Seeded, so a
//! failure reproduces; each call is faulted at most twice in a row, so the SDK's five attempts get through and
//! what is tested is whether the calls that got through twice (a lost answer is a call that happened) leave
//! strata converged: one apply, then a plan with no changes.
//!
//! moto ignores `ClientRequestToken` (MOTO_NOTES §8), so these runs test the recovery that does not depend on
//! the service honouring tokens; the token path itself is unit-tested on the in-memory CloudFormation
//! (src/apply/tests.rs).

mod support;

use std::process::Output;

use support::Fixture;
use support::faults::{Fault, FaultProxy, Faults};
use support::moto::Moto;

/// 15% of requests faulted, as in the measurement that filed the issue.
const SHARE: f64 = 0.15;
const SEED: u64 = 13;

fn strata_through(proxy: &FaultProxy, fixture: &Fixture, args: &[&str]) -> Output {
    support::strata(fixture.root())
        .envs(support::endpoint_env(&proxy.endpoint_url()))
        // The CLI's own retry configuration (standard mode, 5 attempts), not the tests' usual single attempt.
        .env_remove("AWS_MAX_ATTEMPTS")
        .env_remove("AWS_RETRY_MODE")
        .env_remove("AWS_SESSION_TOKEN")
        .args(args)
        .output()
        .expect("strata runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_code(output: &Output, code: i32, what: &str) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "{what}\nstdout:\n{}\nstderr:\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
}

fn assert_converged(proxy: &FaultProxy, fixture: &Fixture) {
    let plan = strata_through(
        proxy,
        fixture,
        &["plan", "--env", "dev", "--detailed-exitcode"],
    );
    assert_code(&plan, 0, "the plan after one apply has no changes");
    assert!(
        text(&plan.stdout).contains("No changes."),
        "{}",
        text(&plan.stdout)
    );
}

#[test]
fn one_apply_converges_when_answers_are_lost_after_the_call_took_effect() {
    let moto = Moto::start();
    let fixture = Fixture::copy_of_project();
    let proxy = FaultProxy::start(
        moto.port(),
        Faults {
            // Whatever the seed draws, every mutating call has its first answer lost at least once.
            lose_first_answer_of: vec![
                "CreateStack",
                "CreateChangeSet",
                "ExecuteChangeSet",
                "DeleteChangeSet",
                "DeleteStack",
            ],
            ..Faults::losing_answers(SEED, SHARE)
        },
    );

    let created = strata_through(&proxy, &fixture, &["apply", "--env", "dev", "--yes"]);
    assert_code(&created, 0, "one apply creates everything");
    assert!(
        proxy.lost_answers_of("CreateStack") > 0,
        "{:?}",
        proxy.seen()
    );
    assert_converged(&proxy, &fixture);
    assert!(proxy.lost_answers_of("CreateChangeSet") > 0);
    assert!(proxy.lost_answers_of("DeleteChangeSet") > 0);

    fixture.edit(
        "environments/dev.yaml",
        "visibility_timeout_seconds: 30",
        "visibility_timeout_seconds: 45",
    );
    let updated = strata_through(&proxy, &fixture, &["apply", "--env", "dev", "--yes"]);
    assert_code(&updated, 0, "one apply updates");
    assert!(
        text(&updated.stdout).contains("1 updated"),
        "{}",
        text(&updated.stdout)
    );
    assert!(proxy.lost_answers_of("ExecuteChangeSet") > 0);
    assert_converged(&proxy, &fixture);

    let counts = proxy.counts();
    let lost = counts.get(&Some(Fault::LostAnswer)).copied().unwrap_or(0);
    let total: usize = counts.values().sum();
    assert!(
        lost * 100 >= total * 10,
        "about {SHARE} of the answers are lost: {counts:?}"
    );
}

#[test]
fn one_apply_converges_when_the_service_throttles() {
    let moto = Moto::start();
    let fixture = Fixture::copy_of_project();
    let proxy = FaultProxy::start(moto.port(), Faults::throttling(SEED, SHARE));
    let created = strata_through(&proxy, &fixture, &["apply", "--env", "dev", "--yes"]);
    assert_code(&created, 0, "one apply creates everything");
    assert_converged(&proxy, &fixture);
    let throttled = proxy
        .seen()
        .iter()
        .filter(|s| s.fault == Some(Fault::Throttled))
        .count();
    assert!(throttled >= 3, "{:?}", proxy.counts());
}

/// Ctrl-C in the middle of a destroy: strata stops, says which delete CloudFormation goes on with and how to
/// resume; the next destroy finishes the job. (Every answer is slowed down so the signal lands mid-way.)
#[test]
fn an_interrupted_destroy_says_what_keeps_running_and_the_next_one_finishes() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let moto = Moto::start();
    let fixture = Fixture::copy_of_project();
    support::deploy::apply(fixture.root(), "dev", &moto);
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        support::deploy::delete_what_moto_cannot(&support::clients(&moto).await).await
    });
    let proxy = FaultProxy::start(
        moto.port(),
        Faults {
            answer_delay: std::time::Duration::from_millis(300),
            ..Faults::none()
        },
    );
    let mut destroy = Command::new(assert_cmd::cargo::cargo_bin("strata"))
        .arg("--root")
        .arg(fixture.root())
        .args(["destroy", "--env", "dev", "--yes"])
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .envs(support::endpoint_env(&proxy.endpoint_url()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("strata starts");
    let mut progress = BufReader::new(destroy.stderr.take().expect("stderr is piped"));
    let mut seen = String::new();
    while !seen.contains("photofeed-dev-storage  deleting") {
        let mut line = String::new();
        assert!(
            progress.read_line(&mut line).expect("progress") > 0,
            "destroy ended before deleting storage:\n{seen}"
        );
        seen.push_str(&line);
    }
    let interrupted = Command::new("kill")
        .args(["-INT", &destroy.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(interrupted.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut progress, &mut rest).unwrap();
    let status = destroy.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{seen}{rest}");
    assert!(
        rest.contains(
            "interrupted: deleting photofeed-dev-storage keeps running in CloudFormation (stopping strata does not stop it). Run `strata destroy --env dev` again"
        ),
        "{seen}{rest}"
    );

    let finished = support::strata_on(fixture.root(), &moto)
        .args(["destroy", "--env", "dev", "--yes"])
        .output()
        .unwrap();
    assert_code(&finished, 0, "the next destroy finishes");
    assert!(text(&finished.stdout).contains("Destroyed environment dev"));
    let nothing = support::strata_on(fixture.root(), &moto)
        .args(["destroy", "--env", "dev", "--yes"])
        .output()
        .unwrap();
    assert!(
        text(&nothing.stdout).contains("Nothing to destroy"),
        "{}",
        text(&nothing.stdout)
    );
}
