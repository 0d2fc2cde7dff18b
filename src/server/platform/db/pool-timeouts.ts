/**
 * How long a query waits for a free pooled connection before it fails. Without it `pg` waits
 * forever, and one leak or overload turns into every request of the process hanging. Its own
 * module so transaction.ts can use it without importing client.ts (which imports transaction.ts).
 */
export const POOL_CONNECTION_TIMEOUT_MS = 10_000;
