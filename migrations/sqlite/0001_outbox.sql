-- Version 1: the outbox of fires and the mark of where the engine stopped.
--
-- Instants are Unix milliseconds (UTC) in INTEGER columns: they compare as numbers and
-- mean the same thing on every machine.

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    -- community/kind/source/channel/instant: the fire's identity, written once.
    fire_key        TEXT    NOT NULL UNIQUE,
    community       TEXT    NOT NULL,
    source          TEXT    NOT NULL,
    channel         TEXT    NOT NULL,
    template        TEXT    NOT NULL,
    -- The rendered message or the payload, exactly what the channel is given.
    body            TEXT    NOT NULL,
    scheduled_at    INTEGER NOT NULL,
    grace_ms        INTEGER NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN
                        ('pending', 'sending', 'sent', 'retrying', 'dead_lettered', 'missed')),
    -- Delivery attempts started (a released claim does not count).
    attempts        INTEGER NOT NULL DEFAULT 0,
    -- When the row is next due: the scheduled instant while pending, the retry instant
    -- while retrying, the end of the lease while sending.
    next_attempt_at INTEGER NOT NULL,
    -- Bumped by every claim, so only the latest claimant can settle the row.
    lease_token     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    -- What the platform answered when it accepted the message.
    answer          TEXT,
    recorded_at     INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    sent_at         INTEGER
) STRICT;

-- Claims look for due rows of one channel; finished rows never need this index.
CREATE INDEX outbox_due ON outbox (channel, next_attempt_at, id)
    WHERE state IN ('pending', 'retrying', 'sending');

-- `status` lists the latest rows in a state.
CREATE INDEX outbox_state ON outbox (state, updated_at);

-- The last instant the engine ran each community: catch-up after downtime starts here.
CREATE TABLE last_runs (
    community TEXT    PRIMARY KEY,
    at        INTEGER NOT NULL
) STRICT;
