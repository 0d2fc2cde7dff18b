// @ts-check
// Importing the env module parses it: a missing or invalid variable fails `next dev`/`next build`
// at start with a message naming each one (not at the first request).
import { PHASE_PRODUCTION_SERVER } from "next/constants.js";
import { getEnv } from "./src/env.js";
import { assertProductionReady } from "./src/production-checks.js";

if (!process.env.SKIP_ENV_VALIDATION) getEnv();

/** @type {import("next").NextConfig} */
const nextConfig = {
  // Server-only packages stay out of the bundle and load from node_modules at run time.
  serverExternalPackages: ["@prisma/client", "@prisma/adapter-pg", "pg", "bullmq", "ioredis", "prom-client", "pino", "pino-pretty", "sharp", "@node-rs/argon2", "iron-session", "file-type"],
  poweredByHeader: false,
  reactStrictMode: true,
  typedRoutes: false,
  // Every response, API routes included (pages get more, with a CSP nonce, from src/proxy.ts).
  async headers() {
    return [
      {
        source: "/:path*",
        headers: [
          { key: "X-Content-Type-Options", value: "nosniff" },
          { key: "Referrer-Policy", value: "same-origin" },
          { key: "X-Frame-Options", value: "DENY" },
        ],
      },
      {
        source: "/:path*",
        has: [{ type: "header", key: "x-forwarded-proto", value: "https" }],
        headers: [{ key: "Strict-Transport-Security", value: "max-age=31536000" }],
      },
    ];
  },
};

// `next start` refuses a production environment with public secrets (see src/production-checks.js);
// `next build` does not check, so one build can be started with different environments.
/** @param {string} phase */
export default function config(phase) {
  if (phase === PHASE_PRODUCTION_SERVER && !process.env.SKIP_ENV_VALIDATION) assertProductionReady(getEnv());
  return nextConfig;
}
