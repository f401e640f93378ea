-- Reserved for issue 12: replace this statement with the issue's DDL.
SELECT 1;
