//! What is slow to build from a piece of playbook text (a regular expression, a cron
//! expression), built once per process and shared with the next playbook that writes the
//! same text. Playbooks of one operator repeat their patterns and schedules, so a folder
//! of a thousand (or a daemon with ten thousand) builds each only once.

use std::collections::HashMap;
use std::sync::Mutex;

/// The most texts one [`Kept`] holds; past that, values are built every time.
const MOST: usize = 1024;

/// Values built from text, by that text. Only successes are kept: an error is built again,
/// so it is reported with each file that has it.
pub struct Kept<V> {
    values: Mutex<Option<HashMap<String, V>>>,
}

impl<V: Clone> Kept<V> {
    pub const fn new() -> Kept<V> {
        Kept {
            values: Mutex::new(None),
        }
    }

    /// The value built from `text`: kept from before, or built with `build` now.
    pub fn get<E>(&self, text: &str, build: impl FnOnce() -> Result<V, E>) -> Result<V, E> {
        if let Some(v) = self.with(|kept| kept.get(text).cloned()) {
            return Ok(v);
        }
        // Built unlocked: another thread may build the same text meanwhile, which is
        // only work done twice.
        let v = build()?;
        self.with(|kept| {
            if kept.len() < MOST {
                kept.insert(text.to_string(), v.clone());
            }
        });
        Ok(v)
    }

    fn with<R>(&self, f: impl FnOnce(&mut HashMap<String, V>) -> R) -> R {
        // A panic elsewhere while holding the lock leaves the map whole.
        let mut values = self.values.lock().unwrap_or_else(|e| e.into_inner());
        f(values.get_or_insert_with(HashMap::new))
    }
}

#[cfg(test)]
mod tests {
    use super::Kept;
    use std::cell::Cell;

    #[test]
    fn a_text_is_built_once_and_errors_every_time() {
        static KEPT: Kept<String> = Kept::new();
        let builds = Cell::new(0);
        let build = |ok: bool| {
            builds.set(builds.get() + 1);
            if ok { Ok("built".to_string()) } else { Err(()) }
        };
        assert_eq!(KEPT.get("a", || build(true)), Ok("built".into()));
        assert_eq!(KEPT.get("a", || build(true)), Ok("built".into()));
        assert_eq!(builds.get(), 1);
        assert_eq!(KEPT.get("b", || build(false)), Err(()));
        assert_eq!(KEPT.get("b", || build(false)), Err(()));
        assert_eq!(builds.get(), 3);
    }
}
