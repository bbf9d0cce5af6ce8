-- T9: a key-loan ticket is resolved only once no key lent against it is out or awaiting
-- approval; resolving looks its loans up by ticket.
CREATE INDEX key_loans_open_by_ticket ON key_loans (ticket_id) WHERE state IN ('awaiting_approval', 'out');
