import type { Db } from "../../platform/db/client";
import { afterCommit, inTransaction } from "../../platform/db/transaction";
import { hashPassword, verifyPassword } from "../../auth/passwords";
import { recordOperatorAction, type AuditContext, type TransactionOnly } from "../../reliability/audit";

export interface PasswordChangeDeps {
  db: Db;
  /** Drop the user's cached sessions on every instance (SessionManager.userChanged). */
  userChanged(userId: string): Promise<void>;
}

/** What the caller needs to keep the CURRENT session: the version to seal into its new cookie. */
export interface PasswordChanged {
  id: string;
  sessionVersion: number;
}

/**
 * A user replaces their own password. Whoever else holds one of their sessions (a stolen cookie, a
 * forgotten laptop) is signed out by it: the session version is bumped in the same statement as the
 * password, so every cookie issued before is refused, and the caller re-seals the current session
 * with the new version (the one session kept). Like an operator's revocation, it is audit-logged
 * in the same transaction and published to every instance's session cache after the commit.
 *
 * Returns null when the current password is wrong — or stopped being right meanwhile: the update
 * only applies to the hash that was verified, so two concurrent changes cannot both win.
 */
export async function changeOwnPassword(
  deps: PasswordChangeDeps,
  input: { userId: string; currentPassword: string; newPassword: string },
  audit: AuditContext,
): Promise<PasswordChanged | null> {
  const { db } = deps;
  const user = await db.user.findUnique({ where: { id: input.userId }, select: { passwordHash: true } });
  if (!user || !(await verifyPassword(user.passwordHash, input.currentPassword))) return null;
  // Hashed before the transaction: a slow KDF must not hold a row lock or a pooled connection.
  const newHash = await hashPassword(input.newPassword);
  return inTransaction(db, async (tx) => {
    const updated = await tx.$queryRaw<Array<{ session_version: number }>>`
      UPDATE app_user
         SET password_hash = ${newHash}, must_change_password = false, password_expires_at = NULL,
             session_version = session_version + 1, updated_at = now()
       WHERE id = ${input.userId}::uuid AND password_hash = ${user.passwordHash}
      RETURNING session_version`;
    if (updated.length === 0) return null;
    await recordOperatorAction(tx as TransactionOnly, {
      ...audit,
      action: "user.revokeSessions",
      targetKind: "user",
      targetIds: [input.userId],
      filter: { cause: "passwordChanged", keptCurrentSession: true },
      affectedCount: 1,
    });
    // Committed: every instance drops its cached sessions of this user (the must-change flag too),
    // so the other sessions are refused at their next request, wherever they land.
    await afterCommit(() => deps.userChanged(input.userId));
    return { id: input.userId, sessionVersion: updated[0]!.session_version };
  });
}
