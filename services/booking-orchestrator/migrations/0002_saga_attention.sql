-- A saga that needs an operator without having failed (a capture nobody answers, resent for
-- ever after the pivot): why, and since when. Cleared by the saga's next state change.
-- depends: 0001_sagas

ALTER TABLE sagas ADD COLUMN attention text;
ALTER TABLE sagas ADD COLUMN attention_at timestamptz;
CREATE INDEX sagas_attention ON sagas (attention_at) WHERE attention IS NOT NULL;
