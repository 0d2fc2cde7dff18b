/**
 * The rules a new password must meet: one place for the server's check (auth.changePassword)
 * and the words the change-password page shows. No server imports: client components use it.
 */
export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 1024;

/** What a session holding a one-time password is told by every procedure and route but the few it may use. */
export const PASSWORD_CHANGE_REQUIRED_MESSAGE =
  "You signed in with a one-time password: set your own password first (on /change-password, or with auth.changePassword), then try again";
