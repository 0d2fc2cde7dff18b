import type { Redis } from "ioredis";

/** Deletes every key of a bench run's queue prefix (SCAN, so a large run never blocks Redis). */
export async function clearPrefix(redis: Redis, prefix: string) {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 5000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== "0");
}
