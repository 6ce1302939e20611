-- Production roles and schemas: one role per service, owning only its schema.
-- (In dev and tests each service provisions this itself; in production DB_PROVISION=false.)
-- Passwords come from the secret store; replace the placeholders at deploy time.
CREATE ROLE booking_payment LOGIN PASSWORD :'payment_password';
CREATE ROLE booking_orchestrator LOGIN PASSWORD :'orchestrator_password';
CREATE ROLE booking_opentable LOGIN PASSWORD :'opentable_password';
CREATE ROLE booking_eventbrite LOGIN PASSWORD :'eventbrite_password';
CREATE ROLE booking_gateway LOGIN PASSWORD :'gateway_password';
CREATE SCHEMA payment AUTHORIZATION booking_payment;
CREATE SCHEMA orchestrator AUTHORIZATION booking_orchestrator;
CREATE SCHEMA opentable AUTHORIZATION booking_opentable;
CREATE SCHEMA eventbrite AUTHORIZATION booking_eventbrite;
CREATE SCHEMA gateway AUTHORIZATION booking_gateway;
ALTER ROLE booking_payment SET search_path = payment;
ALTER ROLE booking_orchestrator SET search_path = orchestrator;
ALTER ROLE booking_opentable SET search_path = opentable;
ALTER ROLE booking_eventbrite SET search_path = eventbrite;
ALTER ROLE booking_gateway SET search_path = gateway;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
