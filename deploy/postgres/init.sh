#!/usr/bin/env bash
# Runs deploy/postgres/init.sql with the service passwords from the environment.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v payment_password="$PAYMENT_DB_PASSWORD" -v orchestrator_password="$ORCHESTRATOR_DB_PASSWORD" \
  -v opentable_password="$OPENTABLE_DB_PASSWORD" -v eventbrite_password="$EVENTBRITE_DB_PASSWORD" \
  -v gateway_password="$GATEWAY_DB_PASSWORD" -f /docker-entrypoint-initdb.d/init.sql.in
