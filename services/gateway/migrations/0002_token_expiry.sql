-- Bearer tokens expire (TOKEN_TTL_DAYS at issue time) and can be revoked one by one or all at
-- once (when a user is given the ops role). Tokens issued before this migration get the
-- default lifetime from their creation.
-- depends: 0001_gateway

ALTER TABLE api_tokens ADD COLUMN expires_at timestamptz;
UPDATE api_tokens SET expires_at = created_at + interval '30 days' WHERE expires_at IS NULL;
ALTER TABLE api_tokens ALTER COLUMN expires_at SET NOT NULL;
