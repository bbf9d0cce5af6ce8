-- The sender claims due deliveries urgent first, oldest first (DeliveryEngine.sendDue). With only
-- the not_before index, every claim read and sorted every pending row: with a backlog of 20,000
-- that was milliseconds per claim and slowed the sender to a few hundred a second. This index is
-- in the claim's order, so a claim reads the rows it takes and stops.
CREATE INDEX deliveries_claim ON deliveries (urgent DESC, not_before, id) WHERE state = 'pending';
