-- The console's global search (src/server/features/console-search): every lookup on an index.
-- File names and e-mails by substring: trigram indexes (pg_trgm, created by the operator_audit migration).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX "file_name_trgm_idx" ON "file" USING GIN ("name" gin_trgm_ops);
CREATE INDEX "app_user_email_trgm_idx" ON "app_user" USING GIN ("email" gin_trgm_ops);
-- An aggregate by its id alone (the primary key leads with the aggregate type).
CREATE INDEX "outbox_aggregate_aggregate_id_idx" ON "outbox_aggregate" ("aggregate_id");
-- File names by prefix first (what a pasted or typed-from-the-start name is): a btree range scan in
-- name order that stops at the LIMIT, whatever the table's size. (E-mails have their unique index.)
CREATE INDEX "file_name_prefix_idx" ON "file" ("name");
