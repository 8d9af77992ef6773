//! `exec`: runs a program for each message, the plug-in route for any other platform.
//!
//! The program gets the message as one JSON object on standard input (`key`, `source`, `at`,
//! `community` {`id`, `name`}, `message`) followed by a newline. Exit status 0 means sent,
//! 75 (EX_TEMPFAIL) means try again later, anything else means refused for good. A program
//! still running after the timeout is killed and the message retried.
//!
//! The program starts with a clean environment: [`PASSED_THROUGH`] and the variables its own
//! `command` names with `${NAME}`, nothing else. The daemon's environment holds every
//! channel's secrets and the events token; a plug-in gets only what its channel declares.

use super::env::Resolver;
use super::{Answer, Channel, Outgoing, Secret, SendFuture, SendOutcome};
use crate::playbook::model::EnvString;
use std::fmt;
use std::io::ErrorKind;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// The exit status that asks for a retry (EX_TEMPFAIL in sysexits.h).
pub const EXIT_RETRY: i32 = 75;

/// What any program needs to find programs, write temporary files and read text and times
/// as the machine does; none of it is secret. Passed on when the engine has it.
pub const PASSED_THROUGH: &[&str] = &["PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR"];

/// One word of the command: shown as written, or hidden when it came from the environment.
#[derive(Clone)]
enum Word {
    Plain(String),
    Secret(Secret),
}

impl Word {
    fn value(&self) -> &str {
        match self {
            Word::Plain(s) => s,
            Word::Secret(s) => s.expose(),
        }
    }
}

impl fmt::Debug for Word {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Word::Plain(s) => write!(f, "{s:?}"),
            Word::Secret(_) => f.write_str("***"),
        }
    }
}

#[derive(Debug)]
pub(crate) struct Exec {
    command: Vec<Word>,
    /// The program's whole environment.
    env: Vec<(String, Word)>,
    timeout: Duration,
    secrets: Vec<Secret>,
}

impl Exec {
    pub fn build(cx: &mut Resolver<'_>, command: &[EnvString], timeout: Duration) -> Option<Exec> {
        let mut words = Vec::new();
        for (i, w) in command.iter().enumerate() {
            let field = format!("command[{i}]");
            let word = if w.raw.value.contains("${") {
                cx.secret(&field, w).map(Word::Secret)
            } else {
                cx.plain(&field, w).map(Word::Plain)
            };
            words.extend(word);
        }
        if cx.failed() {
            return None;
        }
        if words.is_empty() {
            return None;
        }
        let mut secrets = cx.secrets();
        let mut env: Vec<(String, Word)> = Vec::new();
        for name in PASSED_THROUGH {
            if let Some(v) = cx.variable(name) {
                env.push((name.to_string(), Word::Plain(v)));
            }
        }
        for name in command.iter().flat_map(|w| super::env::names(&w.raw.value)) {
            if let Some(v) = cx.variable(name) {
                let v = Secret::new(v);
                // A word may hold more than the variable (`--token=${T}`): the value alone is
                // secret too.
                secrets.push(v.clone());
                env.retain(|(k, _)| k != name);
                env.push((name.to_string(), Word::Secret(v)));
            }
        }
        Some(Exec {
            command: words,
            env,
            timeout,
            secrets,
        })
    }

    fn program(&self) -> String {
        format!("{:?}", self.command[0])
    }

    async fn run(&self, msg: &Outgoing) -> SendOutcome {
        let mut input = serde_json::to_vec(&msg.record()).expect("a JSON value serializes");
        input.push(b'\n');
        let mut cmd = tokio::process::Command::new(self.command[0].value());
        cmd.args(self.command[1..].iter().map(Word::value))
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v.value())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                let reason = format!("cannot run {}: {e}", self.program());
                return match e.kind() {
                    ErrorKind::NotFound | ErrorKind::PermissionDenied => {
                        SendOutcome::permanent(reason)
                    }
                    _ => SendOutcome::retry(reason),
                };
            }
        };
        // Written alongside the wait, so a program that talks before it reads cannot block
        // us; a program that never reads its input is fine too (the write just fails).
        if let Some(mut stdin) = child.stdin.take() {
            tokio::spawn(async move {
                let _ = stdin.write_all(&input).await;
                let _ = stdin.shutdown().await;
            });
        }
        let output = match tokio::time::timeout(self.timeout, child.wait_with_output()).await {
            Ok(Ok(o)) => o,
            Ok(Err(e)) => {
                return SendOutcome::retry(format!("lost track of {}: {e}", self.program()));
            }
            // Dropping the child kills it.
            Err(_) => {
                return SendOutcome::retry(format!(
                    "{} did not finish within {} s and was stopped",
                    self.program(),
                    self.timeout.as_secs_f64()
                ));
            }
        };
        let said = |b: &[u8]| {
            let t = String::from_utf8_lossy(b).trim().to_string();
            (!t.is_empty()).then(|| t.chars().take(300).collect::<String>())
        };
        let message = said(&output.stderr).or_else(|| said(&output.stdout));
        let code = output.status.code();
        let answer = Answer {
            status: None,
            code: code.map(i64::from),
            message,
            accepted: None,
        };
        match code {
            Some(0) => SendOutcome::Sent { answer, parts: 1 },
            Some(EXIT_RETRY) => SendOutcome::retry(format!(
                "{} exited with {EXIT_RETRY}: try again later",
                self.program()
            ))
            .with_answer(answer),
            Some(c) => SendOutcome::permanent(format!("{} exited with {c}", self.program()))
                .with_answer(answer),
            None => SendOutcome::permanent(format!("{} was killed by a signal", self.program()))
                .with_answer(answer),
        }
    }
}

impl Channel for Exec {
    fn kind(&self) -> &'static str {
        "exec"
    }

    fn send<'a>(&'a self, msg: &'a Outgoing) -> SendFuture<'a> {
        Box::pin(async move { self.run(msg).await.scrubbed(&self.secrets) })
    }
}
