/**
 * One process of the "two processes miss together" test: waits for the common start time, then
 * fires concurrent reads of one key and prints how often ITS loader ran.
 * env: REDIS_URL, APP_PREFIX, START_AT (epoch ms), LOAD_MS
 */
import { createQueryCache } from "../../src/server/reliability/cache/query-cache";
import { createCacheRedis } from "../../src/server/reliability/cache/redis-client";

const url = new URL(process.env.REDIS_URL!);
const redis = createCacheRedis({ host: url.hostname, port: Number(url.port) });
const cache = createQueryCache({ redis, commandTimeoutMs: 500, appPrefix: process.env.APP_PREFIX!, logger: console, statsFlushMs: 0 });

async function main() {
  if (!(await cache.whenReady(5000))) throw new Error("redis not ready");
  const startAt = Number(process.env.START_AT);
  await new Promise((r) => setTimeout(r, Math.max(0, startAt - Date.now())));
  let loads = 0;
  const loader = async () => {
    loads += 1;
    await new Promise((r) => setTimeout(r, Number(process.env.LOAD_MS ?? 300)));
    return { loadedBy: process.pid, at: new Date() };
  };
  const spec = { prefix: "xproc", path: "files.list", scope: "u:someone:user", input: { limit: 25 }, ttlMs: 60_000, tags: ["files:owner:someone"] };
  const values = await Promise.all(Array.from({ length: 25 }, () => cache.wrap(spec, loader)));
  const report = await cache.stats();
  process.stdout.write(
    JSON.stringify({
      pid: process.pid,
      loads,
      loadedBy: [...new Set(values.map((v) => v.loadedBy))],
      datesIntact: values.every((v) => v.at instanceof Date),
      waited: report.prefixes.find((p) => p.prefix === "xproc")?.waited ?? 0,
    }) + "\n",
  );
  await cache.close();
  redis.disconnect();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
