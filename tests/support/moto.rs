//! A moto server for tests: a project-local venv with the pinned moto, one server per `Moto` value.
//!
//! Design: every `Moto::start()` gets its own moto server process on its own free port, killed when the value
//! drops. moto keeps all state in one process, so a server shared between concurrently running tests would make
//! every account-wide call (ListExports, DescribeStacks without a name, DescribeImages) race; sharing it safely
//! means a mutex, which serialises the tests anyway. A server starts in about 1-2 s, so isolation is cheap.
//! The server runs under a tiny `sh` watchdog that kills it when the test process's pipe closes, so a test
//! binary that is killed (timeout, SIGKILL, panic=abort) leaks no servers either.
//!
//! The server is the pinned moto run through `tests/support/moto_server.py`, which adds the one CloudFormation
//! resource type moto lacks that the stacks need (`AWS::SecretsManager::Secret`; the script says why).
//!
//! The venv is created and moto installed once per checkout; a lock file serialises concurrent installers
//! (several test binaries start at once under `cargo test`).

#![allow(dead_code)]

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// The moto this project tests against. Bumping it reinstalls on the next run.
pub const MOTO_VERSION: &str = "5.2.5";
pub const ACCOUNT_ID: &str = "111111111111";
pub const REGION: &str = "eu-west-1";

const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
const START_ATTEMPTS: usize = 3;

/// The venv tests use: `$STRATA_TEST_VENV` if set, otherwise `<crate>/.venv`.
pub fn default_venv() -> PathBuf {
    std::env::var_os("STRATA_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv"))
}

pub struct Moto {
    child: Child,
    /// Closing it tells the watchdog to stop the server.
    watchdog: Option<ChildStdin>,
    port: u16,
    log: PathBuf,
}

impl Moto {
    /// Starts a fresh server from the default venv (installing moto there first if needed).
    pub fn start() -> Moto {
        Moto::start_in(&default_venv(), ACCOUNT_ID)
    }

    pub fn start_in(venv: &Path, account_id: &str) -> Moto {
        let python = ensure_moto(venv);
        let mut last_error = String::new();
        for _ in 0..START_ATTEMPTS {
            match Moto::spawn(&python, account_id) {
                Ok(moto) => return moto,
                // Another process may have taken the port between our probe and moto's bind.
                Err(err) => last_error = err,
            }
        }
        panic!("moto server did not start: {last_error}");
    }

    fn spawn(python: &Path, account_id: &str) -> Result<Moto, String> {
        let port = free_port().map_err(|e| format!("no free port: {e}"))?;
        let log =
            std::env::temp_dir().join(format!("strata-moto-{}-{port}.log", std::process::id()));
        let log_file = File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let log_err = log_file.try_clone().map_err(|e| e.to_string())?;
        // The server runs in the background of a shell that exits when the server does (so try_wait sees a
        // failed bind) and kills it when its stdin reaches EOF (our pipe closes on drop or process death).
        // (Background jobs of a non-interactive shell read /dev/null, hence the explicit fd 3.)
        let script = r#"python="$1"; server="$2"; port="$3"
exec 3<&0
"$python" "$server" -H 127.0.0.1 -p "$port" &
pid=$!
( read -r _ignored <&3; kill "$pid" 2>/dev/null ) &
wait "$pid""#;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("moto-watchdog")
            .arg(python)
            .arg(moto_server_script())
            .arg(port.to_string())
            .env("MOTO_ACCOUNT_ID", account_id)
            // moto deletes a stack's resources in Python set order, which hash randomisation
            // varies per process. In some orders it deletes the DB primary before its replica,
            // drops the replica with it, then fails DeleteStack with DBInstanceNotFound (AWS
            // deletes replicas first). A fixed seed makes the emulator behave the same every run.
            .env("PYTHONHASHSEED", "0")
            .env_remove("AWS_ENDPOINT_URL")
            .stdin(Stdio::piped())
            .stdout(log_file)
            .stderr(log_err)
            .spawn()
            .map_err(|e| format!("spawning {}: {e}", python.display()))?;
        let watchdog = child.stdin.take();
        let mut moto = Moto {
            child,
            watchdog,
            port,
            log,
        };
        moto.wait_until_ready()?;
        Ok(moto)
    }

    fn wait_until_ready(&mut self) -> Result<(), String> {
        let started = Instant::now();
        while started.elapsed() < STARTUP_TIMEOUT {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "moto server exited with {status}; log:\n{}",
                    self.log_tail()
                ));
            }
            if let Ok((200, _)) = http(self.port, "GET", "/moto-api/data.json") {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!(
            "moto server not answering after {STARTUP_TIMEOUT:?}; log:\n{}",
            self.log_tail()
        ))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn endpoint_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Forgets every resource (POST /moto-api/reset).
    pub fn reset(&self) {
        match http(self.port, "POST", "/moto-api/reset") {
            Ok((200, _)) => {}
            other => panic!("moto reset failed: {other:?}"),
        }
    }

    fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        // EOF on the watchdog's stdin kills the server; the shell then exits.
        drop(self.watchdog.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                let _ = fs::remove_file(&self.log);
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Returns the venv's `python`, which has moto. The project's venv is set up by the one locked installer,
/// `scripts/setup-python-tools.sh` (moto and cfn-lint, pinned); another venv gets moto alone.
pub fn ensure_moto(venv: &Path) -> PathBuf {
    let moto_server = venv.join("bin").join("moto_server");
    if venv == Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv") {
        run(Command::new("bash")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/setup-python-tools.sh")));
    } else if !moto_server.is_file() {
        run(Command::new("python3").arg("-m").arg("venv").arg(venv));
        run(Command::new(venv.join("bin").join("pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .arg(format!("moto[server]=={MOTO_VERSION}")));
    }
    venv.join("bin").join("python")
}

/// The launcher of the moto server (moto's own server with the models it lacks, see the script).
pub fn moto_server_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/moto_server.py")
}

fn run(command: &mut Command) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("running {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed with {}:\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// A minimal HTTP/1.1 request to the server (no client dependency for two calls).
fn http(port: u16, method: &str, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream =
        TcpStream::connect_timeout(&(Ipv4Addr::LOCALHOST, port).into(), Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    Ok((status, response))
}
