/**
 * Size allowances that several layers must agree on. Plain values, no imports: the HTTP body guard,
 * the idempotency middleware and tests all read them.
 */

/**
 * Multipart framing (boundaries, part headers, tags) allowed around an upload's bytes: a multipart
 * body may be this much larger than the upload limit before it is refused.
 */
export const MULTIPART_OVERHEAD_BYTES = 64 * 1024;
