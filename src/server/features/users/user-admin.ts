import { randomBytes } from "node:crypto";
import type { Db } from "../../platform/db/client";
import { afterCommit, inTransaction, type Tx } from "../../platform/db/transaction";
import { hashPassword } from "../../auth/passwords";
import type { Role } from "../../auth/session";
import { recordOperatorAction, type AuditContext, type TransactionOnly } from "../../reliability/audit";
import { DomainError, notFound } from "../../platform/errors";

/**
 * Operators managing accounts: list, change a role, revoke every session, create an account with a
 * one-time password. Each change and its audit row commit together; each change that affects
 * sessions is published to every instance (session cache invalidation) only after that commit.
 */

/** How long a one-time password can be used to sign in (it must be replaced at first sign-in). */
export const ONE_TIME_PASSWORD_TTL_MS = 24 * 3600_000;

/** Serialises every change that can remove an operator, across all instances (see ensureAnOperatorRemains). */
const OPERATOR_ROLES_LOCK = "metastore:operator-roles";

const userSelect = {
  id: true,
  email: true,
  name: true,
  role: true,
  createdAt: true,
  mustChangePassword: true,
  passwordExpiresAt: true,
  sessionVersion: true,
} as const;

export interface UserAdminDeps {
  db: Db;
  /** Drop the user's cached sessions on every instance (SessionManager.userChanged). */
  userChanged(userId: string): Promise<void>;
}

/**
 * The last operator cannot be demoted (by themselves or anyone): checked under a transaction-scoped
 * advisory lock that every role change takes first, so two operators demoting each other at the
 * same moment are serialised — the second sees the first's commit and is refused — and the count
 * can never reach zero. The lock is released at commit or rollback.
 */
async function ensureAnOperatorRemains(tx: Tx, userId: string) {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${OPERATOR_ROLES_LOCK}))`;
  const rows = await tx.$queryRaw<Array<{ others: bigint }>>`
    SELECT count(*) AS others FROM app_user WHERE role = 'operator' AND id <> ${userId}::uuid`;
  if (Number(rows[0]?.others ?? 0) === 0) {
    throw new DomainError("conflict", "This is the last operator: promote another user to operator first, so someone can still run the console");
  }
}

export function createUserAdmin(deps: UserAdminDeps) {
  const { db } = deps;

  return {
    async list(opts: { query?: string; role?: Role; cursor?: string; limit: number }) {
      const rows = await db.user.findMany({
        where: {
          ...(opts.role ? { role: opts.role } : {}),
          ...(opts.query
            ? { OR: [{ email: { contains: opts.query, mode: "insensitive" as const } }, { name: { contains: opts.query, mode: "insensitive" as const } }] }
            : {}),
          ...(opts.cursor ? { id: { gt: opts.cursor } } : {}),
        },
        orderBy: { id: "asc" },
        take: opts.limit + 1,
        select: userSelect,
      });
      const items = rows.slice(0, opts.limit);
      return { items, nextCursor: rows.length > opts.limit ? (items.at(-1)?.id ?? null) : null };
    },

    async changeRole(userId: string, role: Role, audit: AuditContext) {
      return inTransaction(db, async (tx) => {
        // Row lock first: a concurrent change of this user waits, and we read its committed role.
        const rows = await tx.$queryRaw<Array<{ role: Role }>>`SELECT role FROM app_user WHERE id = ${userId}::uuid FOR UPDATE`;
        const from = rows[0]?.role;
        if (!from) throw notFound(`User ${userId} was not found`);
        if (from === role) return { id: userId, role, changed: false };
        if (from === "operator") await ensureAnOperatorRemains(tx, userId);
        await tx.user.update({ where: { id: userId }, data: { role } });
        await recordOperatorAction(tx as TransactionOnly, {
          ...audit,
          action: "user.changeRole",
          targetKind: "user",
          targetIds: [userId],
          filter: { from, to: role },
          affectedCount: 1,
        });
        // Every instance drops the cached session once this commits: the next request has the new role.
        await afterCommit(() => deps.userChanged(userId));
        return { id: userId, role, changed: true };
      });
    },

    /**
     * Sign the user out everywhere: every cookie issued before carries the old session version. An
     * operator revoking someone's sessions and a user signing out everywhere (`cause`
     * "signOutEverywhere", the user as actor) are the same change, audited in its transaction.
     */
    async revokeSessions(userId: string, audit: AuditContext, cause?: "signOutEverywhere") {
      return inTransaction(db, async (tx) => {
        const updated = await tx.$queryRaw<Array<{ session_version: number }>>`
          UPDATE app_user SET session_version = session_version + 1, updated_at = now() WHERE id = ${userId}::uuid RETURNING session_version`;
        if (updated.length === 0) throw notFound(`User ${userId} was not found`);
        await recordOperatorAction(tx as TransactionOnly, {
          ...audit,
          action: "user.revokeSessions",
          targetKind: "user",
          targetIds: [userId],
          filter: cause ? { cause } : undefined,
          affectedCount: 1,
        });
        await afterCommit(() => deps.userChanged(userId));
        return { id: userId, sessionVersion: updated[0]!.session_version };
      });
    },

    /**
     * A new account with a random one-time password, returned once and stored only as its hash. It
     * can sign in for ONE_TIME_PASSWORD_TTL_MS, and the account must set its own password.
     */
    async create(input: { email: string; name: string; role: Role }, audit: AuditContext) {
      const email = input.email.trim().toLowerCase();
      const oneTimePassword = randomBytes(15).toString("base64url");
      const passwordHash = await hashPassword(oneTimePassword);
      const expiresAt = new Date(Date.now() + ONE_TIME_PASSWORD_TTL_MS);
      return inTransaction(db, async (tx) => {
        const created = await tx.$queryRaw<Array<{ id: string }>>`
          INSERT INTO app_user (id, email, name, password_hash, role, must_change_password, password_expires_at, updated_at)
          VALUES (gen_random_uuid(), ${email}, ${input.name.trim()}, ${passwordHash}, ${input.role}::"Role", true, ${expiresAt}, now())
          ON CONFLICT (email) DO NOTHING
          RETURNING id`;
        if (created.length === 0) throw new DomainError("conflict", `A user with the email ${email} already exists`);
        const id = created[0]!.id;
        await recordOperatorAction(tx as TransactionOnly, {
          ...audit,
          action: "user.create",
          targetKind: "user",
          targetIds: [id],
          filter: { email, role: input.role },
          affectedCount: 1,
        });
        return { id, email, role: input.role, oneTimePassword, passwordExpiresAt: expiresAt };
      });
    },
  };
}
