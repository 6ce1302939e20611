-- Sign-in with email and password: an optional password per user (only its Argon2id hash, in
-- PHC form, is kept), and session tokens beside the API keys. A session is what signing in
-- returns: a bearer token like an API key (only its SHA-256 is kept, it works on every route a
-- key does) that expires after SESSION_TTL_S. Failed sign-ins are counted in rate_buckets
-- (keyed by the email's hash and by the client), so no table is needed for them.
-- depends: 0002_token_expiry

ALTER TABLE users ADD COLUMN password_hash text;
ALTER TABLE api_tokens ADD COLUMN kind text NOT NULL DEFAULT 'api_key'
    CHECK (kind IN ('api_key', 'session'));
CREATE INDEX api_tokens_expired_sessions ON api_tokens (expires_at) WHERE kind = 'session';
