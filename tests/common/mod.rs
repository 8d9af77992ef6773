//! Running the real executable from tests.

#![allow(dead_code)]

pub mod disk;
pub mod events;
pub mod fixture;
pub mod harness;
pub mod hook;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What one run of `drumbeat` printed and how it exited.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The project's root folder.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A `drumbeat` command with the tests' fixed environment: no colour, UTC as the machine's
/// zone (the engine must not depend on it), no inherited secrets. libfaketime's variables go
/// through, so the whole suite can be run as if on another date:
/// `FAKETIME='+3y' LD_PRELOAD=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 target/debug/deps/lib-*`.
pub fn command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_drumbeat"));
    clean(&mut cmd);
    cmd
}

/// The environment of [`command`], for a command that runs `drumbeat` through another.
pub fn clean(cmd: &mut Command) {
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TZ", "UTC")
        .env("NO_COLOR", "1");
    for (k, v) in std::env::vars_os() {
        let k_str = k.to_string_lossy();
        if k_str == "LD_PRELOAD" || k_str.starts_with("FAKETIME") {
            cmd.env(k, v);
        }
    }
}

/// Runs `drumbeat` with `args` in the project root, with a fixed environment: no colour,
/// UTC as the machine's zone (the engine must not depend on it), no inherited secrets.
pub fn drumbeat<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    drumbeat_in(&root(), args)
}

pub fn drumbeat_in<I, S>(dir: &Path, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = command()
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("drumbeat runs");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

/// Runs `drumbeat` with `args` in the project root, as [`drumbeat`] does, with standard
/// output on a full disk (`/dev/full`: every write fails with ENOSPC). Only stderr is kept.
pub fn drumbeat_to_full_disk(args: &[&str]) -> Output {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full (Linux)");
    let out = command()
        .args(args)
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(full)
        .output()
        .expect("drumbeat runs");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::new(),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

/// A `drumbeat` process left running (the daemon), with its output collected in files.
pub struct Running {
    pub child: std::process::Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

/// Starts `drumbeat` with `args` in `dir` and the same fixed environment as [`drumbeat`],
/// plus `env`.
pub fn spawn_in<I, S>(dir: &Path, args: I, env: &[(&str, &str)]) -> Running
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let stamp = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    let stdout = dir.join(format!(".drumbeat-{stamp}.out"));
    let stderr = dir.join(format!(".drumbeat-{stamp}.err"));
    let mut cmd = command();
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).expect("stdout file"))
        .stderr(std::fs::File::create(&stderr).expect("stderr file"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("drumbeat starts");
    Running {
        child,
        stdout,
        stderr,
    }
}

impl Running {
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits (up to a generous real-time limit) until `check` holds; panics with the
    /// daemon's output otherwise.
    pub fn wait_for(&mut self, what: &str, mut check: impl FnMut(&Running) -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::time::Instant::now() < deadline {
            if check(self) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                if check(self) {
                    return;
                }
                panic!(
                    "drumbeat exited ({status}) before {what}\nstdout:\n{}\nstderr:\n{}",
                    self.stdout(),
                    self.stderr()
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!(
            "timed out waiting for {what}\nstdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
    }

    /// Sends a signal (`TERM`, `HUP`, `KILL`).
    pub fn signal(&self, name: &str) {
        let signal = match name {
            "TERM" => libc::SIGTERM,
            "HUP" => libc::SIGHUP,
            "KILL" => libc::SIGKILL,
            "INT" => libc::SIGINT,
            other => panic!("no signal {other}"),
        };
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid fits");
        // SAFETY: kill(2) with a child's pid and a valid signal number touches no memory.
        let done = unsafe { libc::kill(pid, signal) };
        assert_eq!(done, 0, "kill -{name} failed");
    }

    /// Stops it with SIGTERM and answers its exit code.
    pub fn stop(mut self) -> (i32, String, String) {
        self.signal("TERM");
        let status = self.child.wait().expect("drumbeat exits");
        (status.code().unwrap_or(-1), self.stdout(), self.stderr())
    }

    /// Waits for it to exit by itself.
    pub fn finish(mut self) -> (i32, String, String) {
        let status = self.child.wait().expect("drumbeat exits");
        (status.code().unwrap_or(-1), self.stdout(), self.stderr())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.stdout);
        let _ = std::fs::remove_file(&self.stderr);
    }
}

/// The tea club's playbook written into `dir`, with its `chatty` badge's condition made to
/// fail for every member's values (it validates: `//` by zero fails only when evaluated).
pub fn tea_club_with_a_failing_badge(dir: &Path) -> PathBuf {
    let text =
        std::fs::read_to_string(root().join("tests/fixtures/members/tea-club.yaml")).unwrap();
    let broken = text.replace(
        r#"when: "stats.messages_7d >= 3""#,
        r#"when: "stats.messages_7d // 0 >= 3""#,
    );
    assert_ne!(text, broken, "the fixture has the chatty badge");
    let path = dir.join("tea-club.yaml");
    std::fs::write(&path, broken).unwrap();
    path
}
