//! Placeholder until the Prometheus metrics land (same API).
#[derive(Debug, Default)]
pub struct Metrics;
#[derive(Debug, Clone, Copy)]
pub enum Attempt {
    Sent,
    Retry,
    Dead,
}
impl Metrics {
    pub fn new() -> Metrics {
        Metrics
    }
    pub fn recorded(&self, _community: &str, _pending: u64, _missed: u64) {}
    pub fn attempt(&self, _community: &str, _channel: &str, _outcome: Attempt) {}
    pub fn missed_after_downtime(&self, _n: u64) {}
    pub fn lateness(&self, _seconds: f64) {}
    pub fn set_queue_depth(&self, _n: u64) {}
    pub fn set_playbooks(&self, _n: u64) {}
    pub fn reload(&self, _accepted: bool) {}
    pub fn render(&self) -> String {
        String::new()
    }
}
