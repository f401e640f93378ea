-- Reserved for issue 15: replace this statement with the issue's DDL.
SELECT 1;
