import superjson, { type SuperJSONResult } from "superjson";

/** The one transformer: server, client links, SSR hydration and stored idempotent results use it. */
export const transformer = superjson;

/**
 * A value that is already in the transformer's wire form (a query-cache hit, stored serialized in
 * Redis). The HTTP response path sends it as is: decoding it only for tRPC to encode it again was
 * most of a cache hit's CPU time. Only ever handed to the HTTP handler (never to in-process callers).
 */
export class PreSerialized {
  constructor(readonly wire: SuperJSONResult) {}
}

/** The server's response transformer: the one transformer, passing pre-serialized values through. */
export const responseTransformer = {
  serialize: (value: unknown): SuperJSONResult => (value instanceof PreSerialized ? value.wire : transformer.serialize(value)),
  deserialize: <T = unknown>(payload: SuperJSONResult): T => transformer.deserialize<T>(payload),
};
