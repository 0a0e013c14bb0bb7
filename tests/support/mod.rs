//! Shared test helpers: the project's own files, editable copies of them, the CLI binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The real binary with no environment variable that could change its behaviour.
pub fn strata(root: &Path) -> assert_cmd::Command {
    let mut cmd =
        assert_cmd::Command::cargo_bin("strata").expect("strata binary is built for tests");
    for var in [
        "STRATA_ROOT",
        "NO_COLOR",
        "AWS_ENDPOINT_URL",
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
    ] {
        cmd.env_remove(var);
    }
    cmd.arg("--root").arg(root);
    cmd
}

/// A private copy of the project's environments and stacks that a test may break.
pub struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    pub fn copy_of_project() -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        for sub in ["environments", "stacks", "policies"] {
            copy_dir(&project_root().join(sub), &dir.path().join(sub));
        }
        Fixture { dir }
    }

    /// A private copy of another project in this repository (`examples/notes-service`), symbolic
    /// links resolved.
    pub fn copy_of(relative_root: &str) -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        copy_dir(&project_root().join(relative_root), dir.path());
        Fixture { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// Replaces the one occurrence of `from` in `relative`; panics if it is not there exactly once,
    /// so a fixture edit can never silently do nothing.
    pub fn edit(&self, relative: &str, from: &str, to: &str) -> &Self {
        let path = self.path(relative);
        let text = std::fs::read_to_string(&path).expect("fixture file");
        assert_eq!(
            text.matches(from).count(),
            1,
            "`{from}` must occur once in {relative}"
        );
        std::fs::write(&path, text.replacen(from, to, 1)).expect("write fixture");
        self
    }

    pub fn write(&self, relative: &str, text: &str) -> &Self {
        let path = self.path(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("fixture dir");
        }
        std::fs::write(path, text).expect("write fixture");
        self
    }

    pub fn remove(&self, relative: &str) -> &Self {
        std::fs::remove_file(self.path(relative)).expect("remove fixture file");
        self
    }

    pub fn strata(&self) -> assert_cmd::Command {
        strata(self.root())
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create fixture dir");
    let Ok(entries) = std::fs::read_dir(from) else {
        return;
    };
    for entry in entries.flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy fixture file");
        }
    }
}

/// Installs the pinned Python tools into `.venv` (once; later calls return at once) and
/// returns the venv's bin directory.
pub fn python_tools() -> PathBuf {
    let root = project_root();
    let status = Command::new("bash")
        .arg(root.join("scripts/setup-python-tools.sh"))
        .status()
        .expect("run scripts/setup-python-tools.sh");
    assert!(status.success(), "scripts/setup-python-tools.sh failed");
    root.join(".venv/bin")
}

pub mod align;
pub mod deploy;
pub mod faults;
pub mod moto;
pub mod schema;

use strata::aws::{AwsClients, AwsSettings, RetrySettings, StaticCredentials};

/// Clients for a moto server: explicit endpoint, static test keys, no retries (moto answers
/// unimplemented actions with an HTML 500, which the SDK would otherwise retry).
pub async fn clients(moto: &moto::Moto) -> AwsClients {
    AwsClients::load(&settings(&moto.endpoint_url())).await
}

/// A queue's ARN, by its URL.
pub async fn queue_arn(clients: &AwsClients, url: &str) -> String {
    let arn = aws_sdk_sqs::types::QueueAttributeName::QueueArn;
    let attributes = clients
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(arn.clone())
        .send()
        .await
        .unwrap();
    attributes.attributes().unwrap()[&arn].clone()
}

pub fn settings(endpoint_url: &str) -> AwsSettings {
    AwsSettings {
        endpoint_url: Some(endpoint_url.to_owned()),
        profile: None,
        retry: RetrySettings::Disabled,
        credentials: Some(StaticCredentials {
            access_key_id: "testing".into(),
            secret_access_key: "testing".into(),
        }),
        ..AwsSettings::new(moto::REGION)
    }
}

/// What points the CLI at a moto server: endpoint, test credentials, no retries, no user config.
pub fn moto_env(moto: &moto::Moto) -> Vec<(&'static str, String)> {
    let mut env = endpoint_env(&moto.endpoint_url());
    env.push(("AWS_MAX_ATTEMPTS", "1".into()));
    env
}

/// Endpoint, test credentials and no user config; retries as the CLI configures them by default.
pub fn endpoint_env(endpoint_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint_url.to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_CONFIG_FILE", "/dev/null".into()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".into()),
    ]
}

/// The CLI pointed at a moto server with test credentials and no retries.
pub fn strata_on(root: &Path, moto: &moto::Moto) -> assert_cmd::Command {
    let mut cmd = strata(root);
    cmd.envs(moto_env(moto)).env_remove("AWS_SESSION_TOKEN");
    cmd
}

/// The CLI on a pseudo-terminal (util-linux `script`), pointed at moto, answering `input` to its
/// questions: what a person at a terminal sees and types.
pub fn strata_on_terminal(
    root: &Path,
    moto: &moto::Moto,
    args: &str,
    input: &str,
) -> std::process::Output {
    use std::io::Write;
    let binary = assert_cmd::cargo::cargo_bin("strata");
    let command_line = format!(
        "{} --root {} --no-color {args}",
        binary.display(),
        root.display()
    );
    let mut child = Command::new("script")
        .args([
            "--quiet",
            "--return",
            "--command",
            &command_line,
            "/dev/null",
        ])
        .envs(moto_env(moto))
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("util-linux `script` runs commands on a pseudo-terminal");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(input.as_bytes())
        .expect("answer written");
    child.wait_with_output().expect("script finishes")
}

/// A stack of plain CloudFormation only (no component): a DynamoDB table declared as a raw
/// resource, with the tags and deletion policies the shipped policies require, and an output.
pub const SESSIONS_STACK: &str = r#"# Sessions of the photo app: a table no component covers, declared as plain CloudFormation.
description: "{{project}} {{environment}}: sessions"

resources:
  SessionsTable:
    Type: AWS::DynamoDB::Table
    DeletionPolicy: Retain
    UpdateReplacePolicy: Retain
    Properties:
      TableName: "{{project}}-{{environment}}-sessions"
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - AttributeName: id
          AttributeType: S
      KeySchema:
        - AttributeName: id
          KeyType: HASH
      # application.guard holds raw tables to what the table component renders.
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true }
      SSESpecification: { SSEEnabled: true }
      Tags:
        - { Key: project, Value: "{{project}}" }
        - { Key: environment, Value: "{{environment}}" }
        - { Key: managed-by, Value: strata }

outputs:
  SessionsTableName:
    Description: Name of the sessions table
    Value: { Ref: SessionsTable }
"#;
