-- PostgreSQL variant of 002_user_ids_never_reused.sql: nothing to do. An
-- identity column never hands a value out twice, deleted rows or not; this
-- file only keeps the migration history the same on both engines.
SELECT 1;
