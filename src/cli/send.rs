//! `drumbeat send PLAYBOOK --channel NAME [--template T]`

use crate::channel::{self, Options, Outgoing, SendOutcome};
use crate::cli::CliError;
use crate::cli::common::{load_one, time_option, usage};
use std::path::PathBuf;

/// Send one message now through a real channel and print the platform's answer.
///
/// Use it to check a webhook address, secret or token in seconds before going live. The
/// channel's `${NAME}` fields are read from the environment; a missing one is named. With
/// --template the message is that template rendered as `render` would (sample values where
/// no member is given); without it, a short test message naming the community and channel.
///
/// Exit status: 0 when the platform accepted the message, 1 when it did not (the answer and
/// whether a retry could help are printed), 2 for unusable input or a channel that cannot be
/// built (a missing environment variable, a bad address).
///
/// Example: WECOM_WEBHOOK=https://... drumbeat send playbooks/fitness-camp.yaml --channel group
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The playbook file.
    pub playbook: PathBuf,
    /// The channel to send through, as named under `channels:`.
    #[arg(long)]
    pub channel: String,
    /// The template to send (default: a short test message).
    #[arg(long)]
    pub template: Option<String>,
    /// The time the message is rendered for (default: now).
    #[arg(long)]
    pub at: Option<String>,
    /// A JSON file with the member, as for `render`.
    #[arg(long)]
    pub member: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let program = load_one(&args.playbook, "sent")?;
    let p = program.playbook();
    let at = time_option("--at", args.at.as_deref(), p.community.timezone)?;
    let text = match &args.template {
        Some(t) => super::render::message(&program, t, at, None, args.member.as_deref())?,
        None => format!(
            "【drumbeat】测试消息:「{}」的通道 {} 已连通。",
            p.community.name, args.channel
        ),
    };
    let options =
        Options::new().map_err(|e| usage(&format!("cannot start the HTTP client: {e}")))?;
    let env = |name: &str| std::env::var(name).ok();
    let ch = channel::build(p, &args.channel, &env, &options).map_err(CliError::Channels)?;
    let community = p.community.id.value.as_str();
    let msg = Outgoing {
        text,
        // Unique per send, so a receiver that drops repeated keys still takes the second
        // test sent in the same second (or for the same --at).
        key: format!(
            "{community}/send/{}/{}-{}",
            args.channel,
            at.format("%Y%m%dT%H%M%SZ"),
            nonce()
        ),
        source: "send".into(),
        at,
        community_id: community.to_string(),
        community_name: p.community.name.clone(),
        parts_sent: 0,
        gate: None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| usage(&format!("cannot start: {e}")))?;
    let outcome = runtime.block_on(ch.send(&msg));
    let answer = outcome
        .answer()
        .map(|a| a.to_string())
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| "no answer".to_string());
    match outcome {
        SendOutcome::Sent { parts, .. } => {
            let parts = if parts > 1 {
                format!(" in {parts} parts")
            } else {
                String::new()
            };
            crate::cli::common::emit(&format!(
                "sent through `{}`{parts} ({answer})\n",
                args.channel
            ))
        }
        SendOutcome::Retry { reason, after, .. } => {
            let after = after.map_or(String::new(), |d| {
                format!(" (the platform asks to wait {} s)", d.as_secs())
            });
            Err(CliError::NotSent {
                verdict: format!("a later retry could succeed{after}"),
                reason,
                answer,
            })
        }
        SendOutcome::Permanent { reason, .. } => Err(CliError::NotSent {
            verdict: "refused".into(),
            reason,
            answer,
        }),
    }
}

/// Eight hex digits nobody can predict: the process's random hasher keys, its id and the
/// time.
fn nonce() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    format!("{:08x}", h.finish() as u32)
}
