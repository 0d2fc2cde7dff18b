export { createQueryCache, type QueryCache, type QueryCacheOptions, type CacheReadSpec, type CacheStatsReport } from "./query-cache";
export { createCacheRedis, cacheRedisOptions } from "./redis-client";
export { callerScope, CACHE_PREFIX_PATTERN } from "./keys";
