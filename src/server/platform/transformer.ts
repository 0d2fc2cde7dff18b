import superjson from "superjson";

/** The one transformer: server, client links, SSR hydration and stored idempotent results use it. */
export const transformer = superjson;
