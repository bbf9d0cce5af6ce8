-- Each relay claims its own service's unpublished rows in id order (OutboxRelay.claim). With only
-- `outbox_unpublished (id)`, the claim filtered on `source` after the index, and the planner took
-- a bitmap scan: it visits every entry the partial index still holds, and marking a row published
-- leaves one behind until VACUUM (the update cannot be HOT: `published_at` decides the index's
-- predicate). At 100 tickets/s that was 1.6–2.2 ms per claim and about 60% of PostgreSQL's CPU
-- (pg_stat_statements, BENCHMARKS.md). An index scan in (source, id) order reads the rows it
-- takes and stops, and it marks the dead entries it passes so that the next claims skip them.
CREATE INDEX outbox_unpublished_by_source ON outbox (source, id) WHERE published_at IS NULL;

-- And the dead entries go soon, by row count rather than by a share of a table that Retention
-- keeps small.
ALTER TABLE outbox SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000);
