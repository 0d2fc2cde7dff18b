import { z } from "zod";
import type { SessionUser } from "../auth/session";
import type { AuditContext } from "../reliability/audit";
import type { RequestMeta } from "./trpc";

/** The reason an operator may type in a confirm dialog: optional, recorded in the audit log. */
export const operatorReason = z.string().trim().max(500, "the reason is at most 500 characters").optional();

/** A correlation id a client or proxy sent; anything odd is ignored rather than stored. */
const CORRELATION_ID = /^[\w.:@/-]{1,200}$/;
const CORRELATION_HEADERS = ["x-request-id", "x-correlation-id"] as const;

/** Who is acting, why, and under which correlation id: what every audited action is given. */
export function auditContextOf(ctx: { user: SessionUser; request: RequestMeta | null }, reason?: string | null): AuditContext {
  const header = CORRELATION_HEADERS.map((h) => ctx.request?.headers.get(h)).find((v) => v && CORRELATION_ID.test(v));
  return {
    actor: { id: ctx.user.id, email: ctx.user.email },
    reason: reason?.trim() || null,
    correlationId: header ?? null,
  };
}
