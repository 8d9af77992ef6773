//! Independent pieces of work spread over the machine's cores, answers kept in order.
//!
//! Plain scoped threads: loading and checking playbooks is coarse work (a file each), so a
//! shared counter hands out items and nothing finer is needed.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Stack of each helper thread: as much as the main thread has, since loading recurses as
/// deep as the file nests (up to its limit) on whichever thread takes the file.
const STACK: usize = 8 * 1024 * 1024;

/// `f` of every item, in the items' order, computed on up to one thread per core (this
/// thread included). Items are taken one at a time, so a slow one holds up no share of the
/// others; a single item, or a single core, is done here without starting a thread.
pub fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len());
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else {
                return done;
            };
            done.push((i, f(item)));
        }
    };
    let mut done: Vec<(usize, R)> = std::thread::scope(|s| {
        let helpers: Vec<_> = (1..threads)
            .map(|_| {
                std::thread::Builder::new()
                    .stack_size(STACK)
                    .spawn_scoped(s, work)
            })
            .collect();
        let mut done = work();
        // A helper that could not be started took nothing: this thread did its share.
        for helper in helpers.into_iter().flatten() {
            done.extend(
                helper
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p)),
            );
        }
        done
    });
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::map;

    #[test]
    fn answers_come_in_the_items_order() {
        let items: Vec<u64> = (0..1000).collect();
        // Uneven work, so threads finish out of order.
        let squares = map(&items, |n| {
            if n % 7 == 0 {
                std::thread::sleep(std::time::Duration::from_micros(50));
            }
            n * n
        });
        assert_eq!(squares, items.iter().map(|n| n * n).collect::<Vec<_>>());
        assert_eq!(map(&[3], |n| n + 1), vec![4]);
        assert!(map(&[] as &[u8], |n| *n).is_empty());
    }
}
