//! `file`: appends each message to a file as one JSON line, flushed to disk before it counts
//! as sent.
//!
//! Every channel writing to the same path in this process shares one appender, which groups
//! the lines that arrive while a write is under way into the next write, under one flush. A
//! burst of ten thousand messages then costs a handful of `fsync`s instead of ten thousand
//! (about 0.8 ms each on an ordinary disk, and far worse with hundreds of threads contending
//! for the file), and lines from different channels never interleave.

use super::{Answer, Channel, Outgoing, SendFuture, SendOutcome};
use std::collections::HashMap;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::Instant;
use tokio::sync::oneshot;

#[derive(Debug)]
pub(crate) struct File {
    path: PathBuf,
    appender: Arc<Appender>,
}

impl File {
    pub fn new(path: String) -> File {
        let path = PathBuf::from(path);
        File {
            appender: Appender::for_path(&path),
            path,
        }
    }
}

/// What a write answers every line it carried: when the line was on disk (one error goes
/// to many senders, so it is kept as its kind and text).
type Written = Result<Instant, Failed>;

#[derive(Debug, Clone)]
enum Failed {
    Io(ErrorKind, String),
    /// The writer went away: the line may or may not be on disk.
    Interrupted(String),
}

/// The lines waiting for the next write to one file.
#[derive(Debug)]
struct Appender {
    path: PathBuf,
    waiting: Mutex<Vec<(Vec<u8>, oneshot::Sender<Written>)>>,
    /// Whether a writer is at work. It runs on a blocking thread and writes batch after
    /// batch until nothing is waiting, so a line is written at the pace of the disk, not
    /// whenever the task that queued it is next scheduled among ten thousand others.
    writing: AtomicBool,
}

/// The appenders in use, by path; an entry dies with the last channel using it.
static APPENDERS: LazyLock<Mutex<Appenders>> = LazyLock::new(Default::default);

#[derive(Default)]
struct Appenders {
    by_path: HashMap<PathBuf, Weak<Appender>>,
    /// The size at which dead entries are swept next (amortised, so building thousands of
    /// channels stays linear).
    sweep_at: usize,
}

impl Appender {
    fn for_path(path: &Path) -> Arc<Appender> {
        let mut all = APPENDERS.lock().expect("appenders lock");
        if let Some(live) = all.by_path.get(path).and_then(Weak::upgrade) {
            return live;
        }
        if all.by_path.len() >= all.sweep_at {
            all.by_path.retain(|_, a| a.strong_count() > 0);
            all.sweep_at = (all.by_path.len() * 2).max(64);
        }
        let appender = Arc::new(Appender {
            path: path.to_path_buf(),
            waiting: Mutex::new(Vec::new()),
            writing: AtomicBool::new(false),
        });
        all.by_path
            .insert(path.to_path_buf(), Arc::downgrade(&appender));
        appender
    }

    /// Appends `line` and flushes it to disk, together with whatever else is waiting;
    /// answers when it was on disk.
    async fn append(self: &Arc<Self>, line: Vec<u8>) -> Written {
        let (tx, rx) = oneshot::channel();
        self.waiting.lock().expect("waiting lock").push((line, tx));
        if !self.writing.swap(true, Ordering::AcqRel) {
            let me = self.clone();
            tokio::task::spawn_blocking(move || me.write_waiting());
        }
        rx.await
            .unwrap_or_else(|_| Err(Failed::Interrupted("the write was abandoned".into())))
    }

    /// Writes everything waiting, batch after batch, until nothing is.
    fn write_waiting(&self) {
        loop {
            let batch = std::mem::take(&mut *self.waiting.lock().expect("waiting lock"));
            if batch.is_empty() {
                self.writing.store(false, Ordering::Release);
                // A line queued between the take and the store saw a writer at work and
                // started none: look again, unless a new writer has started meanwhile.
                if self.waiting.lock().expect("waiting lock").is_empty()
                    || self.writing.swap(true, Ordering::AcqRel)
                {
                    return;
                }
                continue;
            }
            let (lines, answers): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
            let written = append(&self.path, &lines)
                .map(|()| Instant::now())
                .map_err(|e| Failed::Io(e.kind(), e.to_string()));
            for answer in answers {
                let _ = answer.send(written.clone());
            }
        }
    }
}

/// Opened for each batch, so that log rotation (moving the file away) just works.
fn append(path: &Path, lines: &[Vec<u8>]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    // One write for the batch: an append is never split between other writers' lines.
    f.write_all(&lines.concat())?;
    f.sync_data()
}

impl Channel for File {
    fn kind(&self) -> &'static str {
        "file"
    }

    fn send<'a>(&'a self, msg: &'a Outgoing) -> SendFuture<'a> {
        Box::pin(async move {
            let mut line = serde_json::to_vec(&msg.record()).expect("a JSON value serializes");
            line.push(b'\n');
            match self.appender.append(line).await {
                Ok(at) => SendOutcome::Sent {
                    answer: Answer {
                        accepted: Some(at),
                        ..Answer::default()
                    },
                    parts: 1,
                },
                Err(Failed::Interrupted(reason)) => SendOutcome::retry(reason),
                Err(Failed::Io(kind, e)) => {
                    let reason = format!("cannot append to {}: {e}", self.path.display());
                    // A missing folder or a forbidden file stays so until someone acts; a
                    // full disk or an interrupted write may clear up.
                    match kind {
                        ErrorKind::NotFound
                        | ErrorKind::PermissionDenied
                        | ErrorKind::IsADirectory
                        | ErrorKind::NotADirectory
                        | ErrorKind::ReadOnlyFilesystem => SendOutcome::permanent(reason),
                        _ => SendOutcome::retry(reason),
                    }
                }
            }
        })
    }
}
