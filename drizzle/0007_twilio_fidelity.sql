-- Reserved for issue 13: replace this statement with the issue's DDL.
SELECT 1;
