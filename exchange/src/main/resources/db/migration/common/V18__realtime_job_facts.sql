-- One script for H2 and PostgreSQL alike (db/migration/common).
-- A real-time job's index row holds the few facts its resource is built from (io.keld.exchange.ixp.RealtimeJob,
-- about 400 bytes of JSON) instead of the resource itself (about 1,600 bytes, repeating them): on the edge's
-- busiest path that resource was most of what PostgreSQL wrote per request. Rows written before keep their resource.
ALTER TABLE ixp_jobs ADD COLUMN realtime_json VARCHAR(4000);
ALTER TABLE ixp_jobs ALTER COLUMN resource_json DROP NOT NULL;
ALTER TABLE ixp_jobs ADD CONSTRAINT ixp_jobs_resource_or_facts CHECK (resource_json IS NOT NULL OR realtime_json IS NOT NULL);
