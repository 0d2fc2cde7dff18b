import { pino, type Logger } from "pino";

export type { Logger };

/** JSON logs (pino). `npm run dev` pipes them through pino-pretty. */
export function createLogger(name: string, level = process.env.LOG_LEVEL ?? "info"): Logger {
  return pino({ name, level, base: { service: name } });
}
