//! `console`: prints each message, for previews and `--dry-run`.

use super::{Answer, Channel, Outgoing, SendFuture, SendOutcome};
use std::fmt;
use std::io::Write;
use std::sync::{Arc, Mutex};

/// Where the console channel writes: standard output, or a buffer in tests.
#[derive(Clone)]
pub struct ConsoleSink(Arc<Mutex<Box<dyn Write + Send>>>);

impl ConsoleSink {
    pub fn stdout() -> ConsoleSink {
        ConsoleSink::to(std::io::stdout())
    }

    pub fn to(w: impl Write + Send + 'static) -> ConsoleSink {
        ConsoleSink(Arc::new(Mutex::new(Box::new(w))))
    }
}

impl fmt::Debug for ConsoleSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ConsoleSink")
    }
}

#[derive(Debug)]
pub(crate) struct Console {
    sink: ConsoleSink,
}

impl Console {
    pub fn new(sink: ConsoleSink) -> Console {
        Console { sink }
    }

    fn print(&self, msg: &Outgoing) -> std::io::Result<()> {
        // One lock for the whole message so that two messages never interleave.
        let mut w = self.sink.0.lock().unwrap_or_else(|p| p.into_inner());
        writeln!(
            w,
            "── {} · {} · {} · {}",
            msg.community_id,
            msg.source,
            msg.at_rfc3339(),
            msg.key
        )?;
        writeln!(w, "{}", msg.text)?;
        w.flush()
    }
}

impl Channel for Console {
    fn kind(&self) -> &'static str {
        "console"
    }

    fn send<'a>(&'a self, msg: &'a Outgoing) -> SendFuture<'a> {
        Box::pin(async move {
            match self.print(msg) {
                Ok(()) => SendOutcome::Sent {
                    answer: Answer::default(),
                    parts: 1,
                },
                Err(e) => SendOutcome::retry(format!("cannot write to the console: {e}")),
            }
        })
    }
}
