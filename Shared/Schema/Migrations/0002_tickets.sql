-- Tickets, work orders, the residents register and the routing rules (issue 3: intake and dispatch).
-- Policy is data: routing rules are rows, seeded here from STANDARDS.md, per property.

-- A managed property (管理处). `code` is the wire name (events, routing keys, queues).
CREATE TABLE properties (
    code          text PRIMARY KEY CHECK (code ~ '^[a-z0-9][a-z0-9-]{0,31}$'),
    name          text NOT NULL,
    ticket_prefix text NOT NULL UNIQUE CHECK (ticket_prefix ~ '^[A-Z]{1,4}$'),
    time_zone     text NOT NULL DEFAULT 'Asia/Shanghai'
);

-- Residents register: who lives where, how to reach them (P1: confidential; the API masks the
-- phone for roles that do not call residents back, and logs every unmasked read in access_log).
CREATE TABLE residents (
    id                uuid PRIMARY KEY,
    property          text NOT NULL REFERENCES properties (code),
    building          text NOT NULL,
    unit              text NOT NULL,
    name              text NOT NULL,
    phone             text NOT NULL,
    relation          text NOT NULL CHECK (relation IN ('owner', 'tenant', 'family', 'custodian')),
    preferred_channel text NOT NULL DEFAULT 'sms',
    contact_consent   boolean NOT NULL DEFAULT true
);
CREATE INDEX residents_phone ON residents (regexp_replace(phone, '[^0-9]', '', 'g'));
CREATE INDEX residents_unit ON residents (property, building, unit);

-- P1: every read of a resident's unmasked contact, by whom and why.
CREATE TABLE access_log (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    actor      text NOT NULL,
    role       text NOT NULL,
    subject    text NOT NULL,
    purpose    text NOT NULL
);

-- I1 统一编号: the day's count per property (the day in the property's time zone).
CREATE TABLE ticket_counters (
    property text NOT NULL REFERENCES properties (code),
    day      date NOT NULL,
    last     integer NOT NULL,
    PRIMARY KEY (property, day)
);

CREATE TABLE tickets (
    id             uuid PRIMARY KEY,
    property       text NOT NULL REFERENCES properties (code),
    number         text NOT NULL,
    kind           text NOT NULL,
    channel        text NOT NULL,
    building       text,
    unit           text,
    caller_name    text,
    caller_phone   text,
    content        text NOT NULL,
    category       text,
    severity       text,
    emergency_type text,
    requested_at   timestamptz,
    taken_by       text NOT NULL,          -- I2: first-contact owner
    status         text NOT NULL DEFAULT 'open',
    outcome        text,
    round          integer NOT NULL DEFAULT 1,   -- +1 on every reopen; work orders belong to a round
    sequence       integer NOT NULL DEFAULT 1,   -- last timeline entry; every event carries it
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    resolved_at    timestamptz,
    UNIQUE (property, number)
);
CREATE INDEX tickets_list ON tickets (property, created_at DESC);
CREATE INDEX tickets_status ON tickets (status, created_at DESC);

-- The timeline: every event of a ticket and its work orders, in order.
CREATE TABLE ticket_events (
    ticket_id     uuid NOT NULL REFERENCES tickets (id),
    sequence      integer NOT NULL,
    event_id      uuid NOT NULL UNIQUE,
    type          text NOT NULL,
    actor         text NOT NULL,
    role          text,
    at            timestamptz NOT NULL DEFAULT now(),
    work_order_id uuid,
    detail        jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (ticket_id, sequence)
);

-- Idempotency-Key on create: the first result is kept and returned to every retry.
CREATE TABLE idempotency_keys (
    key          text PRIMARY KEY,
    request_hash text NOT NULL,
    ticket_id    uuid NOT NULL REFERENCES tickets (id) DEFERRABLE INITIALLY DEFERRED,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE work_orders (
    id          uuid PRIMARY KEY,
    ticket_id   uuid NOT NULL REFERENCES tickets (id),
    property    text NOT NULL,
    round       integer NOT NULL,
    queue       text NOT NULL,             -- a department, or 'triage' (customer service)
    department  text NOT NULL,
    priority    text NOT NULL,
    status      text NOT NULL DEFAULT 'assigned',
    assignee    text,
    rule_id     text,
    transferred_from uuid REFERENCES work_orders (id),
    outcome     text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
-- One live order per queue per ticket round: a redelivered ticket event cannot make a second.
CREATE UNIQUE INDEX work_orders_one_per_queue ON work_orders (ticket_id, round, queue)
    WHERE status IN ('assigned', 'accepted', 'on_site', 'done');
CREATE INDEX work_orders_ticket ON work_orders (ticket_id);
CREATE INDEX work_orders_queue ON work_orders (property, queue, status);

-- Department routing rules (dispatch). NULL property: the default for every property; a
-- property's own rules are tried first. Within each, by position; the first match decides.
CREATE TABLE routing_rules (
    id              text PRIMARY KEY,
    standard        text,
    property        text REFERENCES properties (code),
    position        integer NOT NULL,
    kinds           text[] NOT NULL DEFAULT '{}',
    categories      text[] NOT NULL DEFAULT '{}',
    keywords        text[] NOT NULL DEFAULT '{}',
    emergency_types text[] NOT NULL DEFAULT '{}',
    departments     text[] NOT NULL CHECK (cardinality(departments) > 0),
    priority        text NOT NULL DEFAULT 'normal' CHECK (priority IN ('urgent', 'high', 'normal', 'low'))
);

-- Sample data: two properties and a few residents, so the desk can look callers up at once.
INSERT INTO properties (code, name, ticket_prefix) VALUES
    ('sunrise-garden', '阳光花园 Sunrise Garden', 'SG'),
    ('harbour-tower', '港湾大厦 Harbour Tower', 'HT');

INSERT INTO residents (id, property, building, unit, name, phone, relation, preferred_channel) VALUES
    ('6f1c2a8e-0d1b-4c1e-9d5a-000000000001', 'sunrise-garden', '3号楼', '2单元1202', '王丽', '13812345678', 'owner', 'wechat'),
    ('6f1c2a8e-0d1b-4c1e-9d5a-000000000002', 'sunrise-garden', '3号楼', '2单元1202', '张伟', '13987654321', 'family', 'sms'),
    ('6f1c2a8e-0d1b-4c1e-9d5a-000000000003', 'sunrise-garden', '5号楼', '1单元0301', '李娜', '13600001111', 'tenant', 'sms'),
    ('6f1c2a8e-0d1b-4c1e-9d5a-000000000004', 'harbour-tower', 'A座', '2805', 'Chen Hao', '+86 139 2222 3333', 'owner', 'email'),
    ('6f1c2a8e-0d1b-4c1e-9d5a-000000000005', 'harbour-tower', 'B座', '1510', '刘洋', '13511112222', 'custodian', 'sms');

-- Default routing, from STANDARDS.md. Kinds with one obvious owner route by kind; complaints,
-- repairs and public-area anomalies route by category or keyword; what nothing matches goes to
-- customer-service triage (never dropped).
INSERT INTO routing_rules (id, standard, position, kinds, categories, keywords, emergency_types, departments, priority) VALUES
    ('emergency',           'R2', 10,  '{emergency}', '{}', '{}', '{}', '{engineering,security}', 'urgent'),
    ('lock-change',         'T2', 20,  '{lock_change}', '{}', '{}', '{}', '{customer_service,concierge,engineering}', 'high'),
    ('door-open',           'T1', 30,  '{door_open}', '{}', '{}', '{}', '{concierge}', 'high'),
    ('parcel',              'T3', 40,  '{parcel}', '{}', '{}', '{}', '{concierge}', 'normal'),
    ('key-loan',            'T9', 50,  '{key_loan}', '{}', '{}', '{}', '{concierge}', 'normal'),
    ('item-loan',           'B7', 60,  '{item_loan}', '{}', '{}', '{}', '{concierge}', 'low'),
    ('fee',                 'B6', 70,  '{fee}', '{}', '{}', '{}', '{finance}', 'normal'),
    ('paid-service',        'B1', 80,  '{paid_service}', '{}', '{}', '{}', '{customer_service}', 'normal'),
    ('move-in',             'T5', 90,  '{move_in}', '{}', '{}', '{}', '{customer_service,engineering}', 'normal'),
    ('move-out',            'T4', 100, '{move_out}', '{}', '{}', '{}', '{customer_service,engineering,finance}', 'high'),
    ('decoration',          'T8', 110, '{decoration}', '{}', '{}', '{}', '{engineering,customer_service}', 'normal'),
    ('nameplate',           'T7', 120, '{nameplate}', '{}', '{}', '{}', '{customer_service}', 'low'),
    ('inquiry',             'I3', 130, '{inquiry}', '{}', '{}', '{}', '{customer_service}', 'normal'),
    ('repair-by-category',  'R1', 200, '{repair}', '{plumbing,electrical,lift,hvac,door,lighting,water,drainage,gas,facility}', '{}', '{}', '{engineering}', 'normal'),
    ('repair-by-keyword',   'R1', 210, '{repair}', '{}', '{漏水,水管,下水,堵,电,灯,空调,电梯,门锁,暖气,leak,pipe,drain,power,light,air con,lift,elevator,heating}', '{}', '{engineering}', 'normal'),
    ('anomaly-facility',    'T6', 300, '{public_anomaly}', '{}', '{漏水,积水,灯,电,电梯,门,leak,flood,light,power,lift,door}', '{}', '{engineering}', 'high'),
    ('anomaly-cleaning',    'T6', 310, '{public_anomaly}', '{}', '{垃圾,脏,异味,卫生,garbage,dirty,smell,litter}', '{}', '{cleaning}', 'normal'),
    ('anomaly-security',    'T6', 320, '{public_anomaly}', '{}', '{可疑,陌生人,停车,消防通道,suspicious,stranger,parking,fire lane}', '{}', '{security}', 'high'),
    ('complaint-cleaning',  'C1', 400, '{complaint}', '{cleaning,sanitation,garbage,greening}', '{}', '{}', '{customer_service,cleaning}', 'normal'),
    ('complaint-security',  'C1', 410, '{complaint}', '{noise,parking,security,access}', '{}', '{}', '{customer_service,security}', 'normal'),
    ('complaint-facility',  'C1', 420, '{complaint}', '{repair,facility,lift,water,electricity}', '{}', '{}', '{customer_service,engineering}', 'normal'),
    ('complaint-service',   'C1', 430, '{complaint}', '{service,staff,fee,billing}', '{}', '{}', '{customer_service}', 'normal'),
    ('complaint-keyword-cleaning', 'C1', 440, '{complaint}', '{}', '{垃圾,保洁,卫生,异味,garbage,cleaning,dirty}', '{}', '{customer_service,cleaning}', 'normal'),
    ('complaint-keyword-noise',    'C1', 450, '{complaint}', '{}', '{噪音,吵,停车,noise,loud,parking}', '{}', '{customer_service,security}', 'normal'),
    ('complaint-keyword-facility', 'C1', 460, '{complaint}', '{}', '{漏水,电梯,维修,停电,leak,lift,elevator,repair}', '{}', '{customer_service,engineering}', 'normal');
