-- Reserved for an issue worked in parallel (0007-0011 were numbered up front so branches never raced);
-- this one needed no schema change. Kept, as a no-op, so released migration numbers never move.
SELECT 1;
