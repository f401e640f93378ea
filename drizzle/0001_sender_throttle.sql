CREATE TABLE "sender_throttle" (
	"sender" text PRIMARY KEY NOT NULL,
	"next_slot_at" timestamp (6) with time zone NOT NULL
);
