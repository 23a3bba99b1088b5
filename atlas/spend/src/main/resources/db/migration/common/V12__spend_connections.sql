-- One script for H2 and PostgreSQL alike (db/migration/common).
-- Connections: an organization's credential for a provider's organization usage and cost APIs, which
-- the node pulls from on a schedule. The credential is held only as AES-256-GCM ciphertext under the
-- node's master key (as Trade's endpoint credentials are), with the row's id as associated data.
CREATE TABLE usage_connections (
  id                   VARCHAR(64)   PRIMARY KEY,
  org_id               VARCHAR(64)   NOT NULL,
  provider             VARCHAR(64)   NOT NULL,
  name                 VARCHAR(200)  NOT NULL,
  credential_sealed    VARCHAR(4000) NOT NULL,
  -- Usage and cost before this time are in the ledger: the next pull starts here.
  watermark            TIMESTAMP WITH TIME ZONE NOT NULL,
  created_at           TIMESTAMP WITH TIME ZONE NOT NULL,
  last_attempt_at      TIMESTAMP WITH TIME ZONE,
  last_success_at      TIMESTAMP WITH TIME ZONE,
  last_error           VARCHAR(1000),
  last_error_at        TIMESTAMP WITH TIME ZONE,
  -- Which node is pulling, until when: two nodes never pull one connection at once.
  lease_owner          VARCHAR(200),
  lease_until          TIMESTAMP WITH TIME ZONE
);
CREATE INDEX usage_connections_org ON usage_connections (org_id);
