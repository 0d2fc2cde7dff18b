import nextCoreWebVitals from "eslint-config-next/core-web-vitals";
import nextTypescript from "eslint-config-next/typescript";

const FRAMEWORK = {
  group: ["next", "next/*", "react", "react-dom", "~/trpc/*", "**/trpc/*", "@trpc/*"],
  message: "Platform, contracts, mechanisms, features and the worker stay framework-free (they are shared with the worker).",
};
const NO_WORKER = { group: ["**/worker/*", "**/worker/**"], message: "src/ never imports the worker: move shared code under src/server/." };
const WORKER_VIA_SUPPORT = { ...NO_WORKER, message: "Tests under src/ run worker jobs through ~test/support/worker, so no file under src/ imports worker/." };
const NO_TEST = { group: ["~test/*", "**/test/*", "**/test/**"], message: "Production code never imports tests or fixtures." };
/** Imports that would point back up the flow: layer → the layers above it. */
const above = (...names) => ({
  group: names.flatMap((n) => [`~/server/${n}`, `~/server/${n}/*`, `**/server/${n}`, `**/server/${n}/**`, `../**/${n}/**`, `../**/${n}`]),
  message: "This import points back up the flow (platform → contracts → reliability → features → composition/api): move the shared piece down instead.",
});
const TESTS = ["**/*.test.ts", "**/*.test.tsx"];

function importRules() {
  const block = (files, patterns, ignores = TESTS) => ({ files, ignores, rules: { "no-restricted-imports": ["error", { patterns }] } });
  return [
    block(["src/**"], [NO_WORKER, NO_TEST]),
    block(["src/server/platform/**"], [NO_WORKER, NO_TEST, FRAMEWORK, above("contracts", "reliability", "features", "api", "auth", "composition", "app-sagas")]),
    block(["src/server/contracts/**"], [NO_WORKER, NO_TEST, FRAMEWORK, above("reliability", "features", "api", "auth", "composition", "app-sagas")]),
    block(["src/server/reliability/**"], [NO_WORKER, NO_TEST, FRAMEWORK, above("features", "api", "composition", "app-sagas")]),
    block(["src/server/features/**"], [NO_WORKER, NO_TEST, FRAMEWORK, above("api", "composition", "app-sagas")]),
    // Tests beside the code may use test helpers, and worker jobs through ~test/support/worker only;
    // those of the lower layers never the framework.
    block(TESTS.map((t) => `src/${t}`), [WORKER_VIA_SUPPORT], []),
    block(TESTS.map((t) => `src/server/{platform,contracts,reliability,features}/${t}`), [FRAMEWORK, WORKER_VIA_SUPPORT], []),
    block(["worker/**"], [FRAMEWORK], []),
  ];
}

const config = [
  ...nextCoreWebVitals,
  ...nextTypescript,
  {
    ignores: [".next/**", "node_modules/**", "src/server/db/generated/**", "next-env.d.ts", "test-results/**", "playwright-report/**", ".data/**", ".proto*.mjs"],
  },
  {
    rules: {
      // `_name` marks a value deliberately unused (destructuring a field away).
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", destructuredArrayIgnorePattern: "^_" }],
    },
  },
  {
    // A plain Node script (the Prisma schema-engine shim), not a Next.js module.
    files: ["prisma/engine/**"],
    rules: { "@next/next/no-assign-module-variable": "off" },
  },
  // One direction of flow (docs/architecture.md). A file gets one no-restricted-imports entry, so
  // each folder's block lists every pattern that applies to it.
  ...importRules(),
];

export default config;
