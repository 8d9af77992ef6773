//! What the daemon counts, for `GET /metrics`.
//!
//! One [`Metrics`] value holds every series; the scheduler, the channel workers and the
//! HTTP side share it through an `Arc`. Every method takes `&self` and only touches
//! atomics (or a short lock the first time a label set is seen), so counting never slows
//! a send down.
//!
//! [`Metrics::render`] writes the Prometheus text format (version 0.0.4), which every
//! Prometheus-compatible scraper reads.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Upper bounds of the lateness histogram, in seconds: from a few milliseconds (a healthy
/// daemon) to ten minutes (the default grace).
pub const LATENESS_BUCKETS: [f64; 15] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0,
];

/// How one delivery attempt ended, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// The channel accepted the message.
    Sent,
    /// It failed in a way worth trying again.
    Retry,
    /// It was given up on: the row is dead-lettered.
    Dead,
}

impl Attempt {
    fn label(self) -> &'static str {
        match self {
            Attempt::Sent => "sent",
            Attempt::Retry => "retry",
            Attempt::Dead => "dead",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FireLabels {
    community: String,
    state: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SendLabels {
    community: String,
    channel: String,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChannelLabels {
    community: String,
    channel: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CommunityLabels {
    community: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReloadLabels {
    result: &'static str,
}

/// Counter names as registered. The encoder writes their samples with a `_total` suffix;
/// [`Metrics::render`] gives their `# HELP` and `# TYPE` lines the same name, as the
/// Prometheus text format wants.
const COUNTERS: [&str; 7] = [
    "drumbeat_fires",
    "drumbeat_sends",
    "drumbeat_retries",
    "drumbeat_dead_letters",
    "drumbeat_missed",
    "drumbeat_reloads",
    "drumbeat_condition_failures",
];

/// Every series the daemon exposes. Cheap to share: keep it in an `Arc`.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    fires: Family<FireLabels, Counter>,
    sends: Family<SendLabels, Counter>,
    retries: Family<ChannelLabels, Counter>,
    dead_letters: Family<ChannelLabels, Counter>,
    missed: Counter,
    lateness: Histogram,
    queue_depth: Gauge,
    playbooks: Gauge,
    reloads: Family<ReloadLabels, Counter>,
    condition_failures: Family<CommunityLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let fires = Family::<FireLabels, Counter>::default();
        let sends = Family::<SendLabels, Counter>::default();
        let retries = Family::<ChannelLabels, Counter>::default();
        let dead_letters = Family::<ChannelLabels, Counter>::default();
        let missed = Counter::default();
        let lateness = Histogram::new(LATENESS_BUCKETS);
        let queue_depth = Gauge::default();
        let playbooks = Gauge::default();
        let reloads = Family::<ReloadLabels, Counter>::default();
        let condition_failures = Family::<CommunityLabels, Counter>::default();
        // The encoder adds a full stop to each help text.
        registry.register(
            "drumbeat_fires",
            "Fires written to the outbox, by community and the state they were recorded in",
            fires.clone(),
        );
        registry.register(
            "drumbeat_sends",
            "Delivery attempts, by community, channel and outcome (sent, retry, dead)",
            sends.clone(),
        );
        registry.register(
            "drumbeat_retries",
            "Delivery attempts that failed and will be tried again",
            retries.clone(),
        );
        registry.register(
            "drumbeat_dead_letters",
            "Messages given up on (a permanent error, or out of attempts)",
            dead_letters.clone(),
        );
        registry.register(
            "drumbeat_missed",
            "Fires not sent because they were later than their grace, at recording or swept after downtime",
            missed.clone(),
        );
        registry.register(
            "drumbeat_send_lateness_seconds",
            "Time from a fire's scheduled instant to the moment the channel accepted it",
            lateness.clone(),
        );
        registry.register(
            "drumbeat_queue_depth",
            "Outbox rows still to deliver (pending, sending, retrying)",
            queue_depth.clone(),
        );
        registry.register(
            "drumbeat_playbooks",
            "Playbooks loaded and running",
            playbooks.clone(),
        );
        registry.register(
            "drumbeat_reloads",
            "Playbook reloads, by result (accepted, refused)",
            reloads.clone(),
        );
        registry.register(
            "drumbeat_condition_failures",
            "Conditions (segments, badges, lottery eligibility) that failed to evaluate for a member and were taken as not met, by community",
            condition_failures.clone(),
        );
        Metrics {
            registry,
            fires,
            sends,
            retries,
            dead_letters,
            missed,
            lateness,
            queue_depth,
            playbooks,
            reloads,
            condition_failures,
        }
    }

    /// Conditions of `community` that failed to evaluate for a member.
    pub fn condition_failures(&self, community: &str, n: u64) {
        let labels = CommunityLabels {
            community: community.to_string(),
        };
        self.condition_failures.get_or_create(&labels).inc_by(n);
    }

    /// Fires of `community` just written to the outbox: `pending` to be sent, `missed`
    /// already later than their grace.
    pub fn recorded(&self, community: &str, pending: u64, missed: u64) {
        for (state, n) in [("pending", pending), ("missed", missed)] {
            let labels = FireLabels {
                community: community.to_string(),
                state,
            };
            // Both series appear on the first call, so rates start from zero.
            self.fires.get_or_create(&labels).inc_by(n);
        }
        self.missed.inc_by(missed);
    }

    /// One delivery attempt of `community` through `channel` ended with `outcome`.
    pub fn attempt(&self, community: &str, channel: &str, outcome: Attempt) {
        let labels = SendLabels {
            community: community.to_string(),
            channel: channel.to_string(),
            outcome: outcome.label(),
        };
        self.sends.get_or_create(&labels).inc();
        let per_channel = || ChannelLabels {
            community: community.to_string(),
            channel: channel.to_string(),
        };
        match outcome {
            Attempt::Sent => {}
            Attempt::Retry => {
                self.retries.get_or_create(&per_channel()).inc();
            }
            Attempt::Dead => {
                self.dead_letters.get_or_create(&per_channel()).inc();
            }
        }
    }

    /// Rows found missed after they were recorded: swept when the daemon started again
    /// after downtime, or reached for their first attempt only after their grace.
    pub fn missed_after_downtime(&self, n: u64) {
        self.missed.inc_by(n);
    }

    /// How late a send was accepted, in seconds after its scheduled instant. An early
    /// send counts as on time; a value that is not a number is ignored.
    pub fn lateness(&self, seconds: f64) {
        if seconds.is_nan() {
            return;
        }
        self.lateness.observe(seconds.max(0.0));
    }

    /// Rows still to deliver (pending, sending, retrying).
    pub fn set_queue_depth(&self, n: u64) {
        self.queue_depth.set(gauge_value(n));
    }

    /// Playbooks loaded and running.
    pub fn set_playbooks(&self, n: u64) {
        self.playbooks.set(gauge_value(n));
    }

    /// A reload was tried: `accepted` when the new playbooks replaced the old.
    pub fn reload(&self, accepted: bool) {
        let result = if accepted { "accepted" } else { "refused" };
        self.reloads.get_or_create(&ReloadLabels { result }).inc();
    }

    /// Every series in the Prometheus text format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut open_metrics = String::new();
        prometheus_client::encoding::text::encode_registry(&mut open_metrics, &self.registry)
            .expect("writing to a String cannot fail");
        // The encoder writes OpenMetrics, whose counter families are named without
        // `_total` while their samples carry it. The two formats differ in nothing else
        // drumbeat uses (no units, no exemplars, no `# EOF` from `encode_registry`).
        let mut out = String::with_capacity(open_metrics.len() + 64);
        for line in open_metrics.lines() {
            out.push_str(&counter_descriptor(line).unwrap_or_else(|| line.to_string()));
            out.push('\n');
        }
        out
    }
}

/// A `# HELP` or `# TYPE` line of a counter, renamed with its `_total` suffix.
fn counter_descriptor(line: &str) -> Option<String> {
    let (kind, rest) = line
        .strip_prefix("# HELP ")
        .map(|r| ("# HELP ", r))
        .or_else(|| line.strip_prefix("# TYPE ").map(|r| ("# TYPE ", r)))?;
    let (name, tail) = rest.split_once(' ')?;
    COUNTERS
        .contains(&name)
        .then(|| format!("{kind}{name}_total {tail}"))
}

fn gauge_value(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines of `render` whose series name starts with `name` (samples only).
    fn samples(text: &str, name: &str) -> Vec<String> {
        text.lines()
            .filter(|l| !l.starts_with('#') && l.starts_with(name))
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn a_fresh_daemon_shows_only_its_unlabelled_series() {
        let text = Metrics::new().render();
        assert_eq!(
            text.lines()
                .filter(|l| !l.starts_with('#'))
                .collect::<Vec<_>>(),
            [
                "drumbeat_missed_total 0",
                "drumbeat_send_lateness_seconds_sum 0.0",
                "drumbeat_send_lateness_seconds_count 0",
                "drumbeat_send_lateness_seconds_bucket{le=\"0.005\"} 0",
                "drumbeat_send_lateness_seconds_bucket{le=\"0.01\"} 0",
                "drumbeat_send_lateness_seconds_bucket{le=\"0.025\"} 0",
                "drumbeat_send_lateness_seconds_bucket{le=\"0.05\"} 0",
                "drumbeat_send_lateness_seconds_bucket{le=\"0.1\"} 0",
                "drumbeat_send_lateness_seconds_bucket{le=\"0.25\"} 0",
                "drumbeat_send_lateness_seconds_bucket{le=\"0.5\"} 0",
                "drumbeat_send_lateness_seconds_bucket{le=\"1.0\"} 0",
                "drumbeat_send_lateness_seconds_bucket{le=\"2.5\"} 0",
                "drumbeat_send_lateness_seconds_bucket{le=\"5.0\"} 0",
                "drumbeat_send_lateness_seconds_bucket{le=\"10.0\"} 0",
                "drumbeat_send_lateness_seconds_bucket{le=\"30.0\"} 0",
                "drumbeat_send_lateness_seconds_bucket{le=\"60.0\"} 0",
                "drumbeat_send_lateness_seconds_bucket{le=\"300.0\"} 0",
                "drumbeat_send_lateness_seconds_bucket{le=\"600.0\"} 0",
                "drumbeat_send_lateness_seconds_bucket{le=\"+Inf\"} 0",
                "drumbeat_queue_depth 0",
                "drumbeat_playbooks 0",
            ]
        );
    }

    #[test]
    fn counters_are_described_under_the_name_their_samples_carry() {
        let m = Metrics::new();
        m.recorded("club", 1, 0);
        m.reload(true);
        let text = m.render();
        for name in COUNTERS {
            let total = format!("{name}_total");
            if text.contains(&format!("\n{total}")) {
                assert!(
                    text.contains(&format!("# TYPE {total} counter\n")),
                    "{name}:\n{text}"
                );
                assert!(
                    text.contains(&format!("# HELP {total} ")),
                    "{name}:\n{text}"
                );
            }
        }
        assert!(!text.contains("# TYPE drumbeat_fires counter"), "{text}");
        assert!(text.contains(
            "# HELP drumbeat_fires_total Fires written to the outbox, by community and the state they were recorded in.\n\
             # TYPE drumbeat_fires_total counter\n"
        ), "{text}");
        assert!(!text.contains("# EOF"), "{text}");
        assert!(
            text.contains("# TYPE drumbeat_queue_depth gauge\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE drumbeat_send_lateness_seconds histogram\n"),
            "{text}"
        );
    }

    #[test]
    fn recorded_fires_count_by_community_and_state_and_missed_ones_in_the_total() {
        let m = Metrics::new();
        m.recorded("club", 3, 0);
        m.recorded("club", 2, 1);
        m.recorded("camp", 0, 4);
        m.missed_after_downtime(5);
        let text = m.render();
        let mut fires = samples(&text, "drumbeat_fires_total");
        fires.sort();
        assert_eq!(
            fires,
            [
                "drumbeat_fires_total{community=\"camp\",state=\"missed\"} 4",
                "drumbeat_fires_total{community=\"camp\",state=\"pending\"} 0",
                "drumbeat_fires_total{community=\"club\",state=\"missed\"} 1",
                "drumbeat_fires_total{community=\"club\",state=\"pending\"} 5",
            ]
        );
        // 1 + 4 recorded late, 5 swept after downtime.
        assert_eq!(
            samples(&text, "drumbeat_missed_total"),
            ["drumbeat_missed_total 10"]
        );
    }

    #[test]
    fn attempts_count_sends_retries_and_dead_letters_per_channel() {
        let m = Metrics::new();
        m.attempt("club", "wecom", Attempt::Retry);
        m.attempt("club", "wecom", Attempt::Retry);
        m.attempt("club", "wecom", Attempt::Sent);
        m.attempt("club", "slack", Attempt::Dead);
        m.attempt("camp", "wecom", Attempt::Sent);
        let text = m.render();
        let mut sends = samples(&text, "drumbeat_sends_total");
        sends.sort();
        assert_eq!(
            sends,
            [
                "drumbeat_sends_total{community=\"camp\",channel=\"wecom\",outcome=\"sent\"} 1",
                "drumbeat_sends_total{community=\"club\",channel=\"slack\",outcome=\"dead\"} 1",
                "drumbeat_sends_total{community=\"club\",channel=\"wecom\",outcome=\"retry\"} 2",
                "drumbeat_sends_total{community=\"club\",channel=\"wecom\",outcome=\"sent\"} 1",
            ]
        );
        assert_eq!(
            samples(&text, "drumbeat_retries_total"),
            ["drumbeat_retries_total{community=\"club\",channel=\"wecom\"} 2"]
        );
        assert_eq!(
            samples(&text, "drumbeat_dead_letters_total"),
            ["drumbeat_dead_letters_total{community=\"club\",channel=\"slack\"} 1"]
        );
    }

    #[test]
    fn lateness_lands_in_cumulative_buckets() {
        let m = Metrics::new();
        for s in [0.004, 0.005, 0.07, 0.3, 45.0, 900.0, -2.0, f64::NAN] {
            m.lateness(s);
        }
        let text = m.render();
        let lines = samples(&text, "drumbeat_send_lateness_seconds");
        let get = |le: &str| {
            let prefix = format!("drumbeat_send_lateness_seconds_bucket{{le=\"{le}\"}} ");
            lines
                .iter()
                .find_map(|l| l.strip_prefix(&prefix))
                .unwrap_or_else(|| panic!("no bucket {le}:\n{text}"))
                .to_string()
        };
        // -2 counts as 0 (on time); NaN is not counted.
        assert_eq!(get("0.005"), "3");
        assert_eq!(get("0.05"), "3");
        assert_eq!(get("0.1"), "4");
        assert_eq!(get("0.5"), "5");
        assert_eq!(get("30.0"), "5");
        assert_eq!(get("60.0"), "6");
        assert_eq!(get("600.0"), "6");
        assert_eq!(get("+Inf"), "7");
        assert!(
            lines.contains(&"drumbeat_send_lateness_seconds_count 7".to_string()),
            "{text}"
        );
        let sum: f64 = lines
            .iter()
            .find_map(|l| l.strip_prefix("drumbeat_send_lateness_seconds_sum "))
            .expect("sum")
            .parse()
            .expect("a number");
        assert!((sum - 945.379).abs() < 1e-9, "{sum}");
    }

    #[test]
    fn gauges_hold_the_last_value_and_reloads_count_by_result() {
        let m = Metrics::new();
        m.set_queue_depth(12);
        m.set_queue_depth(7);
        m.set_playbooks(3);
        m.reload(true);
        m.reload(false);
        m.reload(true);
        let text = m.render();
        assert_eq!(
            samples(&text, "drumbeat_queue_depth"),
            ["drumbeat_queue_depth 7"]
        );
        assert_eq!(
            samples(&text, "drumbeat_playbooks"),
            ["drumbeat_playbooks 3"]
        );
        let mut reloads = samples(&text, "drumbeat_reloads_total");
        reloads.sort();
        assert_eq!(
            reloads,
            [
                "drumbeat_reloads_total{result=\"accepted\"} 2",
                "drumbeat_reloads_total{result=\"refused\"} 1",
            ]
        );
    }

    #[test]
    fn label_values_are_escaped() {
        let m = Metrics::new();
        m.recorded("a\"b\\c\nd", 1, 0);
        let text = m.render();
        assert!(
            text.contains(
                "drumbeat_fires_total{community=\"a\\\"b\\\\c\\nd\",state=\"pending\"} 1\n"
            ),
            "{text}"
        );
    }
}
