-- The name as partners book it: given and family name, set by the person (PATCH /v1/me).
-- Null: derived from the display name (first word / the rest).
-- depends: 0001_gateway

ALTER TABLE users ADD COLUMN first_name text;
ALTER TABLE users ADD COLUMN last_name text;
