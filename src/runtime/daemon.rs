//! `drumbeat run`: the scheduler, the delivery workers, the HTTP side, reloads and
//! shutdown, wired together.

use super::clock::Clock;
use super::delivery::{Communities, Delivery, Settings, Shared};
use super::intake::Intake;
use super::metrics::Metrics;
use super::program::{self, Build, Community, same_file};
use super::scheduler::Scheduler;
use super::serving::Posted;
use crate::server::{self, Health, Ops};
use crate::store::{self, KeptPlaybook, Store, StoreError};
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// Everything `drumbeat run` was asked to do.
pub struct Config {
    pub paths: Vec<PathBuf>,
    pub store_url: String,
    pub listen: Option<SocketAddr>,
    pub build: Build,
    pub clock: Arc<dyn Clock>,
    /// When the process started, on `clock`: a community run for the first time is planned
    /// from here, so fires due while it loaded are not skipped.
    pub began: DateTime<Utc>,
    pub delivery: Settings,
    /// How far ahead fires are recorded: what `status` can show as next.
    pub lookahead: TimeDelta,
    /// Reload when a playbook file changes (SIGHUP reloads in any case).
    pub watch: bool,
    /// How long finished outbox rows are kept; older ones are pruned once a day.
    pub keep: TimeDelta,
    /// Stop by itself when the clock reaches this instant (a rehearsal of one day).
    pub stop_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// What the daemon is told from outside: signals, file changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Reload,
    Stop,
}

/// Why the daemon did not start or stopped early.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Playbooks with errors: nothing is run.
    #[error("{0}\nerror: the playbooks have errors, so nothing was started")]
    Invalid(String),
    /// Valid playbooks whose channels cannot be built (a missing `${NAME}`, a bad address).
    #[error("{0}\nerror: channels could not be set up, so nothing was started")]
    Channels(String),
    /// Nothing to run.
    #[error("error: no playbooks to run")]
    NoPlaybooks,
    #[error("error: {0}")]
    Store(#[from] StoreError),
    /// The listen address could not be bound, or another start-up step failed.
    #[error("error: {0}")]
    Start(String),
}

/// A running daemon's handles, for reloads.
struct Daemon<S> {
    config: Config,
    store: S,
    communities: Communities,
    scheduler: Scheduler<S>,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
}

/// Runs until told to stop (or `control` closes), then shuts down gracefully: no new
/// work, sends in flight finished, unsent claims handed back, the store closed.
pub async fn run(
    config: Config,
    control: mpsc::UnboundedReceiver<Control>,
    control_tx: mpsc::UnboundedSender<Control>,
) -> Result<(), Failure> {
    store::with_backend!(&config.store_url, S => run_on::<S>(config, control, control_tx).await)
}

/// [`run`] on the store backend `S`.
async fn run_on<S: Store + Clone + 'static>(
    config: Config,
    mut control: mpsc::UnboundedReceiver<Control>,
    control_tx: mpsc::UnboundedSender<Control>,
) -> Result<(), Failure> {
    let clock = config.clock.clone();
    let started = std::time::Instant::now();
    let loaded = {
        let (paths, build) = (config.paths.clone(), config.build.clone());
        tokio::task::spawn_blocking(move || program::load(&paths, &build))
            .await
            .map_err(|e| Failure::Start(e.to_string()))?
    };
    if !loaded.refused.is_empty() {
        let channels_only = loaded.refused.values().all(|r| r.channels);
        let report = loaded
            .refused
            .values()
            .map(|r| r.report.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        return Err(if channels_only {
            Failure::Channels(report)
        } else {
            Failure::Invalid(report)
        });
    }
    if loaded.communities.is_empty() {
        return Err(Failure::NoPlaybooks);
    }
    let _lock = hold_store(&config.store_url)?;
    let store = S::open(&config.store_url).await?;
    // A dry run's printed messages must never count as sent in a real store, nor a real
    // daemon take a dry run's store for its own.
    let dry_run = config.build.dry_run.is_some();
    if dry_run && !store.take_for_dry_run().await? {
        store.close().await;
        return Err(Failure::Start(format!(
            "{} holds a real run's state, and a dry run would mark its fires as sent: give \
             --dry-run a store of its own (leave out --store, or name a new file)",
            config.store_url
        )));
    }
    if !dry_run && store.is_dry_run().await? {
        store.close().await;
        return Err(Failure::Start(format!(
            "{} holds a dry run's state (its messages were printed, not sent): give the real \
             daemon a store of its own",
            config.store_url
        )));
    }
    let now = clock.now();
    // Whatever the last process held under lease, it holds no more.
    let recovered = store.recover(now).await?;
    let missed = store.mark_missed(now).await?;
    let metrics = Arc::new(Metrics::new());
    let health = Arc::new(Health::new());
    metrics.missed_after_downtime(missed);
    if recovered > 0 || missed > 0 {
        tracing::info!(
            recovered,
            missed,
            "took over unfinished sends; recorded fires past their grace as missed"
        );
    }
    let kept = loaded.kept;
    let communities = super::delivery::communities_of(loaded.communities);
    let count = communities.read().expect("communities lock").len() as u64;
    metrics.set_playbooks(count);
    health.set_playbooks(count);
    let (stop_tx, stopping) = watch::channel(false);
    let delivery = Delivery::start(Shared {
        store: store.clone(),
        clock: clock.clone(),
        communities: communities.clone(),
        metrics: metrics.clone(),
        health: health.clone(),
        settings: config.delivery,
        stopping,
    });
    for active in store.active_queues().await? {
        delivery.wake(&active.queue, active.due);
    }
    let mut scheduler = Scheduler::new(
        store.clone(),
        communities.clone(),
        delivery.clone(),
        metrics.clone(),
        config.lookahead,
    );
    scheduler.horizon = config.stop_at;
    let intake = {
        let delivery = delivery.clone();
        Arc::new(
            Intake::new(store.clone(), communities.clone())
                .with_waker(Arc::new(move |queue, at| delivery.wake(queue, at)))
                .with_metrics(metrics.clone()),
        )
    };
    scheduler.intake = Some(intake.clone());
    store.save_playbooks(&kept, now).await?;
    drop(kept);
    let server = match config.listen {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| Failure::Start(format!("cannot listen on {addr}: {e}")))?;
            let bound = listener.local_addr().ok();
            tracing::info!(listen = ?bound, "serving /healthz and /metrics");
            let auth = server::events::Auth::from_env(&*config.build.env);
            if auth.is_on() {
                tracing::info!("taking member events on POST /v1/events");
            } else {
                tracing::warn!(
                    "POST /v1/events is off: set DRUMBEAT_EVENTS_TOKEN or DRUMBEAT_EVENTS_SECRET"
                );
            }
            let ops = Ops {
                metrics: metrics.clone(),
                health: health.clone(),
                events: Some(server::events::EventsRoute {
                    intake: Arc::new(Posted::new(intake.clone(), clock.clone())),
                    auth,
                }),
            };
            let mut stop = stop_tx.subscribe();
            Some(tokio::spawn(server::serve(listener, ops, async move {
                let _ = stop.wait_for(|s| *s).await;
            })))
        }
        None => None,
    };
    let mut watcher = if config.watch {
        match Watch::start(&config.paths, control_tx) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch the playbook files; reload with SIGHUP");
                None
            }
        }
    } else {
        None
    };
    // Each community resumes from its mark, or for a first run from when the process began.
    let began = config.began;
    let ids: Vec<String> = communities
        .read()
        .expect("communities lock")
        .keys()
        .cloned()
        .collect();
    scheduler.resume_all(&ids, began).await?;
    // The first tick catches up from each community's mark.
    let first = clock.now();
    if let Err(e) = scheduler.tick(first).await {
        return Err(Failure::Store(e));
    }
    health.tick(first);
    give_back_freed_memory();
    health.set_ready(true);
    tracing::info!(
        playbooks = count,
        store = %config.store_url,
        startup_ms = started.elapsed().as_millis() as u64,
        "running"
    );
    let mut daemon = Daemon {
        config,
        store,
        communities,
        scheduler,
        metrics,
        health,
    };
    // Housekeeping (health, metrics, planning the next slice) runs at least this often.
    let every = (daemon.scheduler.lookahead / 2).min(TimeDelta::seconds(30));
    let mut pruned_at: Option<chrono::DateTime<chrono::Utc>> = None;
    loop {
        let now = clock.now();
        if pruned_at.is_none_or(|at| now - at >= TimeDelta::days(1)) {
            pruned_at = Some(now);
            match daemon.store.prune(now - daemon.config.keep).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(rows = n, "pruned finished outbox rows"),
                Err(e) => tracing::warn!(error = %e, "could not prune the outbox"),
            }
        }
        if let Ok(c) = daemon.store.counts_by_state().await {
            daemon.metrics.set_queue_depth(c.queued());
        }
        if daemon.config.stop_at.is_some_and(|at| now >= at) {
            break;
        }
        let mut wake = match daemon.config.stop_at {
            Some(at) => (now + every).min(at),
            None => now + every,
        };
        if let Some(at) = daemon.scheduler.next_wake(now, wake) {
            wake = at;
        }
        // While the store fails, try again every few seconds of real time.
        let failing = daemon.health.store_problem().is_some();
        tokio::select! {
            _ = clock.sleep_until(wake) => {}
            _ = tokio::time::sleep(std::time::Duration::from_secs(2)), if failing => {}
            c = control.recv() => match c {
                Some(Control::Reload) => {
                    // Editors write a file in several steps: let them finish.
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    let mut stop = false;
                    while let Ok(more) = control.try_recv() {
                        stop |= more == Control::Stop;
                    }
                    if stop {
                        break;
                    }
                    daemon.reload().await;
                    if let Some(w) = &mut watcher {
                        w.follow_links(&daemon.config.paths);
                    }
                }
                Some(Control::Stop) | None => break,
            }
        }
        // `last_tick` moves only when the round's fires and marks were written, so a
        // scheduler that cannot record shows as stuck.
        let now = clock.now();
        match daemon.scheduler.tick(now).await {
            Ok(_) => {
                super::delivery::store_wrote(&daemon.health);
                daemon.health.tick(now);
            }
            Err(e) => super::delivery::store_failed(
                &daemon.health,
                now,
                &e,
                "could not record due fires; trying again",
            ),
        }
    }
    tracing::info!("stopping: finishing sends in flight");
    daemon.health.set_ready(false);
    let _ = stop_tx.send(true);
    delivery.finish().await;
    if let Some(server) = server {
        let _ = server.await;
    }
    daemon.store.close().await;
    tracing::info!("stopped");
    Ok(())
}

impl<S: Store + Clone + 'static> Daemon<S> {
    /// Loads the files again. A valid new version of a playbook replaces the old one from
    /// now on; a file with errors is refused and its communities keep running as they were.
    async fn reload(&mut self) {
        let (paths, build) = (self.config.paths.clone(), self.config.build.clone());
        let loaded = match tokio::task::spawn_blocking(move || program::load(&paths, &build)).await
        {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "reload failed");
                return;
            }
        };
        let now = self.config.clock.now();
        for (path, refusal) in &loaded.refused {
            self.metrics.reload(false);
            tracing::error!(
                file = %path.display(),
                diagnostics = %refusal.report,
                "reload refused; the running version stays"
            );
        }
        let old = self.communities.read().expect("communities lock").clone();
        let mut next: HashMap<String, Arc<Community>> = HashMap::new();
        for (id, c) in old.iter() {
            if loaded.refused.keys().any(|p| same_file(p, &c.path)) {
                next.insert(id.clone(), c.clone());
            }
        }
        let (mut changed, mut added) = (Vec::new(), Vec::new());
        let kept = loaded.kept;
        for c in loaded.communities {
            let id = c.id().to_string();
            if next.contains_key(&id) {
                continue;
            }
            match old.get(&id) {
                Some(o) if o.digest == c.digest && same_file(&o.path, &c.path) => {
                    next.insert(id, o.clone());
                }
                Some(_) => {
                    changed.push(id.clone());
                    next.insert(id, Arc::new(c));
                }
                None => {
                    added.push(id.clone());
                    next.insert(id, Arc::new(c));
                }
            }
        }
        let removed: Vec<String> = old
            .keys()
            .filter(|id| !next.contains_key(*id))
            .cloned()
            .collect();
        let count = next.len() as u64;
        *self.communities.write().expect("communities lock") = Arc::new(next);
        for id in &changed {
            match self.store.cancel_pending(id, now).await {
                Ok(dropped) => {
                    tracing::info!(community = %id, replanned = dropped, "playbook replaced; its schedule changes from now")
                }
                Err(e) => {
                    tracing::error!(community = %id, error = %e, "could not drop the old version's fires")
                }
            }
            self.scheduler.restart_from(id, now);
        }
        for id in &added {
            tracing::info!(community = %id, "playbook added");
        }
        for id in &removed {
            if let Err(e) = self.store.cancel_pending(id, now).await {
                tracing::error!(community = %id, error = %e, "could not drop the fires of a removed playbook");
            }
            self.scheduler.forget(id);
            tracing::info!(community = %id, "playbook removed");
        }
        if !(changed.is_empty() && added.is_empty() && removed.is_empty()) {
            self.metrics.reload(true);
        }
        give_back_freed_memory();
        self.metrics.set_playbooks(count);
        self.health.set_playbooks(count);
        // The store keeps the text of each playbook that changed or came.
        let fresh: Vec<KeptPlaybook> = kept
            .into_iter()
            .filter(|k| changed.contains(&k.community) || added.contains(&k.community))
            .collect();
        if let Err(e) = self.store.save_playbooks(&fresh, now).await {
            tracing::error!(error = %e, "could not keep the playbooks in the store");
        }
    }
}

/// Hands the memory that loading freed back to the system. Loading parses the files on
/// every core, and glibc keeps what each thread freed in that thread's arena: with ten
/// thousand playbooks about a tenth of the daemon's resident memory would otherwise be
/// held for the texts and parse trees of files long since compiled.
fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointers; it only returns free pages of glibc's own
    // arenas to the system and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Takes the lock that makes this process the only daemon running with a SQLite store:
/// two would each take over the other's sends. The lock is a `.lock` file beside the
/// store, held (not merely present) while the process lives, so a crash never leaves it
/// stuck. It is taken on the store's real path, symbolic links followed, and on the store
/// file itself, so no other name for the same file (a link, another mount) gets past it.
fn hold_store(url: &str) -> Result<Option<Vec<std::fs::File>>, Failure> {
    use std::io::{Read, Seek, Write};
    let Ok(store::StoreUrl::Sqlite { path }) = store::StoreUrl::parse(url) else {
        return Ok(None);
    };
    let real = real_path(&path);
    let mut lock_path = real.clone().into_os_string();
    lock_path.push(".lock");
    let lock_path = PathBuf::from(lock_path);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(|e| Failure::Start(format!("cannot open {}: {e}", lock_path.display())))?;
    let taken = |holder: &str| {
        Failure::Start(format!(
            "another drumbeat run (pid {holder}) is using the store {}; one daemon per store",
            path.display()
        ))
    };
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            return Err(taken(holder.trim()));
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(Failure::Start(format!(
                "cannot lock {}: {e}",
                lock_path.display()
            )));
        }
    }
    let mut held = Vec::new();
    // The store file's own lock (flock, which SQLite's byte-range locks never meet),
    // created empty if new: SQLite takes an empty file for a new database.
    let store_file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&real);
    if let Ok(store_file) = store_file {
        match store_file.try_lock() {
            Ok(()) => held.push(store_file),
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(taken("unknown: it reached the file by another name"));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(Failure::Start(format!(
                    "cannot lock {}: {e}",
                    real.display()
                )));
            }
        }
    }
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = write!(file, "{}", std::process::id());
    let _ = file.flush();
    held.push(file);
    Ok(Some(held))
}

/// `path` with every symbolic link resolved, also when the file itself does not exist yet
/// (then its folder is resolved, and a dangling link followed to where it points).
fn real_path(path: &std::path::Path) -> PathBuf {
    if let Ok(real) = std::fs::canonicalize(path) {
        return real;
    }
    let target = match std::fs::read_link(path) {
        Ok(t) if t.is_absolute() => t,
        Ok(t) => path.parent().unwrap_or(std::path::Path::new(".")).join(t),
        Err(_) => path.to_path_buf(),
    };
    let folder = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    match (std::fs::canonicalize(folder), target.file_name()) {
        (Ok(folder), Some(name)) => folder.join(name),
        _ => target,
    }
}

/// Watches the playbook files and folders; any change to a `*.yaml`/`*.yml`, or to a file a
/// playbook links to, asks for a reload. Files are watched through their folder, so an
/// editor that replaces a file by renaming a new one over it is still seen.
struct Watch {
    watcher: notify::RecommendedWatcher,
    /// The files playbooks link to (resolved), whatever their name.
    targets: Arc<std::sync::Mutex<std::collections::HashSet<PathBuf>>>,
    /// Folders watched already, resolved; `true` when with everything under them.
    folders: HashMap<PathBuf, bool>,
}

impl Watch {
    fn start(paths: &[PathBuf], control: mpsc::UnboundedSender<Control>) -> notify::Result<Watch> {
        use notify::{RecursiveMode, Watcher};
        let targets: Arc<std::sync::Mutex<std::collections::HashSet<PathBuf>>> = Arc::default();
        let linked = targets.clone();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let Ok(event) = event else { return };
                if matches!(event.kind, notify::EventKind::Access(_)) {
                    return;
                }
                let relevant = event.paths.iter().any(|p| {
                    p.extension().is_some_and(|e| e == "yaml" || e == "yml")
                        || linked.lock().is_ok_and(|t| t.contains(p))
                });
                if relevant {
                    let _ = control.send(Control::Reload);
                }
            })?;
        let mut folders = HashMap::new();
        for p in paths {
            let (folder, recursive) = if p.is_dir() {
                (p.clone(), true)
            } else {
                match p.parent() {
                    Some(d) if !d.as_os_str().is_empty() => (d.to_path_buf(), false),
                    _ => (PathBuf::from("."), false),
                }
            };
            let mode = if recursive {
                RecursiveMode::Recursive
            } else {
                RecursiveMode::NonRecursive
            };
            watcher.watch(&folder, mode)?;
            folders.insert(folder.canonicalize().unwrap_or(folder), recursive);
        }
        let mut w = Watch {
            watcher,
            targets,
            folders,
        };
        w.follow_links(paths);
        Ok(w)
    }

    /// Watches the folder of each file a playbook links to (a symbolic link, here or in a
    /// linked folder), so that editing the file itself reloads. Called again after every
    /// reload: links may have been added or pointed elsewhere.
    fn follow_links(&mut self, paths: &[PathBuf]) {
        use notify::{RecursiveMode, Watcher};
        let mut scratch = crate::diag::Diagnostics::new();
        let mut targets = std::collections::HashSet::new();
        for file in crate::playbook::load::expand_paths(paths, &mut scratch) {
            let Ok(real) = file.canonicalize() else {
                continue;
            };
            let Some(folder) = real.parent().map(Path::to_path_buf) else {
                continue;
            };
            let covered = self.folders.contains_key(&folder)
                || self
                    .folders
                    .iter()
                    .any(|(f, recursive)| *recursive && folder.starts_with(f));
            if !covered {
                match self.watcher.watch(&folder, RecursiveMode::NonRecursive) {
                    Ok(()) => {
                        self.folders.insert(folder, false);
                    }
                    Err(e) => tracing::warn!(
                        file = %file.display(),
                        error = %e,
                        "cannot watch the file this playbook links to; reload with SIGHUP"
                    ),
                }
            }
            targets.insert(real);
        }
        if let Ok(mut t) = self.targets.lock() {
            *t = targets;
        }
    }
}
