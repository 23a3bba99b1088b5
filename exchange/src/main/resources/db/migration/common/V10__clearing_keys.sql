-- One script for H2 and PostgreSQL alike (db/migration/common).
-- The cluster's clearing keys (issue 24, verifiable clearing):
--   purpose 'receipt':   Ed25519 key pairs that sign fill receipts. The newest unretired one signs;
--                        every one stays published (GET /ixp/v1/keys) so old receipts still verify.
--   purpose 'pseudonym': the one HMAC secret behind the public book log's pseudonyms (key_id 'pseudonyms').
-- The first node to start creates what is missing; a unique key id makes concurrent starts agree.
CREATE TABLE clearing_keys (
  key_id      VARCHAR(64)   PRIMARY KEY,
  purpose     VARCHAR(16)   NOT NULL CHECK (purpose IN ('receipt', 'pseudonym')),
  public_key  VARCHAR(512),
  secret      VARCHAR(512)  NOT NULL,
  created_at  TIMESTAMP WITH TIME ZONE NOT NULL,
  retired_at  TIMESTAMP WITH TIME ZONE
);
