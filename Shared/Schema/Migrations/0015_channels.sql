-- Channels real offices use (issue 19): WeChat for residents, limits shared across replicas, and
-- SMS delivery receipts.

-- A resident who follows the property's WeChat service account (服务号) is reached there: their
-- OpenID for that account. Confidential like the phone: never logged, never in an event.
ALTER TABLE residents ADD COLUMN wechat_openid text CHECK (wechat_openid ~ '^[A-Za-z0-9_-]{6,64}$');

-- What a templated channel (WeChat) fills its fields from: the message's facts (number, kind,
-- status, time), rendered in the resident's language when the delivery was written.
ALTER TABLE deliveries ADD COLUMN facts jsonb NOT NULL DEFAULT '{}';
-- The gateway's own id for the message (Aliyun's BizId, Tencent's SerialNo), read from its reply:
-- a delivery receipt names it.
ALTER TABLE deliveries ADD COLUMN provider_ref text;
ALTER TABLE deliveries ADD COLUMN delivered_at timestamptz;
-- Not unique: a gateway that repeats an id must not stop its sends from being recorded; a receipt
-- goes to the latest message with its id.
CREATE INDEX deliveries_provider_ref ON deliveries (channel, provider_ref) WHERE provider_ref IS NOT NULL;
-- sent → delivered (the gateway's receipt says the phone has it) or failed (it says it never
-- arrived: the next contact is tried). An unknown SMS whose receipt comes is settled by it.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_state_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_state_check
    CHECK (state IN ('pending', 'sending', 'sent', 'delivered', 'fell_back', 'failed', 'unknown'));

-- Every receipt a gateway pushed, as it came (the phone number is left out), and what it did: a
-- replayed receipt matches a row here and changes nothing.
CREATE TABLE sms_receipts (
    id           bigserial PRIMARY KEY,
    gateway      text NOT NULL CHECK (gateway IN ('aliyun', 'tencent')),
    provider_ref text NOT NULL,
    success      boolean NOT NULL,
    code         text NOT NULL,
    reported_at  text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    delivery_id  bigint REFERENCES deliveries (id),
    -- applied: it moved the delivery; unknown: no delivery has that id; stale: the delivery had
    -- moved on already (a replay, or a receipt for a row that is no longer sent).
    outcome      text NOT NULL CHECK (outcome IN ('applied', 'unknown', 'stale')),
    UNIQUE (gateway, provider_ref, success, code, reported_at)
);

-- One budget per limited channel (per robot for the group robots), for every replica at once: the
-- times of the last sends (Unix seconds on the database's clock; numbers, so a claim reads and
-- writes them cheaply), oldest first. A send may go when fewer than `limit` of them fall in the
-- window; `DeliveryEngine` takes them under this row's lock.
CREATE TABLE channel_budgets (
    key    text PRIMARY KEY,
    recent float8[] NOT NULL DEFAULT '{}'
);

-- A provider's access token (WeChat), shared by every replica: fetched by one, refreshed before
-- it expires, replaced when the provider says it is no longer valid.
CREATE TABLE channel_tokens (
    key        text PRIMARY KEY,
    token      text NOT NULL,
    expires_at timestamptz NOT NULL,
    fetched_at timestamptz NOT NULL DEFAULT now(),
    -- A replica is fetching a new one until then; the others wait for it.
    refreshing_until timestamptz
);

GRANT SELECT, INSERT, UPDATE ON sms_receipts, channel_budgets, channel_tokens TO propdesk_notification;
GRANT USAGE ON SEQUENCE sms_receipts_id_seq TO propdesk_notification;
