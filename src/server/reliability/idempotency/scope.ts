/**
 * A key is unique per caller and procedure: the same key from another user, or for another
 * procedure, is a different record, so one caller's key never replays another caller's response.
 */
export function idempotencyScope(userId: string, procedurePath: string): string {
  return `${userId}:${procedurePath}`;
}

export function parseScope(scope: string): { userId: string; procedure: string } {
  const at = scope.indexOf(":");
  return at < 0 ? { userId: "", procedure: scope } : { userId: scope.slice(0, at), procedure: scope.slice(at + 1) };
}
