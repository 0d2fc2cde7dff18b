import type { ReasonOptions } from "./ui";

/** The optional reason field of an operator action's confirm dialog: kept in the audit log. */
export const AUDIT_REASON: ReasonOptions = { label: "Reason (optional, kept in the audit log)", minLength: 0, maxLength: 500, placeholder: "why are you doing this?" };
