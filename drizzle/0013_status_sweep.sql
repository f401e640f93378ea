-- One status sweep instead of one pg-boss job per sent message (src/sms/status-sweep.ts): a message
-- still followed carries when it is next checked, set by the transaction that records its send.
ALTER TABLE "sms_messages" ADD COLUMN "status_check_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "sms_messages" ADD COLUMN "status_checks" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "sms_messages_status_check_idx" ON "sms_messages" USING btree ("status_check_at") WHERE "sms_messages"."status_check_at" is not null;--> statement-breakpoint
-- The checks a database upgraded from the job-per-message design still owed: each message named by
-- a waiting 'sms.status' job is due when that job was, counting the checks it had made; the jobs go.
DO $$
BEGIN
	IF to_regclass('pgboss.job') IS NOT NULL THEN
		UPDATE "sms_messages" m SET "status_check_at" = j.start_after, "status_checks" = j.attempt - 1
		FROM (
			SELECT DISTINCT ON ((data->>'messageId')::uuid) (data->>'messageId')::uuid AS id, start_after, coalesce((data->>'attempt')::int, 1) AS attempt
			FROM pgboss.job WHERE name = 'sms.status' AND state IN ('created', 'retry', 'active')
			ORDER BY (data->>'messageId')::uuid, start_after
		) j
		WHERE m.id = j.id;
		DELETE FROM pgboss.job WHERE name = 'sms.status' AND state IN ('created', 'retry', 'active');
	END IF;
END;
$$;
