//! Delivery channels against a real HTTP server on loopback: the exact request each platform
//! gets, how every kind of answer is classified, splitting, signatures, environment
//! resolution and secrets; the file, exec and console channels on a temporary folder.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use base64::Engine as _;
use chrono::{DateTime, TimeZone, Utc};
use drumbeat::channel::{
    self, Answer, BuildError, Channel, ConsoleSink, Http, HttpConfig, Limit, Options, Outgoing,
    Problem, SendOutcome, Unit,
};
use drumbeat::playbook::load::{Loaded, load_bytes};
use drumbeat::playbook::model::Playbook;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

// ---------------------------------------------------------------------------------------
// A recording HTTP server on 127.0.0.1, port 0.

#[derive(Clone)]
struct Canned {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
    delay: Duration,
}

fn reply(status: u16, body: &str) -> Canned {
    Canned {
        status,
        headers: Vec::new(),
        body: body.to_string(),
        delay: Duration::ZERO,
    }
}

impl Canned {
    fn header(mut self, k: &'static str, v: &str) -> Canned {
        self.headers.push((k, v.to_string()));
        self
    }

    fn after(mut self, d: Duration) -> Canned {
        self.delay = d;
        self
    }
}

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Seen {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    fn query_pairs(&self) -> HashMap<String, String> {
        let q = self.query.clone().unwrap_or_default();
        reqwest::Url::parse(&format!("http://x/?{q}"))
            .unwrap()
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }
}

#[derive(Clone)]
struct Shared {
    seen: Arc<Mutex<Vec<Seen>>>,
    replies: Arc<Mutex<VecDeque<Canned>>>,
    default: Canned,
}

struct Server {
    base: String,
    shared: Shared,
}

impl Server {
    async fn start(default: Canned) -> Server {
        let shared = Shared {
            seen: Arc::default(),
            replies: Arc::default(),
            default,
        };
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Server {
            base: format!("http://{addr}"),
            shared,
        }
    }

    fn then(&self, c: Canned) {
        self.shared.replies.lock().unwrap().push_back(c);
    }

    fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    fn only(&self) -> Seen {
        let seen = self.seen();
        assert_eq!(seen.len(), 1, "exactly one request");
        seen[0].clone()
    }
}

async fn handle(State(st): State<Shared>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    st.seen.lock().unwrap().push(Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts.headers.clone(),
        body: body.to_vec(),
    });
    let c = st
        .replies
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or_else(|| st.default.clone());
    if !c.delay.is_zero() {
        tokio::time::sleep(c.delay).await;
    }
    let mut b = Response::builder().status(c.status);
    for (k, v) in &c.headers {
        b = b.header(*k, v);
    }
    b.body(Body::from(c.body)).unwrap()
}

/// A loopback port nothing listens on.
async fn closed_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    port
}

// ---------------------------------------------------------------------------------------
// Playbooks, environments, options.

/// 2026-12-01 08:00:00 UTC: 1796112000 s.
fn fixed_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap()
}

fn playbook(channels: &str) -> Playbook {
    let text = format!(
        "version: 1\n\
         community: {{ id: fit-camp, name: 21天减脂打卡营, kind: service, timezone: Asia/Shanghai, locale: zh-CN }}\n\
         channels:\n{channels}"
    );
    let mut loaded = Loaded::default();
    load_bytes(&mut loaded, Path::new("case.yaml"), text.into_bytes());
    assert!(
        !loaded.diagnostics.has_errors(),
        "the test playbook loads: {:?}",
        loaded.diagnostics
    );
    loaded.playbooks.pop().expect("one playbook")
}

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

fn options(timeout: Duration) -> Options {
    Options {
        http: Http::new(&HttpConfig {
            timeout,
            connect_timeout: timeout,
            proxy_from_env: false,
        })
        .unwrap(),
        clock: Arc::new(fixed_now),
        console: ConsoleSink::to(std::io::sink()),
        exec_timeout: Duration::from_millis(500),
    }
}

fn build(p: &Playbook, id: &str, env: &[(&str, &str)]) -> Arc<dyn Channel> {
    channel::build(p, id, &env_of(env), &options(Duration::from_secs(5))).unwrap_or_else(|e| {
        panic!(
            "channel builds: {:?}",
            e.iter().map(ToString::to_string).collect::<Vec<_>>()
        )
    })
}

fn message(text: &str) -> Outgoing {
    Outgoing {
        text: text.to_string(),
        key: "fit-camp/content/morning/2026-12-01T07:30:00Z/group".to_string(),
        source: "content/morning".to_string(),
        at: Utc.with_ymd_and_hms(2026, 11, 30, 23, 30, 0).unwrap(),
        community_id: "fit-camp".to_string(),
        community_name: "21天减脂打卡营".to_string(),
        parts_sent: 0,
        gate: None,
    }
}

fn sent(o: &SendOutcome) -> &Answer {
    match o {
        SendOutcome::Sent { answer, .. } => answer,
        other => panic!("expected Sent, got {other:?}"),
    }
}

fn retry(o: &SendOutcome) -> (Option<Duration>, &str) {
    match o {
        SendOutcome::Retry { after, reason, .. } => (*after, reason.as_str()),
        other => panic!("expected Retry, got {other:?}"),
    }
}

fn permanent(o: &SendOutcome) -> &str {
    match o {
        SendOutcome::Permanent { reason, .. } => reason,
        other => panic!("expected Permanent, got {other:?}"),
    }
}

const KEY: &str = "fit-camp/content/morning/2026-12-01T07:30:00Z/group";

// ---------------------------------------------------------------------------------------
// The exact request of each platform.

#[tokio::test]
async fn wecom_sends_a_text_message_to_the_robot_address() {
    let s = Server::start(reply(200, r#"{"errcode":0,"errmsg":"ok"}"#)).await;
    let p = playbook("  group: { type: wecom, webhook: \"${WECOM_WEBHOOK}\" }\n");
    let url = format!("{}/cgi-bin/webhook/send?key=0a1b2c3d-wecom-key", s.base);
    let ch = build(&p, "group", &[("WECOM_WEBHOOK", &url)]);
    let out = ch.send(&message("早上好,今天也要打卡!")).await;

    let a = sent(&out);
    assert_eq!(
        (a.status, a.code, a.message.as_deref()),
        (Some(200), Some(0), Some("ok"))
    );
    let r = s.only();
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/cgi-bin/webhook/send");
    assert_eq!(r.query.as_deref(), Some("key=0a1b2c3d-wecom-key"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("idempotency-key"), Some(KEY));
    assert_eq!(
        r.json(),
        json!({ "msgtype": "text", "text": { "content": "早上好,今天也要打卡!" } })
    );
}

#[tokio::test]
async fn wecom_markdown_uses_the_markdown_type() {
    let s = Server::start(reply(200, r#"{"errcode":0,"errmsg":"ok"}"#)).await;
    let p = playbook("  group: { type: wecom, webhook: \"${W}\", format: markdown }\n");
    let ch = build(&p, "group", &[("W", &format!("{}/send?key=k", s.base))]);
    sent(&ch.send(&message("**打卡**")).await);
    assert_eq!(
        s.only().json(),
        json!({ "msgtype": "markdown", "markdown": { "content": "**打卡**" } })
    );
    assert_eq!(ch.limit(), Some(Limit::new(4096, Unit::Bytes)));
}

/// HMAC-SHA256, Base64, computed here without the library's code.
fn hmac_b64(key: &[u8], msg: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(msg);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[tokio::test]
async fn dingtalk_signs_with_a_millisecond_timestamp_in_the_query() {
    let s = Server::start(reply(200, r#"{"errcode":0,"errmsg":"ok"}"#)).await;
    let p = playbook(
        "  admins: { type: dingtalk, webhook: \"${DINGTALK_WEBHOOK}\", secret: \"${DINGTALK_SECRET}\" }\n",
    );
    let secret = "SEC0123456789abcdef钉";
    let url = format!("{}/robot/send?access_token=ding-access-token-1", s.base);
    let ch = build(
        &p,
        "admins",
        &[("DINGTALK_WEBHOOK", &url), ("DINGTALK_SECRET", secret)],
    );
    sent(&ch.send(&message("今日数据:打卡 128 人")).await);

    let r = s.only();
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/robot/send")
    );
    assert_eq!(
        r.header("content-type"),
        Some("application/json;charset=utf-8")
    );
    assert_eq!(r.header("idempotency-key"), Some(KEY));
    let q = r.query_pairs();
    assert_eq!(q["access_token"], "ding-access-token-1");
    assert_eq!(q["timestamp"], "1796112000000");
    // Independently: the reference value (computed with Python's hmac module) and a fresh
    // HMAC over "timestamp\nsecret" keyed with the secret.
    assert_eq!(q["sign"], "uNREQqSqco5++Gb7CpsRbvPBdLCEVYggTPrTNzis/vU=");
    assert_eq!(
        q["sign"],
        hmac_b64(
            secret.as_bytes(),
            format!("1796112000000\n{secret}").as_bytes()
        )
    );
    // URL-encoded as DingTalk's examples do (`+`, `/` and `=` escaped).
    assert!(
        r.query
            .as_deref()
            .unwrap()
            .ends_with("sign=uNREQqSqco5%2B%2BGb7CpsRbvPBdLCEVYggTPrTNzis%2FvU%3D"),
        "{:?}",
        r.query
    );
    assert_eq!(
        r.json(),
        json!({ "msgtype": "text", "text": { "content": "今日数据:打卡 128 人" } })
    );
}

#[tokio::test]
async fn dingtalk_without_a_secret_adds_nothing_and_markdown_has_a_title() {
    let s = Server::start(reply(200, r#"{"errcode":0,"errmsg":"ok"}"#)).await;
    let p = playbook("  admins: { type: dingtalk, webhook: \"${D}\", format: markdown }\n");
    let ch = build(
        &p,
        "admins",
        &[("D", &format!("{}/robot/send?access_token=t", s.base))],
    );
    sent(&ch.send(&message("### 周报\n- 新增 12 人")).await);
    let r = s.only();
    assert_eq!(r.query.as_deref(), Some("access_token=t"));
    assert_eq!(
        r.json(),
        json!({ "msgtype": "markdown", "markdown": { "title": "周报", "text": "### 周报\n- 新增 12 人" } })
    );
}

#[tokio::test]
async fn feishu_signs_with_seconds_in_the_body() {
    let s = Server::start(reply(200, r#"{"code":0,"data":{},"msg":"success"}"#)).await;
    let p = playbook("  team: { type: feishu, webhook: \"${F}\", secret: \"${FS}\" }\n");
    let secret = "fs-secret-飞书";
    let url = format!("{}/open-apis/bot/v2/hook/feishu-hook-id-42", s.base);
    let ch = build(&p, "team", &[("F", &url), ("FS", secret)]);
    let a = ch.send(&message("今晚 8 点直播")).await;
    assert_eq!(sent(&a).message.as_deref(), Some("success"));

    let r = s.only();
    assert_eq!(r.path, "/open-apis/bot/v2/hook/feishu-hook-id-42");
    assert_eq!(r.header("idempotency-key"), Some(KEY));
    let body = r.json();
    assert_eq!(
        body,
        json!({
            "timestamp": "1796112000",
            "sign": "l6TDAJ97EfB9f3XpvBpD//dHMoG5bnI2ItlAFY14BKI=",
            "msg_type": "text",
            "content": { "text": "今晚 8 点直播" },
        })
    );
    // Feishu keys the HMAC with "timestamp\nsecret" and signs nothing.
    assert_eq!(
        body["sign"],
        hmac_b64(format!("1796112000\n{secret}").as_bytes(), b"")
    );
}

#[tokio::test]
async fn slack_discord_and_telegram_send_their_documented_bodies() {
    let s = Server::start(reply(200, "ok")).await;
    let p = playbook(
        "  s: { type: slack, webhook: \"${S}\" }\n  d: { type: discord, webhook: \"${D}\" }\n  t: { type: telegram, token: \"${TG}\", chat_id: \"-1001234567890\", api_base: \"${API}\" }\n  u: { type: telegram, token: \"${TG}\", chat_id: \"@fitcamp\", api_base: \"${API}\" }\n",
    );
    let env = [
        (
            "S",
            format!("{}/services/T000/B000/slack-path-token", s.base),
        ),
        (
            "D",
            format!("{}/api/webhooks/123/discord-token-xyz", s.base),
        ),
        ("TG", "123456:ABC-telegram-token".to_string()),
        ("API", format!("{}/", s.base)),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    sent(&build(&p, "s", &env).send(&message("hello 群友")).await);
    s.then(reply(204, ""));
    sent(&build(&p, "d", &env).send(&message("hello 群友")).await);
    let tg_ok = r#"{"ok":true,"result":{"message_id":7}}"#;
    s.then(reply(200, tg_ok));
    sent(&build(&p, "t", &env).send(&message("hello 群友")).await);
    s.then(reply(200, tg_ok));
    sent(&build(&p, "u", &env).send(&message("hello 群友")).await);

    let seen = s.seen();
    let summary: Vec<(&str, &str, Value)> = seen
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str(), r.json()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "POST",
                "/services/T000/B000/slack-path-token",
                json!({ "text": "hello 群友" })
            ),
            (
                "POST",
                "/api/webhooks/123/discord-token-xyz",
                json!({ "content": "hello 群友" })
            ),
            (
                "POST",
                "/bot123456:ABC-telegram-token/sendMessage",
                json!({ "chat_id": -1001234567890_i64, "text": "hello 群友" })
            ),
            (
                "POST",
                "/bot123456:ABC-telegram-token/sendMessage",
                json!({ "chat_id": "@fitcamp", "text": "hello 群友" })
            ),
        ]
    );
    for r in &seen {
        assert_eq!(r.header("idempotency-key"), Some(KEY));
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
}

#[tokio::test]
async fn webhook_default_body_is_the_message_and_its_fire() {
    let s = Server::start(reply(202, "accepted")).await;
    let p = playbook("  hook: { type: webhook, url: \"${HOOK_URL}\" }\n");
    let ch = build(
        &p,
        "hook",
        &[("HOOK_URL", &format!("{}/in?src=drumbeat", s.base))],
    );
    let out = ch.send(&message("欢迎新朋友")).await;
    let a = sent(&out);
    assert_eq!(
        (a.status, a.message.as_deref()),
        (Some(202), Some("accepted"))
    );

    let r = s.only();
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/in"));
    assert_eq!(r.query.as_deref(), Some("src=drumbeat"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("idempotency-key"), Some(KEY));
    assert_eq!(
        r.json(),
        json!({
            "message": "欢迎新朋友",
            "fire": { "key": KEY, "source": "content/morning", "at": "2026-11-30T23:30:00Z" },
            "community": { "id": "fit-camp", "name": "21天减脂打卡营" },
        })
    );
}

#[tokio::test]
async fn webhook_method_headers_and_body_template_are_the_playbooks() {
    let s = Server::start(reply(200, "")).await;
    let p = playbook(
        "  hook:\n    type: webhook\n    url: \"${HOOK_URL}\"\n    method: PUT\n    headers: { Authorization: \"Bearer ${HOOK_TOKEN}\", Content-Type: text/plain; charset=utf-8 }\n    body: \"{{ community.name }}|{{ fire.source }}|{{ fire.key }}|{{ fire.at }}|{{ message }}\"\n",
    );
    let ch = build(
        &p,
        "hook",
        &[
            ("HOOK_URL", &format!("{}/put/here", s.base)),
            ("HOOK_TOKEN", "hook-bearer-token-9"),
        ],
    );
    sent(&ch.send(&message("第一行\n第二行")).await);
    let r = s.only();
    assert_eq!((r.method.as_str(), r.path.as_str()), ("PUT", "/put/here"));
    assert_eq!(
        r.header("authorization"),
        Some("Bearer hook-bearer-token-9")
    );
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.header("idempotency-key"), Some(KEY));
    assert_eq!(
        String::from_utf8(r.body).unwrap(),
        format!("21天减脂打卡营|content/morning|{KEY}|2026-11-30T23:30:00Z|第一行\n第二行")
    );
    assert!(!format!("{ch:?}").contains("hook-bearer-token-9"));
}

#[tokio::test]
async fn webhook_body_template_that_fails_is_permanent() {
    let s = Server::start(reply(200, "")).await;
    let p =
        playbook("  hook: { type: webhook, url: \"${U}\", body: \"{{ fire.nothing.deeper }}\" }\n");
    let ch = build(&p, "hook", &[("U", &format!("{}/x", s.base))]);
    let reason = permanent(&ch.send(&message("m")).await).to_string();
    assert!(reason.contains("body template"), "{reason}");
    assert!(s.seen().is_empty(), "nothing is sent");
}

/// Member names that would break out of a JSON string if pasted into the body as they are.
const HOSTILE_NAMES: &[&str] = &[
    r##"x", "channel": "#admins", "icon_url": "http://evil/x.png"##,
    "\"",
    "back\\slash\nnew line\ttab \u{7} bell </script>",
];

#[tokio::test]
async fn webhook_json_body_keeps_each_value_inside_its_string() {
    let s = Server::start(reply(200, "")).await;
    // The same text written inside quotes (escaped for us) and with `tojson` (escaped once).
    let p = playbook(
        "  quoted:\n    type: webhook\n    url: \"${U}\"\n    body: '{\"text\": \"{{ message }}\", \"channel\": \"#general\"}'\n  tojson:\n    type: webhook\n    url: \"${U}\"\n    body: '{\"text\": {{ message | tojson }}, \"channel\": \"#general\"}'\n",
    );
    let env = [("U", format!("{}/hook", s.base))];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for id in ["quoted", "tojson"] {
        let ch = build(&p, id, &env);
        for name in HOSTILE_NAMES {
            sent(&ch.send(&message(name)).await);
        }
    }
    let seen = s.seen();
    assert_eq!(seen.len(), 2 * HOSTILE_NAMES.len());
    for (r, name) in seen.iter().zip(HOSTILE_NAMES.iter().cycle()) {
        assert_eq!(r.header("content-type"), Some("application/json"));
        let text = String::from_utf8(r.body.clone()).unwrap();
        let body: serde_json::Map<String, Value> =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        // Exactly two fields (a second `channel` would parse, the last one winning).
        assert_eq!(text.matches("\"channel\"").count(), 1, "{text}");
        assert_eq!(
            Value::Object(body),
            json!({ "text": name, "channel": "#general" })
        );
    }
}

#[tokio::test]
async fn webhook_json_body_that_does_not_parse_once_rendered_is_refused_unsent() {
    let s = Server::start(reply(200, "")).await;
    // `safe` turns the escaping off: the quote breaks the JSON.
    let p = playbook(
        "  hook:\n    type: webhook\n    url: \"${U}\"\n    body: '{\"text\": \"{{ message | safe }}\"}'\n",
    );
    let ch = build(&p, "hook", &[("U", &format!("{}/x", s.base))]);
    let reason = permanent(&ch.send(&message("say \"hi\"")).await).to_string();
    assert!(
        reason.contains("is not valid JSON once rendered"),
        "{reason}"
    );
    assert!(s.seen().is_empty(), "nothing is sent");
}

#[tokio::test]
async fn secrets_echoed_percent_form_or_json_encoded_are_redacted() {
    let s = Server::start(reply(200, "")).await;
    let p = playbook("  hook: { type: webhook, url: \"${U}\", headers: { X-Token: \"${T}\" } }\n");
    let url = format!("{}/hook?key=k3y/with+plus=飞书", s.base);
    let token = "hdr tok/en+Value=";
    // What platforms echo: the query value percent-encoded (either case of hex), the header
    // form-encoded, and both JSON-escaped (`\/`, `\uXXXX`) as PHP and Python write them.
    let echoes = [
        "k3y%2Fwith%2Bplus%3D%E9%A3%9E%E4%B9%A6",
        "k3y%2fwith%2bplus%3d%e9%a3%9e%e4%b9%a6",
        r"k3y\/with+plus=\u98de\u4e66",
        "hdr+tok%2Fen%2BValue%3D",
        r"hdr tok\/en+Value=",
    ];
    s.then(reply(
        400,
        &format!(
            "{{\"error\":\"bad key\",\"echo\":\"{}\"}}",
            echoes.join(" ")
        ),
    ));
    let ch = build(&p, "hook", &[("U", &url), ("T", token)]);
    let out = ch.send(&message("x")).await;
    let shown = format!("{}\n{}", permanent(&out), out.answer().unwrap());
    for e in echoes {
        assert!(!shown.contains(e), "`{e}` is shown: {shown}");
    }
    assert!(shown.contains("bad key"), "the rest is kept: {shown}");
    assert_eq!(shown.matches("***").count(), echoes.len(), "{shown}");
}

// ---------------------------------------------------------------------------------------
// Classification, for every HTTP channel.

/// Every HTTP channel type, with the environment that points it at `base` and the secret
/// pieces that must never show.
/// Environment variables, as owned pairs.
type Env = Vec<(String, String)>;

fn http_channels(base: &str) -> (Playbook, Vec<(&'static str, Env)>) {
    let p = playbook(
        "  wecom: { type: wecom, webhook: \"${URL}\" }\n  dingtalk: { type: dingtalk, webhook: \"${URL}\", secret: \"${SECRET}\" }\n  feishu: { type: feishu, webhook: \"${URL}\", secret: \"${SECRET}\" }\n  slack: { type: slack, webhook: \"${URL}\" }\n  discord: { type: discord, webhook: \"${URL}\" }\n  telegram: { type: telegram, token: \"${TOKEN}\", chat_id: \"42\", api_base: \"${BASE}\" }\n  webhook: { type: webhook, url: \"${URL}\", headers: { X-Token: \"${SECRET}\" } }\n",
    );
    let url = format!("{base}/hook/path-token-0123456789?key=query-key-0123456789");
    let env = |extra: &[(&str, &str)]| {
        let mut v = vec![
            ("URL".to_string(), url.clone()),
            (
                "SECRET".to_string(),
                "signing-secret-0123456789".to_string(),
            ),
            ("BASE".to_string(), base.to_string()),
        ];
        v.extend(extra.iter().map(|(k, x)| (k.to_string(), x.to_string())));
        v
    };
    let all = vec![
        ("wecom", env(&[])),
        ("dingtalk", env(&[])),
        ("feishu", env(&[])),
        ("slack", env(&[])),
        ("discord", env(&[])),
        (
            "telegram",
            env(&[("TOKEN", "999:telegram-token-0123456789")]),
        ),
        ("webhook", env(&[])),
    ];
    (p, all)
}

const SECRET_PIECES: &[&str] = &[
    "path-token-0123456789",
    "query-key-0123456789",
    "signing-secret-0123456789",
    "telegram-token-0123456789",
];

fn assert_no_secret(what: &str, text: &str) {
    for s in SECRET_PIECES {
        assert!(!text.contains(s), "{what} shows a secret: {text}");
    }
}

/// Sends one message through each HTTP channel with `timeout`, the server answering each
/// request with what `canned` gives for that channel type.
async fn each_http_channel(
    base: Option<&Server>,
    timeout: Duration,
    canned: impl Fn(&str) -> Canned,
) -> Vec<(&'static str, SendOutcome)> {
    let addr = match base {
        Some(s) => s.base.clone(),
        None => format!("http://127.0.0.1:{}", closed_port().await),
    };
    let (p, all) = http_channels(&addr);
    let mut out = Vec::new();
    for (id, env) in all {
        if let Some(s) = base {
            s.then(canned(id));
        }
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let ch = channel::build(&p, id, &env_of(&env), &options(timeout)).unwrap();
        assert_no_secret("Debug", &format!("{ch:?}"));
        let o = ch.send(&message("打卡提醒")).await;
        assert_no_secret("the outcome", &format!("{o:?}"));
        if let Some(a) = o.answer() {
            assert_no_secret("the answer", &a.to_string());
        }
        out.push((id, o));
    }
    out
}

#[tokio::test]
async fn http_400_is_permanent_everywhere() {
    let s = Server::start(reply(200, "")).await;
    let outs = each_http_channel(Some(&s), Duration::from_secs(5), |_| {
        reply(400, r#"{"errcode":40035,"code":9499,"ok":false,"error_code":400,"description":"Bad Request: chat not found","message":"Invalid Form Body"}"#)
    })
    .await;
    assert_eq!(outs.len(), 7);
    for (id, o) in &outs {
        let reason = permanent(o);
        assert!(
            reason.contains("400") || reason.contains("refused"),
            "{id}: {reason}"
        );
        assert_eq!(o.answer().and_then(|a| a.status), Some(400), "{id}");
    }
}

#[tokio::test]
async fn http_500_is_retried_everywhere() {
    let s = Server::start(reply(200, "")).await;
    let outs = each_http_channel(Some(&s), Duration::from_secs(5), |_| {
        reply(500, "upstream exploded")
    })
    .await;
    for (id, o) in &outs {
        let (after, reason) = retry(o);
        assert_eq!(after, None, "{id}");
        assert!(reason.contains("500"), "{id}: {reason}");
    }
}

#[tokio::test]
async fn http_429_honours_retry_after_seconds_everywhere() {
    let s = Server::start(reply(200, "")).await;
    let outs = each_http_channel(Some(&s), Duration::from_secs(5), |_| {
        reply(429, "").header("retry-after", "30")
    })
    .await;
    for (id, o) in &outs {
        assert_eq!(retry(o).0, Some(Duration::from_secs(30)), "{id}");
    }
}

#[tokio::test]
async fn http_429_honours_a_retry_after_date() {
    let s = Server::start(reply(200, "")).await;
    // 90 s after the fixed clock.
    let outs = each_http_channel(Some(&s), Duration::from_secs(5), |_| {
        reply(429, "").header("retry-after", "Tue, 01 Dec 2026 08:01:30 GMT")
    })
    .await;
    for (id, o) in &outs {
        assert_eq!(retry(o).0, Some(Duration::from_secs(90)), "{id}");
    }
}

#[tokio::test]
async fn a_refused_connection_is_retried_everywhere() {
    let outs = each_http_channel(None, Duration::from_secs(5), |_| reply(200, "")).await;
    assert_eq!(outs.len(), 7);
    for (id, o) in &outs {
        let (after, reason) = retry(o);
        assert_eq!(after, None, "{id}");
        assert!(reason.contains("connect"), "{id}: {reason}");
    }
}

#[tokio::test]
async fn a_timeout_is_retried_everywhere() {
    let s = Server::start(reply(200, "")).await;
    let outs = each_http_channel(Some(&s), Duration::from_millis(200), |_| {
        reply(200, r#"{"errcode":0,"code":0,"ok":true}"#).after(Duration::from_secs(3))
    })
    .await;
    for (id, o) in &outs {
        let (_, reason) = retry(o);
        assert!(reason.contains("timed out"), "{id}: {reason}");
    }
}

#[tokio::test]
async fn error_codes_inside_http_200_are_failures() {
    let s = Server::start(reply(200, "")).await;
    let outs = each_http_channel(Some(&s), Duration::from_secs(5), |id| match id {
        "wecom" => reply(200, r#"{"errcode":93000,"errmsg":"invalid webhook url"}"#),
        "dingtalk" => reply(200, r#"{"errcode":310000,"errmsg":"sign not match"}"#),
        "feishu" => reply(200, r#"{"code":19021,"data":{},"msg":"sign match fail or timestamp is not within one hour from current time"}"#),
        "telegram" => reply(200, r#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#),
        // These platforms have no error body on success.
        _ => reply(200, "ok"),
    })
    .await;
    let by_id: HashMap<_, _> = outs.into_iter().collect();
    for (id, code, words) in [
        ("wecom", 93000, "invalid webhook url"),
        ("dingtalk", 310000, "sign not match"),
        ("feishu", 19021, "sign match fail"),
        ("telegram", 400, "chat not found"),
    ] {
        let o = &by_id[id];
        let reason = permanent(o);
        assert!(reason.contains(words), "{id}: {reason}");
        let a = o.answer().unwrap();
        assert_eq!((a.status, a.code), (Some(200), Some(code)), "{id}");
    }
    for id in ["slack", "discord", "webhook"] {
        sent(&by_id[id]);
    }
}

#[tokio::test]
async fn platform_rate_limit_codes_are_retried_with_their_delay() {
    let s = Server::start(reply(200, "")).await;
    let outs = each_http_channel(Some(&s), Duration::from_secs(5), |id| match id {
        "wecom" => reply(200, r#"{"errcode":45009,"errmsg":"api freq out of limit"}"#),
        "dingtalk" => reply(200, r#"{"errcode":130101,"errmsg":"send too fast, exceed 20 times per minute"}"#),
        // Feishu sends its limit code with HTTP 400.
        "feishu" => reply(400, r#"{"code":11232,"msg":"frequency limited"}"#),
        "telegram" => reply(429, r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}}"#),
        "discord" => reply(429, r#"{"message":"You are being rate limited.","retry_after":1.5,"global":false}"#),
        _ => reply(200, "ok"),
    })
    .await;
    let by_id: HashMap<_, _> = outs.into_iter().collect();
    assert_eq!(retry(&by_id["wecom"]).0, Some(Duration::from_secs(60)));
    assert_eq!(retry(&by_id["dingtalk"]).0, Some(Duration::from_secs(600)));
    assert_eq!(retry(&by_id["feishu"]).0, None);
    assert_eq!(retry(&by_id["telegram"]).0, Some(Duration::from_secs(7)));
    assert_eq!(
        retry(&by_id["discord"]).0,
        Some(Duration::from_millis(1500))
    );
    assert_eq!(by_id["wecom"].answer().unwrap().code, Some(45009));
}

#[tokio::test]
async fn telegram_names_the_new_id_of_a_migrated_group() {
    let s = Server::start(reply(
        400,
        r#"{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":-1009876543210}}"#,
    ))
    .await;
    let p = playbook(
        "  t: { type: telegram, token: \"1:tok\", chat_id: \"-42\", api_base: \"${B}\" }\n",
    );
    let ch = build(&p, "t", &[("B", &s.base)]);
    let out = ch.send(&message("x")).await;
    assert!(
        permanent(&out).ends_with("(the group moved: set `chat_id` to -1009876543210)"),
        "{out:?}"
    );
}

#[tokio::test]
async fn webhook_get_sends_no_body() {
    let s = Server::start(reply(200, "")).await;
    let p = playbook("  ping: { type: webhook, url: \"${U}\", method: GET }\n");
    let ch = build(&p, "ping", &[("U", &format!("{}/ping", s.base))]);
    sent(&ch.send(&message("x")).await);
    let r = s.only();
    assert_eq!((r.method.as_str(), r.body.len()), ("GET", 0));
    assert_eq!(r.header("content-type"), None);
    assert_eq!(r.header("idempotency-key"), Some(KEY));
}

#[tokio::test]
async fn a_redirect_is_reported_not_followed() {
    let s = Server::start(reply(200, "")).await;
    s.then(reply(301, "").header("location", "/elsewhere"));
    let p = playbook("  s: { type: slack, webhook: \"${S}\" }\n");
    let ch = build(&p, "s", &[("S", &format!("{}/old", s.base))]);
    let reason = permanent(&ch.send(&message("x")).await).to_string();
    assert!(reason.contains("redirect"), "{reason}");
    assert_eq!(s.seen().len(), 1, "the redirect is not followed");
}

// ---------------------------------------------------------------------------------------
// Splitting long messages.

fn long_chinese(lines: usize) -> String {
    (1..=lines)
        .map(|i| format!("第{i}天:深蹲三组,平板支撑一分钟,跳绳五百下,拉伸十分钟。"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn wecom_splits_long_chinese_text_at_line_boundaries_in_order() {
    let s = Server::start(reply(200, r#"{"errcode":0,"errmsg":"ok"}"#)).await;
    let p = playbook("  group: { type: wecom, webhook: \"${W}\" }\n");
    let ch = build(&p, "group", &[("W", &format!("{}/send?key=k", s.base))]);
    let text = long_chinese(60);
    assert!(text.len() > 2 * 2048, "the text needs three parts or more");

    let out = ch.send(&message(&text)).await;
    let SendOutcome::Sent { parts, .. } = out else {
        panic!("{out:?}")
    };
    let seen = s.seen();
    assert_eq!(seen.len(), parts);
    assert!(parts >= 3);
    let contents: Vec<String> = seen
        .iter()
        .map(|r| r.json()["text"]["content"].as_str().unwrap().to_string())
        .collect();
    for c in &contents {
        assert!(c.len() <= 2048, "a part of {} bytes", c.len());
        assert!(
            c.starts_with('第') && c.ends_with('。'),
            "whole lines only: {c}"
        );
    }
    assert_eq!(contents.join("\n"), text, "in order, nothing lost");
    let keys: Vec<String> = seen
        .iter()
        .map(|r| r.header("idempotency-key").unwrap().to_string())
        .collect();
    let expected: Vec<String> = (1..=parts).map(|i| format!("{KEY}#{i}")).collect();
    assert_eq!(keys, expected);
}

#[tokio::test]
async fn a_failed_part_reports_progress_and_a_retry_resumes_after_it() {
    let s = Server::start(reply(200, r#"{"errcode":0,"errmsg":"ok"}"#)).await;
    let p = playbook("  group: { type: wecom, webhook: \"${W}\" }\n");
    let ch = build(&p, "group", &[("W", &format!("{}/send?key=k", s.base))]);
    let text = long_chinese(60);
    let parts = channel::split(&text, ch.limit().unwrap());

    s.then(reply(200, r#"{"errcode":0,"errmsg":"ok"}"#));
    s.then(reply(502, "bad gateway"));
    let first = ch.send(&message(&text)).await;
    let SendOutcome::Retry { parts_sent, .. } = first else {
        panic!("{first:?}")
    };
    assert_eq!(parts_sent, 1);

    let mut again = message(&text);
    again.parts_sent = parts_sent;
    let SendOutcome::Sent { parts: n, .. } = ch.send(&again).await else {
        panic!("the retry is sent")
    };
    assert_eq!(n, parts.len());
    let contents: Vec<String> = s
        .seen()
        .iter()
        .map(|r| r.json()["text"]["content"].as_str().unwrap().to_string())
        .collect();
    // Part 1, part 2 (refused), then parts 2.. again: part 1 never twice.
    let mut expected = vec![parts[0].clone(), parts[1].clone()];
    expected.extend(parts[1..].iter().cloned());
    assert_eq!(contents, expected);
}

#[tokio::test]
async fn discord_and_telegram_split_by_their_own_units() {
    let s = Server::start(reply(204, "")).await;
    let p = playbook(
        "  d: { type: discord, webhook: \"${D}\" }\n  t: { type: telegram, token: \"1:tok\", chat_id: \"1\", api_base: \"${B}\" }\n",
    );
    let env = [("D", format!("{}/d", s.base)), ("B", s.base.clone())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let d = build(&p, "d", &env);
    let t = build(&p, "t", &env);
    assert_eq!(d.limit(), Some(Limit::new(2000, Unit::Chars)));
    assert_eq!(t.limit(), Some(Limit::new(4096, Unit::Utf16)));

    // 3000 characters of Chinese: one Discord message cannot hold it.
    let text = "加油".repeat(1500);
    let SendOutcome::Sent { parts, .. } = d.send(&message(&text)).await else {
        panic!()
    };
    assert_eq!(parts, 2);
    // 3000 emoji are 6000 UTF-16 units: two Telegram messages, though 3000 characters.
    s.then(reply(200, r#"{"ok":true,"result":{}}"#));
    s.then(reply(200, r#"{"ok":true,"result":{}}"#));
    let SendOutcome::Sent { parts, .. } = t.send(&message(&"🎉".repeat(3000))).await else {
        panic!()
    };
    assert_eq!(parts, 2);
    let seen = s.seen();
    assert_eq!(
        seen[0].json()["content"].as_str().unwrap().chars().count(),
        2000
    );
    assert_eq!(
        seen[2].json()["text"].as_str().unwrap().chars().count(),
        2048
    );
}

#[test]
fn limits_are_exposed_per_channel() {
    let p = playbook(
        "  a: { type: wecom, webhook: \"http://h/x\" }\n  b: { type: dingtalk, webhook: \"http://h/x\" }\n  c: { type: feishu, webhook: \"http://h/x\" }\n  d: { type: slack, webhook: \"http://h/x\" }\n  e: { type: webhook, url: \"http://h/x\" }\n  f: { type: console }\n  g: { type: file, path: out.jsonl }\n  h: { type: exec, command: [\"true\"] }\n",
    );
    let opts = options(Duration::from_secs(1));
    let all = channel::build_all(&p, &env_of(&[]), &opts).unwrap();
    let limits: Vec<(&str, Option<Limit>)> = all.values().map(|c| (c.kind(), c.limit())).collect();
    // Validation knows the same limits without building anything.
    let known: Vec<Option<Limit>> = p
        .channels
        .values()
        .map(|c| channel::limit_of(&c.kind))
        .collect();
    assert_eq!(known, limits.iter().map(|(_, l)| *l).collect::<Vec<_>>());
    assert_eq!(
        limits,
        vec![
            ("wecom", Some(Limit::new(2048, Unit::Bytes))),
            ("dingtalk", Some(Limit::new(20_000, Unit::Bytes))),
            ("feishu", Some(Limit::new(19_000, Unit::JsonBytes))),
            ("slack", Some(Limit::new(40_000, Unit::Chars))),
            ("webhook", None),
            ("console", None),
            ("file", None),
            ("exec", None),
        ]
    );
}

// ---------------------------------------------------------------------------------------
// Environment and secrets.

#[test]
fn every_missing_variable_is_reported_by_name() {
    let p = playbook(
        "  group: { type: wecom, webhook: \"${WECOM_WEBHOOK}\" }\n  admins: { type: dingtalk, webhook: \"${DINGTALK_WEBHOOK}\", secret: \"${DINGTALK_SECRET}\" }\n  bot: { type: telegram, token: \"${TG_TOKEN}\", chat_id: \"${TG_CHAT}\" }\n  preview: { type: console }\n",
    );
    let env = env_of(&[
        ("DINGTALK_WEBHOOK", "http://127.0.0.1:9/x"),
        ("TG_CHAT", ""),
    ]);
    let errors = channel::build_all(&p, &env, &options(Duration::from_secs(1))).unwrap_err();
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        vec![
            "channel `group`: environment variable `WECOM_WEBHOOK` is not set (it is read for `webhook`)",
            "channel `admins`: environment variable `DINGTALK_SECRET` is not set (it is read for `secret`)",
            "channel `bot`: environment variable `TG_TOKEN` is not set (it is read for `token`)",
            "channel `bot`: environment variable `TG_CHAT` is not set (it is read for `chat_id`)",
        ]
    );
    // Each error points at the field in the playbook.
    let text = "${WECOM_WEBHOOK}";
    let BuildError { span, problem, .. } = &errors[0];
    assert_eq!(
        problem,
        &Problem::MissingVariable {
            name: "WECOM_WEBHOOK".into()
        }
    );
    assert_eq!(
        (span.end - span.start) as usize,
        text.len() + 2,
        "the quoted value"
    );
}

#[test]
fn a_bad_address_is_reported_without_showing_it() {
    let p = playbook(
        "  group: { type: wecom, webhook: \"${W}\" }\n  t: { type: telegram, token: \"${T}\", chat_id: \"1\", api_base: \"ftp://files\" }\n",
    );
    let env = env_of(&[
        ("W", "qyapi.example/send?key=secret-key-0123456789"),
        ("T", "1:tok"),
    ]);
    let errors = channel::build_all(&p, &env, &options(Duration::from_secs(1))).unwrap_err();
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(shown.len(), 2, "{shown:?}");
    assert!(
        shown[0].starts_with("channel `group`: `webhook` is not a valid address"),
        "{}",
        shown[0]
    );
    assert!(!shown[0].contains("secret-key-0123456789"));
    assert_eq!(
        shown[1],
        "channel `t`: `api_base` must be an http or https address, not `ftp:`"
    );
}

#[test]
fn secrets_never_print() {
    let s = channel::Secret::new("super-secret-token-value");
    assert_eq!(format!("{s}"), "***");
    assert_eq!(format!("{s:?}"), "Secret(***)");
    assert_eq!(s.expose(), "super-secret-token-value");
    assert_eq!(
        channel::redact_url("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc"),
        "https://qyapi.weixin.qq.com/…"
    );
    assert_eq!(
        channel::redact_url("http://127.0.0.1:8080/"),
        "http://127.0.0.1:8080"
    );
}

#[test]
fn resolve_substitutes_every_reference() {
    let env = env_of(&[("HOST", "hooks.example"), ("TOKEN", "t0k")]);
    assert_eq!(
        channel::resolve("https://${HOST}/in/${TOKEN}?x=${TOKEN}", &env).unwrap(),
        "https://hooks.example/in/t0k?x=t0k"
    );
    assert_eq!(channel::resolve("plain", &env).unwrap(), "plain");
    assert_eq!(
        channel::resolve("${A}-${B}-${A}", &env).unwrap_err(),
        vec!["A".to_string(), "B".to_string()]
    );
}

#[test]
fn default_rate_limits_follow_the_platforms_and_a_channel_may_override() {
    let p = playbook(
        "  a: { type: wecom, webhook: x }\n  b: { type: dingtalk, webhook: x }\n  c: { type: feishu, webhook: x }\n  d: { type: slack, webhook: x }\n  e: { type: discord, webhook: x }\n  f: { type: telegram, token: x, chat_id: \"1\" }\n  g: { type: webhook, url: x }\n  h: { type: file, path: x }\n  i: { type: wecom, webhook: x, rate_limit: 10/min }\n",
    );
    let shown: Vec<String> = p
        .channels
        .values()
        .map(|c| {
            channel::rate_limit_of(c)
                .map(|r| r.to_string())
                .unwrap_or_else(|| "none".into())
        })
        .collect();
    assert_eq!(
        shown,
        [
            "20/min", "20/min", "100/min", "1/s", "30/min", "20/min", "none", "none", "10/min"
        ]
    );
    let bursts: Vec<Option<u32>> = p
        .channels
        .values()
        .map(|c| channel::default_burst(&c.kind))
        .collect();
    assert_eq!(bursts[2], Some(5));
    assert_eq!(bursts.iter().filter(|b| b.is_some()).count(), 1);
}

// ---------------------------------------------------------------------------------------
// File, exec, console.

#[tokio::test]
async fn file_appends_one_json_line_per_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.jsonl");
    std::fs::write(&path, "{\"earlier\":true}\n").unwrap();
    let p = playbook("  log: { type: file, path: \"${LOG_DIR}/out.jsonl\" }\n");
    let ch = build(&p, "log", &[("LOG_DIR", dir.path().to_str().unwrap())]);
    sent(&ch.send(&message("第一条")).await);
    let mut second = message("第二条\n两行");
    second.key = "k2".into();
    sent(&ch.send(&second).await);

    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines,
        vec![
            json!({ "earlier": true }),
            json!({
                "key": KEY, "source": "content/morning", "at": "2026-11-30T23:30:00Z",
                "community": { "id": "fit-camp", "name": "21天减脂打卡营" }, "message": "第一条",
            }),
            json!({
                "key": "k2", "source": "content/morning", "at": "2026-11-30T23:30:00Z",
                "community": { "id": "fit-camp", "name": "21天减脂打卡营" }, "message": "第二条\n两行",
            }),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_messages_at_once_from_two_channels_on_one_file_each_land_whole() {
    let dir = tempfile::tempdir().unwrap();
    let p = playbook(
        "  log: { type: file, path: \"${D}/out.jsonl\" }\n  copy: { type: file, path: \"${D}/out.jsonl\" }\n",
    );
    let env = [("D", dir.path().to_str().unwrap())];
    let (log, copy) = (build(&p, "log", &env), build(&p, "copy", &env));
    let mut sends = tokio::task::JoinSet::new();
    for i in 0..400 {
        let ch = if i % 2 == 0 {
            log.clone()
        } else {
            copy.clone()
        };
        sends.spawn(async move {
            let mut m = message(&"长消息 ".repeat(i % 7 * 100 + 1));
            m.key = format!("k{i}");
            ch.send(&m).await
        });
    }
    while let Some(outcome) = sends.join_next().await {
        sent(&outcome.unwrap());
    }
    let text = std::fs::read_to_string(dir.path().join("out.jsonl")).unwrap();
    let mut keys: Vec<String> = text
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("a whole JSON line");
            v["key"].as_str().unwrap().to_string()
        })
        .collect();
    keys.sort();
    let mut expected: Vec<String> = (0..400).map(|i| format!("k{i}")).collect();
    expected.sort();
    assert_eq!(keys, expected, "each message exactly once");
}

#[tokio::test]
async fn file_in_a_missing_folder_is_permanent() {
    let dir = tempfile::tempdir().unwrap();
    let p = playbook("  log: { type: file, path: \"${D}/no/such/out.jsonl\" }\n");
    let ch = build(&p, "log", &[("D", dir.path().to_str().unwrap())]);
    permanent(&ch.send(&message("x")).await);
}

/// An exec channel running `sh SCRIPT OUT` with `script`; the script may write its input to
/// `$1`.
fn exec_channel(dir: &Path, script: &str) -> Arc<dyn Channel> {
    let path = dir.join("plugin.sh");
    std::fs::write(&path, script).unwrap();
    let p = playbook("  plug: { type: exec, command: [sh, \"${SCRIPT}\", \"${OUT}\"] }\n");
    build(
        &p,
        "plug",
        &[
            ("SCRIPT", path.to_str().unwrap()),
            ("OUT", dir.join("stdin.json").to_str().unwrap()),
        ],
    )
}

#[tokio::test]
async fn exec_exit_0_is_sent_and_the_program_gets_the_message_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let ch = exec_channel(dir.path(), "cat > \"$1\"\necho posted\n");
    let out = ch.send(&message("早上好")).await;
    let a = sent(&out);
    assert_eq!((a.code, a.message.as_deref()), (Some(0), Some("posted")));
    let got: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("stdin.json")).unwrap())
            .unwrap();
    assert_eq!(
        got,
        json!({
            "key": KEY, "source": "content/morning", "at": "2026-11-30T23:30:00Z",
            "community": { "id": "fit-camp", "name": "21天减脂打卡营" }, "message": "早上好",
        })
    );
}

#[tokio::test]
async fn exec_exit_75_is_retried_and_other_codes_are_permanent() {
    let dir = tempfile::tempdir().unwrap();
    let ch = exec_channel(dir.path(), "echo 'platform busy' >&2\nexit 75\n");
    let out = ch.send(&message("x")).await;
    let (after, reason) = retry(&out);
    assert_eq!(after, None);
    assert!(reason.contains("75"), "{reason}");
    let a = out.answer().unwrap();
    assert_eq!(
        (a.code, a.message.as_deref()),
        (Some(75), Some("platform busy"))
    );

    let ch = exec_channel(dir.path(), "echo 'bad token' >&2\nexit 1\n");
    let out = ch.send(&message("x")).await;
    assert!(permanent(&out).contains("exited with 1"));
    assert_eq!(out.answer().unwrap().code, Some(1));
    // The script path came from the environment: it is not shown.
    assert!(
        !permanent(&out).contains("plugin.sh"),
        "{}",
        permanent(&out)
    );
}

#[tokio::test]
async fn exec_that_runs_too_long_is_stopped_and_retried() {
    let dir = tempfile::tempdir().unwrap();
    let ch = exec_channel(dir.path(), "exec sleep 5\n");
    let started = std::time::Instant::now();
    let out = ch.send(&message("x")).await;
    let (_, reason) = retry(&out);
    assert!(reason.contains("did not finish"), "{reason}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "stopped at the timeout"
    );
}

#[tokio::test]
async fn exec_of_a_missing_program_is_permanent() {
    let p = playbook("  plug: { type: exec, command: [/no/such/program-drumbeat] }\n");
    let ch = build(&p, "plug", &[]);
    let reason = permanent(&ch.send(&message("x")).await).to_string();
    assert!(reason.contains("/no/such/program-drumbeat"), "{reason}");
}

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn console_prints_the_fire_and_the_message() {
    let buf = Buffer::default();
    let mut opts = options(Duration::from_secs(1));
    opts.console = ConsoleSink::to(buf.clone());
    let p = playbook("  preview: { type: console }\n");
    let ch = channel::build(&p, "preview", &env_of(&[]), &opts).unwrap();
    sent(&ch.send(&message("早上好\n第二行")).await);
    // What `--dry-run` uses in place of every channel prints the same.
    let dry = channel::console(ConsoleSink::to(buf.clone()));
    sent(&dry.send(&message("早上好\n第二行")).await);
    let one =
        format!("── fit-camp · content/morning · 2026-11-30T23:30:00Z · {KEY}\n早上好\n第二行\n");
    assert_eq!(
        String::from_utf8(buf.0.lock().unwrap().clone()).unwrap(),
        one.repeat(2)
    );
}

#[test]
fn retry_after_reads_seconds_and_dates() {
    let mut h = reqwest::header::HeaderMap::new();
    let now = fixed_now();
    h.insert("retry-after", "12".parse().unwrap());
    assert_eq!(channel::retry_after(&h, now), Some(Duration::from_secs(12)));
    h.insert(
        "retry-after",
        "Tue, 01 Dec 2026 08:00:05 GMT".parse().unwrap(),
    );
    assert_eq!(channel::retry_after(&h, now), Some(Duration::from_secs(5)));
    h.insert(
        "retry-after",
        "Mon, 30 Nov 2026 08:00:05 GMT".parse().unwrap(),
    );
    assert_eq!(channel::retry_after(&h, now), Some(Duration::ZERO));
    h.insert("retry-after", "soon".parse().unwrap());
    assert_eq!(channel::retry_after(&h, now), None);
}

#[test]
fn answers_read_well() {
    let a = Answer {
        status: Some(200),
        code: Some(93000),
        message: Some("invalid webhook url".into()),
        accepted: None,
    };
    assert_eq!(a.to_string(), "HTTP 200, code 93000, invalid webhook url");
    assert_eq!(Answer::default().to_string(), "no answer");
}
