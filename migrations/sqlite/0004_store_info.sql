-- What a store is for, recorded by the first daemon that runs on it: `purpose` is `dry_run`
-- for a store a `drumbeat run --dry-run` used (its messages were printed, never sent), so
-- a real daemon refuses it and a dry run never marks a real store's fires as sent.
CREATE TABLE store_info (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
