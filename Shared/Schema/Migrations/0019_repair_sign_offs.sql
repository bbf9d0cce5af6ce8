-- R5 (issue 17): a completed repair order is class A (under warranty: the builder's contractor
-- pays, and billing's approval charges the contractor's quality deposit) or class B (the
-- company pays); its completion is inspected and the customer signs — a name typed with the
-- time, or a signature drawn in the console, kept as the strokes' numbers (never as markup).
-- One sign-off per work order, never changed.
CREATE TABLE work_order_sign_offs (
    work_order_id   uuid PRIMARY KEY REFERENCES work_orders (id),
    ticket_id       uuid NOT NULL REFERENCES tickets (id),
    property        text NOT NULL REFERENCES properties (code),
    repair_class    text NOT NULL CHECK (repair_class IN ('A', 'B')),
    contractor      text,
    inspected_by    uuid NOT NULL REFERENCES staff (id),
    inspection_note text,
    signer          text NOT NULL CHECK (length(signer) BETWEEN 1 AND 80),
    -- {"strokes": [[[x, y], …], …]} in a 1000 × 400 box; null: the name was typed.
    drawn           jsonb,
    signed_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (repair_class = 'B' OR contractor IS NOT NULL)
);
CREATE INDEX work_order_sign_offs_property ON work_order_sign_offs (property, signed_at DESC);
CREATE TRIGGER work_order_sign_offs_append_only BEFORE UPDATE OR DELETE ON work_order_sign_offs
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();

GRANT SELECT, INSERT ON work_order_sign_offs TO propdesk_intake;
GRANT SELECT ON work_order_sign_offs TO propdesk_billing;
