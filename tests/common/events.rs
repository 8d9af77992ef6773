//! Realistic member-event streams for specs and benchmarks, in the event format of
//! docs/members.md, the same for the same seed on every machine and date.
//!
//! Members fall into the layers operators speak of: about 10% highly active (talk daily,
//! check in almost every day), 30% occasional, 60% silent. Messages cluster at the hours
//! groups are busy (07-09, 12-13, 18-23). A few messages break group rules (ads, links),
//! about 1% of events are sent twice (same id) and about 0.5% arrive out of order, as real
//! forwarders do.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, SecondsFormat, TimeZone};
use chrono_tz::Tz;
use serde_json::{Value, json};

/// What to generate.
#[derive(Debug, Clone)]
pub struct Stream {
    pub community: String,
    pub members: u32,
    pub days: u32,
    pub start: NaiveDate,
    pub tz: Tz,
    pub seed: u64,
    /// Duplicates and out-of-order arrivals.
    pub noise: bool,
}

impl Stream {
    /// `members` members over `days` days from 2026-12-01 in Asia/Shanghai.
    pub fn new(community: &str, members: u32, days: u32, seed: u64) -> Stream {
        Stream {
            community: community.to_string(),
            members,
            days,
            start: NaiveDate::from_ymd_opt(2026, 12, 1).expect("a date"),
            tz: chrono_tz::Asia::Shanghai,
            seed,
            noise: true,
        }
    }

    /// The events, one JSON object per line.
    pub fn lines(&self) -> Vec<String> {
        self.events().iter().map(Value::to_string).collect()
    }

    /// The events, in the order a forwarder would send them.
    pub fn events(&self) -> Vec<Value> {
        let mut rng = Rng(self.seed ^ 0x9e37_79b9_7f4a_7c15);
        let mut out: Vec<(DateTime<Tz>, Value)> = Vec::new();
        let mut n = 0u32;
        let mut ev = |kind: &str, member: &str, at: DateTime<Tz>, data: Value| {
            n += 1;
            let mut e = json!({
                "id": format!("{}-{n:08}", self.community),
                "type": kind,
                "community": self.community,
                "member": member,
                "at": at.to_rfc3339_opts(SecondsFormat::Secs, false),
            });
            if !data.as_object().is_some_and(|o| o.is_empty()) {
                e["data"] = data;
            }
            out.push((at, e));
            n
        };
        let mut members: Vec<(String, Layer, u32)> = Vec::new();
        for i in 0..self.members {
            let id = format!("u-{i:05}");
            let layer = match rng.below(100) {
                0..10 => Layer::Active,
                10..40 => Layer::Occasional,
                _ => Layer::Silent,
            };
            let join_day = if rng.unit() < 0.7 {
                0
            } else {
                rng.below(u64::from(self.days)) as u32
            };
            let joined = self.at(join_day, busy_time(&mut rng));
            let name = format!(
                "{}-{}{}",
                pick(&mut rng, CITIES),
                pick(&mut rng, NAMES),
                i % 100
            );
            if !members.is_empty() && rng.unit() < 0.15 {
                let referrer = members[rng.below(members.len() as u64) as usize].0.clone();
                let minutes = 5 + rng.below(235) as i64;
                ev(
                    "referral",
                    &referrer,
                    joined - Duration::minutes(minutes),
                    json!({ "referred": id }),
                );
            }
            let birthday = format!("{:02}-{:02}", 1 + rng.below(12), 1 + rng.below(28));
            ev(
                "join",
                &id,
                joined,
                json!({ "name": name, "birthday": birthday }),
            );
            members.push((id, layer, join_day));
        }
        for day in 0..self.days {
            for (id, layer, join_day) in &members {
                if day < *join_day {
                    continue;
                }
                let (p_checkin, mean_messages) = match layer {
                    Layer::Active => (0.9, 8.0),
                    Layer::Occasional => (0.35, 1.5),
                    Layer::Silent => (0.03, 0.1),
                };
                if rng.unit() < p_checkin {
                    let at = self.at(day, busy_time(&mut rng));
                    ev("checkin", id, at, json!({}));
                }
                let count = (-(1.0 - rng.unit()).ln() * mean_messages) as u32;
                for _ in 0..count {
                    let text = if rng.unit() < 0.003 {
                        pick(&mut rng, ADS)
                    } else {
                        pick(&mut rng, TEXTS)
                    };
                    let mut data = json!({ "text": text });
                    if rng.unit() < 0.3 {
                        let to = &members[rng.below(members.len() as u64) as usize].0;
                        data["reply_to"] = json!(to);
                    }
                    let at = self.at(day, busy_time(&mut rng));
                    ev("message", id, at, data);
                }
                if *layer != Layer::Silent && rng.unit() < 0.01 {
                    let amount = (19.0 + rng.unit() * 380.0) * 100.0;
                    let at = self.at(day, busy_time(&mut rng));
                    let order = format!("o-{id}-{day}");
                    ev(
                        "purchase",
                        id,
                        at,
                        json!({ "amount": amount.round() / 100.0, "currency": "CNY", "order": order }),
                    );
                }
            }
        }
        // Stable: events at the same second keep the order they were made in.
        out.sort_by_key(|(at, _)| *at);
        let mut out: Vec<Value> = out.into_iter().map(|(_, e)| e).collect();
        if !self.noise {
            return out;
        }
        for i in 0..out.len() {
            if rng.unit() < 0.005 && i + 3 < out.len() {
                out.swap(i, i + 3);
            }
        }
        let mut later: std::collections::BTreeMap<usize, Vec<Value>> = Default::default();
        let mut noisy = Vec::with_capacity(out.len() + out.len() / 50);
        for (i, e) in out.into_iter().enumerate() {
            if rng.unit() < 0.01 {
                let at = i + 1 + rng.below(49) as usize;
                later.entry(at).or_default().push(e.clone());
            }
            noisy.push(e);
            noisy.extend(later.remove(&i).unwrap_or_default());
        }
        noisy.extend(later.into_values().flatten());
        noisy
    }

    fn at(&self, day: u32, time: NaiveTime) -> DateTime<Tz> {
        let local = (self.start + Duration::days(i64::from(day))).and_time(time);
        // Shanghai has no gaps; elsewhere a time in a gap moves an hour on.
        self.tz
            .from_local_datetime(&local)
            .earliest()
            .or_else(|| {
                self.tz
                    .from_local_datetime(&(local + Duration::hours(1)))
                    .earliest()
            })
            .expect("a local time")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layer {
    Active,
    Occasional,
    Silent,
}

const NAMES: &[&str] = &[
    "阿花", "小白", "大熊", "木子", "阿杰", "小鱼", "橙子", "老王", "小雨", "乐乐", "阿宁", "果果",
    "小北", "一一", "糖糖", "阿泽", "晴天", "小米", "豆豆", "七七",
];
const CITIES: &[&str] = &[
    "杭州", "北京", "上海", "深圳", "广州", "成都", "武汉", "南京", "西安", "苏州",
];
const TEXTS: &[&str] = &[
    "打卡",
    "今天练完了",
    "早上好",
    "这个方法有用",
    "请问怎么报名",
    "谢谢分享",
    "我也是",
    "明天继续",
    "晒一下今天的成果",
    "有没有人一起",
    "收到",
    "学到了",
    "哈哈哈",
    "加油",
];
const ADS: &[&str] = &[
    "代购正品加我微信",
    "扫码领红包 http://spam.example/x",
    "兼职日结加我",
];
/// Busy stretches of the day, as (from hour, to hour, weight).
const BUSY: &[(u32, u32, u64)] = &[(7, 9, 3), (12, 13, 3), (18, 23, 5), (9, 12, 1), (13, 18, 1)];

fn busy_time(rng: &mut Rng) -> NaiveTime {
    let total: u64 = BUSY.iter().map(|b| b.2).sum();
    let mut roll = rng.below(total);
    let (from, to, _) = BUSY
        .iter()
        .find(|b| {
            if roll < b.2 {
                true
            } else {
                roll -= b.2;
                false
            }
        })
        .expect("a stretch");
    let hour = from + rng.below(u64::from(to - from)) as u32;
    NaiveTime::from_hms_opt(hour, rng.below(60) as u32, rng.below(60) as u32).expect("a time")
}

fn pick<'a>(rng: &mut Rng, from: &[&'a str]) -> &'a str {
    from[rng.below(from.len() as u64) as usize]
}

/// splitmix64: small, fast, and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// In [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// In [0, n); n > 0.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}
