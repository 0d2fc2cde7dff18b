import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from "../../auth/password-rules";
import { clientAddress } from "../../auth/sign-in-throttle";
import { changeOwnPassword } from "../../features/users/password-change";
import { auditContextOf } from "../audit-context";
import { authedProcedure, createTRPCRouter, publicProcedure } from "../trpc";

export const authRouter = createTRPCRouter({
  /** Who is signed in (null when nobody is). */
  me: publicProcedure.meta({ allowedBeforePasswordChange: true }).query(({ ctx }) => ctx.user),

  // Sign-in and sign-out set cookies: a replay would hand out a stale (or nobody's) session.
  signIn: publicProcedure
    .meta({ idempotency: false, allowedBeforePasswordChange: true })
    .input(z.object({ email: z.email("enter an email address").max(254), password: z.string().min(1, "enter your password").max(1024) }))
    .mutation(async ({ ctx, input }) => {
      const address = ctx.request ? clientAddress(ctx.request.headers, ctx.config.trustProxy ?? 0) : null;
      const result = await ctx.signInThrottle.attempt(input.email, address, () => ctx.sessions.authenticate(input.email, input.password));
      if (result.outcome === "throttled") {
        ctx.request?.resHeaders.set("Retry-After", String(result.retryAfterSeconds));
        // The same words whether or not the account exists.
        throw new TRPCError({
          code: "TOO_MANY_REQUESTS",
          message: `Too many failed sign-ins for this account or from this address: try again in ${Math.ceil(result.retryAfterSeconds / 60)} minute(s)`,
        });
      }
      if (result.outcome === "wrong") throw new TRPCError({ code: "UNAUTHORIZED", message: "Email or password is wrong" });
      const user = result.value;
      const sealed = await ctx.sessions.seal(user);
      ctx.request?.resHeaders.append("Set-Cookie", ctx.sessions.cookieHeader(sealed));
      // An account made with a one-time password must set its own (the sign-in page asks for it).
      return { id: user.id, email: user.email, name: user.name, role: user.role, mustChangePassword: user.mustChangePassword };
    }),

  /**
   * Set a new password (after a one-time one, or any time); signs out every other session of the
   * user. Not keyed: the input carries secrets.
   */
  changePassword: authedProcedure
    .meta({ idempotency: false, allowedBeforePasswordChange: true })
    .input(
      z.object({
        currentPassword: z.string().min(1, "enter your current password").max(1024),
        newPassword: z
          .string()
          .min(MIN_PASSWORD_LENGTH, `the new password needs at least ${MIN_PASSWORD_LENGTH} characters`)
          .max(MAX_PASSWORD_LENGTH, `the new password may have at most ${MAX_PASSWORD_LENGTH} characters`),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      if (input.currentPassword === input.newPassword) {
        throw new TRPCError({ code: "BAD_REQUEST", message: "The new password must differ from the current one" });
      }
      // Counted like sign-ins: a borrowed session must not become a way to guess the password.
      const address = ctx.request ? clientAddress(ctx.request.headers, ctx.config.trustProxy ?? 0) : null;
      const result = await ctx.signInThrottle.attempt(ctx.user.email, address, () =>
        changeOwnPassword(
          { db: ctx.db, userChanged: (id) => ctx.sessions.userChanged(id) },
          { userId: ctx.user.id, currentPassword: input.currentPassword, newPassword: input.newPassword },
          auditContextOf(ctx, "password changed: every other session signed out"),
        ),
      );
      if (result.outcome === "throttled") {
        ctx.request?.resHeaders.set("Retry-After", String(result.retryAfterSeconds));
        throw new TRPCError({ code: "TOO_MANY_REQUESTS", message: `Too many wrong passwords: try again in ${Math.ceil(result.retryAfterSeconds / 60)} minute(s)` });
      }
      if (result.outcome === "wrong") throw new TRPCError({ code: "FORBIDDEN", message: "The current password is wrong" });
      // Every other session is revoked; this one carries on with a cookie of the new session version.
      ctx.request?.resHeaders.append("Set-Cookie", ctx.sessions.cookieHeader(await ctx.sessions.seal(result.value)));
      return { ok: true as const };
    }),

  signOut: authedProcedure.meta({ idempotency: false, allowedBeforePasswordChange: true }).mutation(({ ctx }) => {
    ctx.request?.resHeaders.append("Set-Cookie", ctx.sessions.clearCookieHeader());
    return { ok: true as const };
  }),

  /** Revoke every session of this user, on every device (e.g. after a lost laptop). */
  signOutEverywhere: authedProcedure.meta({ idempotency: false }).mutation(async ({ ctx }) => {
    await ctx.users.signOutEverywhere(ctx.user.id, auditContextOf(ctx));
    ctx.request?.resHeaders.append("Set-Cookie", ctx.sessions.clearCookieHeader());
    return { ok: true as const };
  }),
});
