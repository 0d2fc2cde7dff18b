#!/usr/bin/env node
/**
 * `next build`, unless the production build in .next was made from exactly these sources.
 *
 * The chaos suite and the e2e suite both run the production build under `next start`; rebuilding
 * it for every run costs a core for ~10 s and ~750 MB. The build depends on the app's sources, the
 * configuration and the installed packages, and on NEXT_PUBLIC_* variables (inlined into client
 * bundles); server variables are read at run time. A sha256 over all of those is written beside the
 * build (.next/metastore-build-stamp) after a successful build; a later run with the same hash and
 * an intact build (.next/BUILD_ID) skips the build.
 *
 *   node scripts/next-build-if-stale.mjs          # build if needed
 *   node scripts/next-build-if-stale.mjs --force  # always build
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "..");
const STAMP = path.join(ROOT, ".next", "metastore-build-stamp");
// What `next build` reads. Tests under src/ are included: harmless (a rebuild too many, never too few).
const INPUTS = ["src", "public", "next.config.js", "package.json", "package-lock.json", "tsconfig.json", "postcss.config.mjs", "postcss.config.js"];
const SKIP_DIRS = new Set(["node_modules", ".next"]);

function* files(entry) {
  const full = path.join(ROOT, entry);
  if (!existsSync(full)) return;
  if (statSync(full).isFile()) return yield entry;
  for (const child of readdirSync(full).sort()) {
    if (SKIP_DIRS.has(child)) continue;
    yield* files(path.join(entry, child));
  }
}

export function sourceHash() {
  const hash = createHash("sha256");
  for (const input of INPUTS) {
    for (const file of files(input)) hash.update(`file:${file}\n`).update(readFileSync(path.join(ROOT, file)));
  }
  const publicEnv = Object.keys(process.env).filter((k) => k.startsWith("NEXT_PUBLIC_")).sort();
  for (const name of publicEnv) hash.update(`env:${name}=${process.env[name]}\n`);
  hash.update(`node:${process.version}\n`);
  return hash.digest("hex");
}

const force = process.argv.includes("--force");
const hash = sourceHash();
const current = existsSync(STAMP) && existsSync(path.join(ROOT, ".next", "BUILD_ID")) ? readFileSync(STAMP, "utf8").trim() : null;
if (!force && current === hash) {
  console.log(`[build] .next is up to date with the sources (${hash.slice(0, 12)}): next build skipped`);
  process.exit(0);
}
console.log(`[build] ${current ? "sources changed" : "no stamped build"}: running next build`);
const status = spawnSync("npx", ["next", "build"], { cwd: ROOT, stdio: "inherit", env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" } }).status;
if (status !== 0) process.exit(status ?? 1);
writeFileSync(STAMP, `${hash}\n`);
