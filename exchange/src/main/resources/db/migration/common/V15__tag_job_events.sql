-- One script for H2 and PostgreSQL alike (db/migration/common).
-- Deadline jobs' events are tagged 'jobs' (JobEvent.TAG) from now on: the job index, the job usage
-- rows and their ledger records are a projection of the events with that tag (JobProjection). Events
-- persisted before carry no tag; tag them here so the projection reads every job, old ones included.
-- Replaying an old job changes nothing already written: its index row has that version, and its usage
-- rows and ledger records are keyed by job and leg.
INSERT INTO event_tag (event_id, tag)
SELECT ordering, 'jobs' FROM event_journal WHERE persistence_id LIKE 'DeadlineJob|%';
