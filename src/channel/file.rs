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
use std::sync::{Arc, LazyLock, Mutex, Weak};
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

/// What a write answers every line it carried (one error goes to many senders, so it is
/// kept as its kind and text).
type Written = Result<(), Failed>;

#[derive(Debug, Clone)]
enum Failed {
    Io(ErrorKind, String),
    /// The writing task died or was dropped: the line may or may not be on disk.
    Interrupted(String),
}

/// The lines waiting for the next write to one file.
#[derive(Debug)]
struct Appender {
    path: PathBuf,
    waiting: Mutex<Vec<(Vec<u8>, oneshot::Sender<Written>)>>,
    /// Held while a batch is written; whoever takes it writes everything waiting.
    writing: tokio::sync::Mutex<()>,
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
            writing: tokio::sync::Mutex::new(()),
        });
        all.by_path
            .insert(path.to_path_buf(), Arc::downgrade(&appender));
        appender
    }

    /// Appends `line` and flushes it to disk, together with whatever else is waiting.
    async fn append(&self, line: Vec<u8>) -> Written {
        let (tx, mut rx) = oneshot::channel();
        self.waiting.lock().expect("waiting lock").push((line, tx));
        // Either a writer takes our line into its batch and answers, or we get to write.
        // Waiting for both means the senders of a batch never queue for the lock one after
        // another just to find their answer.
        let _writing = tokio::select! {
            biased;
            done = &mut rx => {
                return done.unwrap_or_else(|_| Err(Failed::Interrupted("the write was abandoned".into())));
            }
            writing = self.writing.lock() => writing,
        };
        // Written by the writer before us, in its batch.
        if let Ok(done) = rx.try_recv() {
            return done;
        }
        let batch = std::mem::take(&mut *self.waiting.lock().expect("waiting lock"));
        let (lines, answers): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
        let path = self.path.clone();
        let written = tokio::task::spawn_blocking(move || {
            append(&path, &lines).map_err(|e| Failed::Io(e.kind(), e.to_string()))
        })
        .await
        .unwrap_or_else(|e| {
            Err(Failed::Interrupted(format!(
                "the write was interrupted: {e}"
            )))
        });
        for answer in answers {
            let _ = answer.send(written.clone());
        }
        rx.await
            .unwrap_or_else(|_| Err(Failed::Interrupted("the write was abandoned".into())))
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
                Ok(()) => SendOutcome::Sent {
                    answer: Answer::default(),
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
