import { z } from "zod";
import { auditContextOf, operatorReason } from "../../audit-context";
import { createTRPCRouter, operatorProcedure, viewerProcedure } from "../../trpc";

const userId = z.uuid({ message: "must be a user id (a UUID)" });
const role = z.enum(["user", "viewer", "operator"], { message: "role is one of user, viewer, operator" });

/** admin.users: accounts and roles. Viewers read the list; operators act. */
export const usersAdminRouter = createTRPCRouter({
  list: viewerProcedure
    .meta({ description: "Users with their roles, by email or name" })
    .input(
      z
        .object({
          query: z.string().trim().min(1).max(200).optional(),
          role: role.optional(),
          cursor: userId.optional(),
          limit: z.number().int().min(1).max(200).default(50),
        })
        .default({ limit: 50 }),
    )
    .query(({ ctx, input }) => ctx.users.list(input)),

  changeRole: operatorProcedure
    .meta({ description: "Change a user's role (applies at their next request, on every instance)" })
    .input(z.object({ id: userId, role, reason: operatorReason }))
    .mutation(({ ctx, input }) => ctx.users.changeRole(input.id, input.role, auditContextOf(ctx, input.reason))),

  revokeSessions: operatorProcedure
    .meta({ description: "Sign a user out everywhere" })
    .input(z.object({ id: userId, reason: operatorReason }))
    .mutation(({ ctx, input }) => ctx.users.revokeSessions(input.id, auditContextOf(ctx, input.reason))),

  /**
   * Not keyed (idempotency: false): its answer carries the one-time password, which must never be
   * stored for replay. A retried request cannot create a second account: the email is unique (CONFLICT).
   */
  create: operatorProcedure
    .meta({ description: "Create a user with a one-time password (shown once)", idempotency: false })
    .input(
      z.object({
        email: z.email("enter an email address").max(254),
        name: z.string().trim().min(1, "enter a name").max(200),
        role,
        reason: operatorReason,
      }),
    )
    .mutation(({ ctx, input }) => ctx.users.create(input, auditContextOf(ctx, input.reason))),
});
