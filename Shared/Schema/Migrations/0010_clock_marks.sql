-- The order of a ticket's events no longer decides its clocks (issue 13). Relays in several
-- replicas, and a re-sent batch, can deliver `acknowledged` before `created`. Every event that
-- moves a clock leaves a mark here, in the same transaction as its effect; a clock planted later
-- is written already met if a mark in its round meets it (at the mark's time), or cancelled if
-- the ticket was cancelled or has moved on to a later round. The escalation service serialises a
-- ticket's events on an advisory lock, so two replicas see each other's marks.
CREATE TABLE clock_marks (
    ticket_id   uuid NOT NULL REFERENCES tickets(id),
    round       integer NOT NULL,
    event       text NOT NULL,
    occurred_at timestamptz NOT NULL,
    PRIMARY KEY (ticket_id, round, event)
);

-- A reopened ticket's earlier rounds are over: their follow-up and result clocks (F1–F3, C6) no
-- longer run. Clocks planted before this migration are ended here the same way.
UPDATE deadlines d SET state = 'cancelled'
WHERE d.state = 'pending' AND EXISTS (SELECT 1 FROM deadlines later WHERE later.ticket_id = d.ticket_id AND later.round > d.round);
