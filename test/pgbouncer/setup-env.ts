// setupFiles of `npm run test:pgbouncer`: the apps of every test file query through the pooler
// (test/support/database.ts gives them `pooledUrl`); LISTEN and the saga runner's prepared
// statements keep a direct session (`url`), as DATABASE_URL / DIRECT_DATABASE_URL do in production.
import { inject } from "vitest";

process.env.TEST_DATABASE_POOLER_URL = inject("pgbouncerUrl");
