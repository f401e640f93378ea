-- Issue 13 (Twilio fidelity): which auth token signed Twilio's webhooks (by a fingerprint, never
-- the token), so --check-setup can say when TWILIO_AUTH_TOKEN_PREVIOUS may go; and per number the
-- permanent failures in a row, so a number is marked unreachable only after SMS_UNREACHABLE_AFTER
-- of them, and its owner is emailed about it once.
CREATE TABLE IF NOT EXISTS "twilio_webhook_signers" (
	"token_fingerprint" text PRIMARY KEY NOT NULL,
	"first_seen_at" timestamp with time zone NOT NULL,
	"last_seen_at" timestamp with time zone NOT NULL,
	"callbacks" bigint DEFAULT 0 NOT NULL
);
--> statement-breakpoint
ALTER TABLE "phone_status" ADD COLUMN IF NOT EXISTS "permanent_failures" integer DEFAULT 0 NOT NULL;
--> statement-breakpoint
ALTER TABLE "phone_status" ADD COLUMN IF NOT EXISTS "unreachable_notified_at" timestamp with time zone;
