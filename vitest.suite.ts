import { defineConfig } from "vitest/config";
import base from "./vitest.config";

/**
 * A vitest config for one of the suites that rerun existing integration tests, unchanged, on other
 * infrastructure (a Redis Cluster, a PgBouncer): the base config with its own file list and the
 * suite's global setup (which starts the servers) and setup file (which points the tests at them).
 */
export function infrastructureSuite(suite: { include: string[]; globalSetup: string; setupFile: string }) {
  return defineConfig({
    ...base,
    test: {
      ...base.test,
      include: suite.include,
      exclude: ["**/node_modules/**"],
      globalSetup: ["test/global-setup.ts", suite.globalSetup],
      setupFiles: [suite.setupFile],
    },
  });
}
