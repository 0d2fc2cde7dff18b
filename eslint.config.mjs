import nextCoreWebVitals from "eslint-config-next/core-web-vitals";
import nextTypescript from "eslint-config-next/typescript";

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
  {
    // Domain, database, queue code is shared with the worker: it must not pull in Next.js or React.
    files: ["src/server/domain/**", "src/server/platform/db/**", "src/server/queue/**", "src/server/platform/db/process-db.ts", "src/server/platform/redis.ts", "worker/**"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [{ group: ["next", "next/*", "react", "react-dom", "~/trpc/*", "@trpc/*"], message: "Domain and worker code stays framework-free." }] }],
    },
  },
];

export default config;
