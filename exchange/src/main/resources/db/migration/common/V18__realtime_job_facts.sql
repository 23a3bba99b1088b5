-- One script for H2 and PostgreSQL alike (db/migration/common).
-- A real-time job's index row holds the few facts its resource is built from (io.keld.exchange.ixp.RealtimeJob,
-- about 400 bytes of JSON) instead of the resource itself (about 1,600 bytes, repeating them): on the edge's
-- busiest path that resource was most of what PostgreSQL wrote per request. Rows written before keep their resource.
-- Both statements change only the catalog (no table scan, no rewrite), so a large table migrates at once.
-- Nodes from before this version cannot read the new rows: see OPERATIONS.md, "Upgrading past V18".
ALTER TABLE ixp_jobs ADD COLUMN realtime_json VARCHAR(4000);
ALTER TABLE ixp_jobs ALTER COLUMN resource_json DROP NOT NULL;
