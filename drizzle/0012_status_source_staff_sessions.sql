-- Staff sessions end after STAFF_SESSION_IDLE_MINUTES without use: the session remembers when it
-- was last used (src/auth/sessions.ts).
ALTER TABLE "sessions" ADD COLUMN "last_seen_at" timestamp with time zone;
--> statement-breakpoint
-- The message timeline tells what moved a status: a status callback, a status check, Twilio's
-- answer to the send, or the recovery of a send a lost worker made. The code that applies a status
-- names its source in the transaction (set_config('dominion.status_source', ..., true), reset at
-- commit: src/sms/status-source.ts); the history trigger copies it. Unset (the worker's own
-- steps) leaves it null.
ALTER TABLE "sms_status_history" ADD COLUMN "source" text;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION "sms_messages_record_status"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO "sms_status_history" ("sms_message_id", "status", "previous_status", "error_code", "at", "source")
	VALUES (NEW."id", NEW."status", CASE WHEN TG_OP = 'UPDATE' THEN OLD."status" END, NEW."error_code", NEW."updated_at",
		-- A setting once set in a session reads '' after its transaction ends, not null.
		nullif(current_setting('dominion.status_source', true), ''));
	RETURN NULL;
END;
$$;
