-- Version 3: members and what happens to them.

-- Every event taken in, in the order it was applied (`seq`). An id is taken once per
-- community: a repeat is acknowledged and changes nothing.
CREATE TABLE events (
    seq         INTEGER PRIMARY KEY,
    community   TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    type        TEXT    NOT NULL,
    member      TEXT,
    at          INTEGER NOT NULL,
    -- The offset the sender gave, in seconds east of UTC (to show the time as sent).
    offset_s    INTEGER NOT NULL,
    data        TEXT    NOT NULL,
    received_at INTEGER NOT NULL,
    UNIQUE (community, id)
) STRICT;

CREATE INDEX events_member ON events (community, member, seq);

-- People who applied to or joined a community. Balances, streaks, tiers and badges are not
-- here: they are derived from the ledger and the events.
CREATE TABLE members (
    community   TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    name        TEXT,
    -- applicant, member, left, removed
    status      TEXT    NOT NULL,
    applied_at  INTEGER,
    joined_at   INTEGER,
    birthday    TEXT,
    profile     TEXT    NOT NULL DEFAULT '{}',
    referrer    TEXT,
    last_active INTEGER,
    PRIMARY KEY (community, id)
) STRICT, WITHOUT ROWID;

-- Append-only: every change to a balance is a line, never an update.
CREATE TABLE ledger (
    seq       INTEGER PRIMARY KEY,
    community TEXT    NOT NULL,
    member    TEXT    NOT NULL,
    at        INTEGER NOT NULL,
    points    INTEGER NOT NULL,
    -- points:RULE, streak:RULE, referral, opening, ...
    reason    TEXT    NOT NULL,
    detail    TEXT,
    -- The event that caused it, if one did.
    event     TEXT
) STRICT;

CREATE INDEX ledger_member ON ledger (community, member, seq);

-- Offences against group rules, and what was done about each.
CREATE TABLE offences (
    seq       INTEGER PRIMARY KEY,
    community TEXT    NOT NULL,
    member    TEXT    NOT NULL,
    rule      TEXT    NOT NULL,
    -- The member's n-th offence against this rule.
    n         INTEGER NOT NULL,
    penalty   TEXT    NOT NULL,
    -- done, task (sent to the admins), or warned
    action    TEXT    NOT NULL,
    at        INTEGER NOT NULL,
    event     TEXT    NOT NULL
) STRICT;

CREATE INDEX offences_member ON offences (community, member, seq);

-- Things that happen to a member once: a badge, a tier reached, a recall for an inactive
-- stretch, an elimination warning.
CREATE TABLE milestones (
    community TEXT    NOT NULL,
    member    TEXT    NOT NULL,
    -- badge:ID, tier:ID, recall:STRETCH-START, warn:STRETCH-START
    what      TEXT    NOT NULL,
    at        INTEGER NOT NULL,
    PRIMARY KEY (community, member, what)
) STRICT, WITHOUT ROWID;

-- Lottery draws, with what reproduces each: the seed, the eligible members in the order
-- drawn from, and how many winners were wanted.
CREATE TABLE draws (
    id        TEXT    PRIMARY KEY,
    community TEXT    NOT NULL,
    lottery   TEXT    NOT NULL,
    at        INTEGER NOT NULL,
    seed      INTEGER NOT NULL,
    wanted    INTEGER NOT NULL,
    eligible  TEXT    NOT NULL,
    winners   TEXT    NOT NULL
) STRICT;

-- The playbook each community last ran with, so commands that read the store alone
-- (`members`, `leaderboard`) derive tiers, streaks and badges with the same rules.
CREATE TABLE playbooks (
    community TEXT    PRIMARY KEY,
    path      TEXT    NOT NULL,
    source    TEXT    NOT NULL,
    loaded_at INTEGER NOT NULL
) STRICT;

-- Messages members' events and the daily jobs caused: they count against `daily_limit`.
CREATE INDEX outbox_caused ON outbox (scheduled_at)
    WHERE source LIKE 'event/%' OR source LIKE 'daily/%';
