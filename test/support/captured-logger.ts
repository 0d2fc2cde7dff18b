import { Writable } from "node:stream";
import { pino, type Level } from "pino";

/** A pino logger whose JSON lines are kept in memory, so a test can assert what was logged. */
export function capturedLogger(level: Level = "warn") {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino(
    { level },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split("\n")) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    }),
  );
  return { logger, lines };
}
