/**
 * Refuses raw inputs no legitimate client sends, before anything walks them (the query cache's
 * key, the Idempotency-Key fingerprint and zod all recurse): nesting deeper than any procedure's
 * input, keys that name an object's prototype machinery, and NUL characters (PostgreSQL text
 * cannot hold them; they would surface as a 500 from the database). 400, saying which and where.
 *
 * Iterative (an explicit stack), so a hostile input cannot overflow the call stack here either.
 */
/** Deeper than any procedure's input (the deepest, admin.outbox.list, is 4 with its filter). */
export const MAX_INPUT_DEPTH = 20;
const PROTOTYPE_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);

export function inputProblem(input: unknown): string | null {
  const stack: Array<{ value: unknown; path: string; depth: number }> = [{ value: input, path: "input", depth: 0 }];
  while (stack.length > 0) {
    const { value, path, depth } = stack.pop()!;
    if (typeof value === "string") {
      if (value.includes("\u0000")) return `${path} contains a NUL character (\\u0000), which text here cannot hold: remove it`;
      continue;
    }
    if (value === null || typeof value !== "object" || value instanceof Date || value instanceof Blob || value instanceof FormData) continue;
    if (depth >= MAX_INPUT_DEPTH) return `${path} is nested more than ${MAX_INPUT_DEPTH} levels deep; no input of this API is`;
    for (const key of Object.keys(value)) {
      if (PROTOTYPE_KEYS.has(key)) return `${path} has a key named "${key}", which is not accepted: rename or remove it`;
      if (key.includes("\u0000")) return `${path} has a key containing a NUL character (\\u0000): remove it`;
      stack.push({ value: (value as Record<string, unknown>)[key], path: `${path}.${key.slice(0, 40)}`, depth: depth + 1 });
    }
  }
  return null;
}
