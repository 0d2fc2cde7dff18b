import { randomUUID } from "node:crypto";

/**
 * Each unexpected (5xx) error gets an id when it is logged; the client sees only that id, so an
 * operator can find the details (the cause's message and stack) in the log line that carries it.
 */
const ids = new WeakMap<object, string>();

export function assignErrorId(error: object): string {
  let id = ids.get(error);
  if (!id) ids.set(error, (id = randomUUID()));
  return id;
}

export function errorIdOf(error: object): string | null {
  return ids.get(error) ?? null;
}
