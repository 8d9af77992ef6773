//! Specs for `send`: one message now through a real channel.

use std::path::Path;

const PLAYBOOK: &str = r#"version: 1
community: { id: snd, name: 晨读会, kind: service, timezone: Asia/Shanghai }
channels:
  out: { type: file, path: "${OUT_FILE}" }
  closed: { type: slack, webhook: "http://127.0.0.1:9/hook" }
default_channel: out
content:
  slots:
    - { id: morning, at: "07:00", template: morning }
templates:
  morning: "早上好,{{ community.name }}!"
"#;

/// Runs `drumbeat send` on the playbook above with only `env` in the environment.
fn send(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let playbook = dir.join("p.yaml");
    std::fs::write(&playbook, PLAYBOOK).unwrap();
    let out = crate::common::command()
        .arg("send")
        .arg(&playbook)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("drumbeat runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn a_template_is_rendered_and_delivered_through_the_channel() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("out.jsonl");
    let (code, stdout, stderr) = send(
        tmp.path(),
        &[
            "--channel",
            "out",
            "--template",
            "morning",
            "--at",
            "2027-01-04T07:00",
        ],
        &[("OUT_FILE", file.to_str().unwrap())],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "sent through `out` (no answer)\n");
    let line: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&file).unwrap().trim()).unwrap();
    assert_eq!(line["message"], "早上好,晨读会!");
    assert_eq!(line["at"], "2027-01-03T23:00:00Z");
    let key = line["key"].as_str().unwrap();
    assert!(
        key.starts_with("snd/send/out/20270103T230000Z-") && key.len() == 38,
        "{key}"
    );
}

/// Two tests sent for the same instant carry two keys: a receiver that drops repeated
/// idempotency keys takes both.
#[test]
fn each_test_message_has_a_key_of_its_own() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("out.jsonl");
    let args = ["--channel", "out", "--at", "2027-01-04T07:00"];
    let env = [("OUT_FILE", file.to_str().unwrap())];
    for _ in 0..3 {
        let (code, _, stderr) = send(tmp.path(), &args, &env);
        assert_eq!(code, 0, "{stderr}");
    }
    let keys: std::collections::HashSet<String> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["key"].to_string())
        .collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
}

#[test]
fn a_missing_environment_variable_is_named_and_nothing_is_sent() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = send(tmp.path(), &["--channel", "out"], &[]);
    assert_eq!(code, 2);
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        "error: channel `out`: environment variable `OUT_FILE` is not set (it is read for `path`)\n"
    );
}

#[test]
fn an_unreachable_platform_is_reported_as_worth_a_retry() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = send(tmp.path(), &["--channel", "closed"], &[]);
    assert_eq!(code, 1);
    assert_eq!(stdout, "");
    assert!(
        stderr.starts_with("not sent, a later retry could succeed"),
        "{stderr}"
    );
    assert!(stderr.contains("refused"), "{stderr}");
}

/// An `exec` program gets a clean environment: the basics a program needs and the variables
/// its own channel names, never the daemon's other secrets.
#[test]
fn an_exec_program_sees_only_what_its_channel_names() {
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("plugin.sh");
    std::fs::write(&script, "env > \"$1\"\n").unwrap();
    let seen = tmp.path().join("env.txt");
    let playbook = tmp.path().join("p.yaml");
    std::fs::write(
        &playbook,
        r#"version: 1
community: { id: plug, name: 插件群, kind: service, timezone: Asia/Shanghai }
channels:
  plug: { type: exec, command: [sh, "${PLUGIN_SCRIPT}", "${PLUGIN_OUT}"] }
  other: { type: slack, webhook: "${OTHER_WEBHOOK}" }
default_channel: plug
content:
  slots:
    - { id: morning, at: "07:00", template: morning }
templates:
  morning: 早上好
"#,
    )
    .unwrap();
    let out = crate::common::command()
        .arg("send")
        .arg(&playbook)
        .args(["--channel", "plug"])
        .env("PLUGIN_SCRIPT", &script)
        .env("PLUGIN_OUT", &seen)
        .env(
            "OTHER_WEBHOOK",
            "http://127.0.0.1:9/other-channel-hook-secret",
        )
        .env("DRUMBEAT_EVENTS_TOKEN", "events-token-secret")
        .env("DRUMBEAT_EVENTS_SECRET", "events-signing-secret")
        .env("LANG", "C.UTF-8")
        .output()
        .expect("drumbeat runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let env = std::fs::read_to_string(&seen).unwrap();
    let names: Vec<&str> = env
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, _)| k)
        .collect();
    for hidden in [
        "DRUMBEAT_EVENTS_TOKEN",
        "DRUMBEAT_EVENTS_SECRET",
        "OTHER_WEBHOOK",
        "NO_COLOR",
    ] {
        assert!(
            !names.contains(&hidden),
            "the program sees {hidden}:\n{env}"
        );
    }
    assert!(!env.contains("secret"), "{env}");
    for given in ["PATH", "TZ", "LANG", "PLUGIN_SCRIPT", "PLUGIN_OUT"] {
        assert!(names.contains(&given), "the program lacks {given}:\n{env}");
    }
    assert!(
        env.contains(&format!("PLUGIN_OUT={}", seen.display())),
        "{env}"
    );
}
