-- Where a read side fed from the journals of a known set of entities (kit's PersistenceIdProjection:
-- the books) has got to in each: the sequence number of the entity's last event it applied. Written in
-- the transaction that applies the events, so each event counts exactly once. The projection's row in
-- projection_offsets keeps its generation (a rebuild bumps it and deletes these rows).
CREATE TABLE projection_persistence_id_offsets (
  projection_name  VARCHAR(100) NOT NULL,
  persistence_id   VARCHAR(255) NOT NULL,
  sequence_number  BIGINT       NOT NULL,
  PRIMARY KEY (projection_name, persistence_id)
);
