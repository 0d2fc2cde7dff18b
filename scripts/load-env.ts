/**
 * The start scripts' shared first steps (`npm run dev` / `npm start`, `npm run deploy:local`):
 * `.env` from `.env.example` when missing, then the environment parsed (src/env.js) and held to the
 * production checklist when NODE_ENV is production, or the process exits saying what to set.
 */
import { copyFileSync, existsSync } from "node:fs";

/** Reads `.env` into process.env (created from `.env.example` first if missing). */
export function loadDotEnv(tag: string): void {
  if (!existsSync(".env") && existsSync(".env.example")) {
    copyFileSync(".env.example", ".env");
    console.log(`[${tag}] created .env from .env.example`);
  }
  if (existsSync(".env")) process.loadEnvFile(".env");
}

/** The parsed server environment; exits with the checklist's message when it is not fit to start. */
export async function parseStartableEnv(tag: string) {
  const { parseServerEnv } = await import("../src/env.js");
  const { assertProductionReady } = await import("../src/production-checks.js");
  const env = parseServerEnv(process.env);
  try {
    assertProductionReady(env);
  } catch (error) {
    console.error(`[${tag}] ${(error as Error).message}`);
    process.exit(1);
  }
  return env;
}
