-- One script for H2 and PostgreSQL alike (db/migration/common).
-- Where each read side (a projection of the event journal, fed by tag) has got to: the journal
-- ordering of the last event it applied. The read side's rows and this offset are written in one
-- transaction, so an event is applied exactly once. A rebuild clears the read side, puts the offset
-- back to zero and bumps the generation, which makes a running projection start again from zero.
CREATE TABLE projection_offsets (
  projection_name  VARCHAR(100) PRIMARY KEY,
  tag              VARCHAR(256) NOT NULL,
  journal_offset   BIGINT       NOT NULL,
  generation       BIGINT       NOT NULL,
  updated_at       TIMESTAMP WITH TIME ZONE NOT NULL
);
