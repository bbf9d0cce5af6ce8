-- Each relay claims its own service's unpublished rows in id order (OutboxRelay.claim). With only
-- `outbox_unpublished (id)`, the claim filtered on `source` after the index, and the planner took
-- a bitmap scan: it visits every entry the partial index still holds, and marking a row published
-- leaves one behind until VACUUM (the update cannot be HOT: `published_at` decides the index's
-- predicate). At 100 tickets/s that was 1.6–2.2 ms per claim, about 60% of PostgreSQL's statement time
-- (pg_stat_statements, BENCHMARKS.md). An index scan in (source, id) order reads the rows it
-- takes and stops, and it marks the dead entries it passes so that the next claims skip them.
CREATE INDEX outbox_unpublished_by_source ON outbox (source, id) WHERE published_at IS NULL;

-- And VACUUM comes by row count, not by a share of the table: the outbox keeps a week of
-- published rows (Retention), so a fifth of it would let the partial index fill with dead
-- entries that every claim walks past. Measured only on a small outbox (BENCHMARKS.md, issue 20).
ALTER TABLE outbox SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000);
