-- Version 2: what the delivery workers need.

-- Parts of a split message the platform already accepted: a retry resumes after them, so
-- no part reaches the group twice.
ALTER TABLE outbox ADD COLUMN parts_sent INTEGER NOT NULL DEFAULT 0;

-- For a to-do sent on behalf of an assisted channel (`assist: OTHER`): the channel the
-- message is for. The row's `channel` is where the to-do goes.
ALTER TABLE outbox ADD COLUMN assist_for TEXT;

-- When the person confirmed that they posted it (`assist_done`).
ALTER TABLE outbox ADD COLUMN confirmed_at INTEGER;

-- Each (community, channel) is one queue, delivered in scheduled order.
CREATE INDEX outbox_queue ON outbox (community, channel, scheduled_at, id)
    WHERE state IN ('pending', 'retrying', 'sending');

-- Assisted fires still waiting for their confirmation.
CREATE INDEX outbox_unconfirmed ON outbox (community, scheduled_at)
    WHERE assist_for IS NOT NULL AND confirmed_at IS NULL;
