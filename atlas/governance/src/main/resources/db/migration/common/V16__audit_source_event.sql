-- One script for H2 and PostgreSQL alike (db/migration/common).
-- An audit row written from an event (a budget's soft cap crossed: SoftCapAlerts, a projection of the
-- journal) names that event, so replaying it writes nothing twice. Rows of audited calls have none;
-- a unique index lets any number of NULLs through on both databases.
ALTER TABLE atlas_audit_log ADD COLUMN source_event VARCHAR(300);
CREATE UNIQUE INDEX atlas_audit_log_source_event ON atlas_audit_log (source_event);
