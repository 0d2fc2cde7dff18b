export { recordOperatorAction, recordAfterEffect, auditOutcomes, ACTION_PATTERN } from "./record";
export type { AuditContext, AuditOutcome, OperatorActionEntry, OperatorActor, TransactionOnly } from "./record";
export { auditSearchSchema, searchAudit, type AuditSearch } from "./search";
