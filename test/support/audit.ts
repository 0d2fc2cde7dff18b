import type { AuditContext } from "~/server/reliability/audit";

/** The actor domain-level tests act as when they call an operator action directly (no router). */
export const asTestOperator: AuditContext = { actor: { id: null, email: "operator@test.local" }, reason: "test" };
