#!/usr/bin/env node
// Runs the project's own Prisma CLI (node_modules/prisma) with the settings this project needs:
//   - PRISMA_SCHEMA_ENGINE_BINARY → prisma/engine/schema-engine.mjs, the shim that serves the CLI's
//     schema-engine protocol with the WebAssembly engine (the native engine cannot be downloaded on
//     offline machines). A caller that sets PRISMA_SCHEMA_ENGINE_BINARY itself (e.g. to a native
//     engine) keeps its value.
//   - CHECKPOINT_DISABLE=1 and PRISMA_HIDE_UPDATE_MESSAGE=1: no update checks / telemetry calls.
//   - `.env` at the project root is loaded if it exists (variables already set win), so
//     DATABASE_URL and friends have their defaults.
// Usage: node scripts/prisma.mjs <prisma arguments…>   (npm run prisma -- <arguments…>)

import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const root = path.resolve(import.meta.dirname, "..");
const require = createRequire(import.meta.url);

const envFile = path.join(root, ".env");
if (fs.existsSync(envFile)) process.loadEnvFile(envFile);

const env = { ...process.env };
env.CHECKPOINT_DISABLE ??= "1";
env.PRISMA_HIDE_UPDATE_MESSAGE ??= "1";
if (!env.PRISMA_SCHEMA_ENGINE_BINARY) {
  env.PRISMA_SCHEMA_ENGINE_BINARY = path.join(root, "prisma", "engine", "schema-engine.mjs");
}

const cli = require.resolve("prisma/build/index.js");
const child = spawn(process.execPath, [cli, ...process.argv.slice(2)], { stdio: "inherit", env });

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => child.kill(signal));
}
child.on("error", (error) => {
  console.error(`scripts/prisma.mjs: could not start the Prisma CLI (${cli}): ${error.message}`);
  process.exit(1);
});
child.on("exit", (code, signal) => {
  if (signal) {
    process.removeAllListeners(signal); // re-raise the child's signal on ourselves
    process.kill(process.pid, signal);
  }
  else process.exit(code ?? 1);
});
