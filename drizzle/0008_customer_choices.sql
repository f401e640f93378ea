ALTER TABLE "notification_settings" ADD COLUMN "code_delivery" text DEFAULT 'sms' NOT NULL;
--> statement-breakpoint
ALTER TABLE "notification_settings" ADD CONSTRAINT "notification_settings_code_delivery_ck" CHECK ("notification_settings"."code_delivery" in ('sms', 'voice'));
--> statement-breakpoint
CREATE TABLE "sms_consents" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid,
	"phone_number" text NOT NULL,
	"action" text NOT NULL,
	"method" text NOT NULL,
	"detail" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"seq" bigserial NOT NULL,
	CONSTRAINT "sms_consents_action_ck" CHECK ("sms_consents"."action" in ('granted', 'withdrawn')),
	CONSTRAINT "sms_consents_method_ck" CHECK ("sms_consents"."method" in ('registration', 'sms_reply', 'preference'))
);
--> statement-breakpoint
ALTER TABLE "sms_consents" ADD CONSTRAINT "sms_consents_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;
--> statement-breakpoint
CREATE INDEX "sms_consents_user_idx" ON "sms_consents" USING btree ("user_id","created_at");
--> statement-breakpoint
CREATE INDEX "sms_consents_phone_idx" ON "sms_consents" USING btree ("phone_number","created_at");
--> statement-breakpoint
CREATE TABLE "voice_calls" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"type" text NOT NULL,
	"user_id" uuid,
	"to_number" text NOT NULL,
	"from_number" text,
	"language" text NOT NULL,
	"spoken_redacted" text NOT NULL,
	"otp_challenge_id" uuid,
	"send_before" timestamp with time zone,
	"status" text DEFAULT 'pending' NOT NULL,
	"twilio_sid" text,
	"error_code" integer,
	"error_message" text,
	"price_estimate" numeric(12, 5) NOT NULL,
	"price" numeric(12, 5),
	"price_unit" text,
	"duration_seconds" integer,
	"attempts" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"placed_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "voice_calls_twilio_sid_unique" UNIQUE("twilio_sid")
);
--> statement-breakpoint
ALTER TABLE "voice_calls" ADD CONSTRAINT "voice_calls_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;
--> statement-breakpoint
ALTER TABLE "voice_calls" ADD CONSTRAINT "voice_calls_otp_challenge_id_otp_challenges_id_fk" FOREIGN KEY ("otp_challenge_id") REFERENCES "public"."otp_challenges"("id") ON DELETE set null ON UPDATE no action;
--> statement-breakpoint
CREATE INDEX "voice_calls_user_idx" ON "voice_calls" USING btree ("user_id","created_at");
--> statement-breakpoint
CREATE INDEX "voice_calls_challenge_idx" ON "voice_calls" USING btree ("otp_challenge_id");
