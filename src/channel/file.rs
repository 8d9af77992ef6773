//! `file`: appends each message to a file as one JSON line, flushed to disk before it counts
//! as sent.

use super::{Answer, Channel, Outgoing, SendFuture, SendOutcome};
use std::io::{ErrorKind, Write};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug)]
pub(crate) struct File {
    path: PathBuf,
    // Appends from one channel never interleave; the file is opened for each message so
    // that log rotation (moving the file away) just works.
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl File {
    pub fn new(path: String) -> File {
        File {
            path: PathBuf::from(path),
            lock: Arc::new(tokio::sync::Mutex::new(())),
        }
    }
}

fn append(path: &std::path::Path, line: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(line)?;
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
            let _guard = self.lock.lock().await;
            let path = self.path.clone();
            let result = tokio::task::spawn_blocking(move || append(&path, &line)).await;
            match result {
                Ok(Ok(())) => SendOutcome::Sent {
                    answer: Answer::default(),
                    parts: 1,
                },
                Ok(Err(e)) => {
                    let reason = format!("cannot append to {}: {e}", self.path.display());
                    // A missing folder or a forbidden file stays so until someone acts; a
                    // full disk or an interrupted write may clear up.
                    match e.kind() {
                        ErrorKind::NotFound
                        | ErrorKind::PermissionDenied
                        | ErrorKind::IsADirectory
                        | ErrorKind::NotADirectory
                        | ErrorKind::ReadOnlyFilesystem => SendOutcome::permanent(reason),
                        _ => SendOutcome::retry(reason),
                    }
                }
                Err(e) => SendOutcome::retry(format!("the write was interrupted: {e}")),
            }
        })
    }
}
