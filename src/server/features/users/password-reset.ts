import { randomBytes } from "node:crypto";
import type { Db } from "../../platform/db/client";
import { afterCommit, inTransaction } from "../../platform/db/transaction";
import { hashPassword } from "../../auth/passwords";
import { recordOperatorAction, type AuditContext, type TransactionOnly } from "../../reliability/audit";
import { notFound } from "../../platform/errors";
import { ONE_TIME_PASSWORD_TTL_MS } from "./user-admin";

/**
 * Reset an account's password to a random one-time password (the way back in when no operator can
 * sign in: `npm run user:reset-password`). Like an account an operator creates, the password works
 * for ONE_TIME_PASSWORD_TTL_MS and must be replaced at the first sign-in. The session version is
 * bumped in the same statement, so every session of the account ends (whoever knew the old
 * password is signed out), and the audit row commits in the same transaction. The one-time password
 * is returned once and stored only as its hash.
 */
export interface PasswordResetDeps {
  db: Db;
  /** Drop the user's cached sessions on every instance (SessionManager.userChanged). */
  userChanged(userId: string): Promise<void>;
}

export interface PasswordReset {
  id: string;
  email: string;
  oneTimePassword: string;
  passwordExpiresAt: Date;
  sessionVersion: number;
}

export async function resetPassword(deps: PasswordResetDeps, emailInput: string, audit: AuditContext): Promise<PasswordReset> {
  const email = emailInput.trim().toLowerCase();
  const oneTimePassword = randomBytes(15).toString("base64url");
  const passwordHash = await hashPassword(oneTimePassword);
  const passwordExpiresAt = new Date(Date.now() + ONE_TIME_PASSWORD_TTL_MS);
  return inTransaction(deps.db, async (tx) => {
    const updated = await tx.$queryRaw<Array<{ id: string; session_version: number }>>`
      UPDATE app_user
      SET password_hash = ${passwordHash}, must_change_password = true, password_expires_at = ${passwordExpiresAt},
          session_version = session_version + 1, updated_at = now()
      WHERE email = ${email}
      RETURNING id, session_version`;
    const row = updated[0];
    if (!row) throw notFound(`No user has the email ${email}`);
    await recordOperatorAction(tx as TransactionOnly, {
      ...audit,
      action: "user.resetPassword",
      targetKind: "user",
      targetIds: [row.id],
      filter: { email },
      affectedCount: 1,
    });
    await afterCommit(() => deps.userChanged(row.id));
    return { id: row.id, email, oneTimePassword, passwordExpiresAt, sessionVersion: row.session_version };
  });
}
