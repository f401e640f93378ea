-- Reserved for issue 11: replace this statement with the issue's DDL.
SELECT 1;
