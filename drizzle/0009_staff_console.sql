-- Issue 15, the staff console: the audit log of staff changes (append-only, enforced here), the
-- status history of each SMS (the message timeline), when a profile's phone number last changed
-- (the cooling-off period against SIM swaps), and the indexes of the message log's keyset pages.
CREATE TABLE "audit_log" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"actor_kind" text NOT NULL,
	"actor_id" uuid,
	"actor_name" text NOT NULL,
	"action" text NOT NULL,
	"subject_user_id" uuid,
	"subject" text NOT NULL,
	"before" jsonb,
	"after" jsonb,
	CONSTRAINT "audit_log_actor_kind_ck" CHECK ("audit_log"."actor_kind" in ('staff', 'customer', 'cli'))
);
--> statement-breakpoint
CREATE INDEX "audit_log_at_idx" ON "audit_log" USING btree ("at","id");
--> statement-breakpoint
CREATE INDEX "audit_log_subject_user_idx" ON "audit_log" USING btree ("subject_user_id","at");
--> statement-breakpoint
CREATE FUNCTION "audit_log_append_only"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER "audit_log_no_update_delete" BEFORE UPDATE OR DELETE ON "audit_log" FOR EACH ROW EXECUTE FUNCTION "audit_log_append_only"();
--> statement-breakpoint
CREATE TRIGGER "audit_log_no_truncate" BEFORE TRUNCATE ON "audit_log" FOR EACH STATEMENT EXECUTE FUNCTION "audit_log_append_only"();
--> statement-breakpoint
CREATE TABLE "sms_status_history" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"sms_message_id" uuid NOT NULL,
	"status" text NOT NULL,
	"previous_status" text,
	"error_code" integer,
	"at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "sms_status_history" ADD CONSTRAINT "sms_status_history_sms_message_id_sms_messages_id_fk" FOREIGN KEY ("sms_message_id") REFERENCES "public"."sms_messages"("id") ON DELETE cascade ON UPDATE no action;
--> statement-breakpoint
CREATE INDEX "sms_status_history_message_idx" ON "sms_status_history" USING btree ("sms_message_id","at");
--> statement-breakpoint
CREATE FUNCTION "sms_messages_record_status"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO "sms_status_history" ("sms_message_id", "status", "previous_status", "error_code", "at")
	VALUES (NEW."id", NEW."status", CASE WHEN TG_OP = 'UPDATE' THEN OLD."status" END, NEW."error_code", NEW."updated_at");
	RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER "sms_messages_status_history" AFTER UPDATE OF "status" ON "sms_messages" FOR EACH ROW WHEN (OLD."status" IS DISTINCT FROM NEW."status") EXECUTE FUNCTION "sms_messages_record_status"();
--> statement-breakpoint
ALTER TABLE "user_profiles" ADD COLUMN "phone_changed_at" timestamp with time zone;
--> statement-breakpoint
CREATE INDEX "sms_messages_log_idx" ON "sms_messages" USING btree ("created_at","id");
--> statement-breakpoint
CREATE INDEX "notifications_email_log_idx" ON "notifications" USING btree ("created_at","id") WHERE "notifications"."channel" = 'email';
