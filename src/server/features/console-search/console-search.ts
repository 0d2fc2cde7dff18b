import type { Db } from "../../platform/db/client";
import { classifyQuery } from "./classify";
import type { SearchHit } from "./hits";
import * as lookup from "./lookups";

/**
 * The console's one search box: an event, aggregate, saga or file id, a file name, an idempotency
 * key, a correlation id or a user's e-mail, answered as typed hits that link to the console page
 * showing each. The query is classified first (classify.ts) and only the lookups that fit it run,
 * in parallel, each on an index.
 */
export function createConsoleSearch(db: Db) {
  return {
    async find(q: string, opts: { limit: number }): Promise<{ query: string; hits: SearchHit[]; truncated: boolean }> {
      const c = classifyQuery(q);
      const { limit } = opts;
      const lookups: Array<Promise<SearchHit[]>> = [];
      if (c.uuid) {
        const id = c.uuid;
        lookups.push(lookup.eventById(db, id), lookup.sagaById(db, id), lookup.fileById(db, id), lookup.idempotencyById(db, id), lookup.userById(db, id), lookup.auditByTargetId(db, id));
      }
      // Ids stored as text (aggregate ids, keys, correlation ids) may be UUIDs or anything else.
      lookups.push(lookup.aggregatesById(db, c.text, limit), lookup.idempotencyByKey(db, c.text, limit));
      if (c.correlationId) lookups.push(lookup.byCorrelationId(db, c.correlationId));
      if (!c.uuid) {
        const names = { substring: c.substring !== null };
        lookups.push(lookup.filesByName(db, c.text, limit + 1, names), lookup.usersByEmail(db, c.text, limit + 1, names));
      }
      const found = (await Promise.all(lookups)).flat();
      // Exact id hits come first (the lookups' order), then names; one hit per kind and id.
      const seen = new Set<string>();
      const hits = found.filter((h) => {
        const key = `${h.kind}:${h.id}:${h.href}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
      return { query: c.text, hits: hits.slice(0, limit), truncated: hits.length > limit };
    },
  };
}

export type ConsoleSearch = ReturnType<typeof createConsoleSearch>;
