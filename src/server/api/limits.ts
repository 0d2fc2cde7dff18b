/**
 * Limits of the tRPC endpoint that the server enforces and the client must respect. Plain values
 * (no server imports): the browser's links import them too.
 */

/**
 * Most calls one batched HTTP request may carry. Each call may hit PostgreSQL; an unbounded batch
 * lets one request hold the pool for as long as it likes. The client's batch link splits at this.
 */
export const TRPC_MAX_BATCH_SIZE = 50;
