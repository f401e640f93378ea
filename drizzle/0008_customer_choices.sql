-- Reserved for issue 14: replace this statement with the issue's DDL.
SELECT 1;
