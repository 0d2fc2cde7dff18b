import { createHash } from "node:crypto";

/**
 * An error fingerprint: what makes two failures "the same failure" for an operator, so that a
 * thousand dead events with one cause show as one group. It is the error class, the message with
 * everything that varies per occurrence normalised away (ids, UUIDs, numbers, quoted values,
 * times), and the first stack frame in application code (function and file, without line and
 * column, which move with every deploy). Computed when the failure is recorded and stored beside
 * it, so grouping is an indexed GROUP BY, never a scan that re-parses every error.
 */
export interface ErrorSignature {
  errorClass: string;
  message: string;
  frame: string | null;
}

const MAX_MESSAGE = 500;

const UUID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi;
const ISO_TIME = /\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?\b/g;
/** Hex runs of 8+ characters with at least one digit: hashes, object ids, keys (plain words never qualify). */
const HEX = /\b(?=[0-9a-f]*\d)[0-9a-f]{8,}\b/gi;
const QUOTED = /"[^"\n]{0,200}"|'[^'\n]{0,200}'|`[^`\n]{0,200}`/g;
const NUMBER = /(?<![\w<])[-+]?\d+(\.\d+)?(?![\w>])|(?<=[a-z_-])\d+/gi;

/** The message with per-occurrence values replaced by placeholders (idempotent). */
export function normaliseMessage(message: string): string {
  return message
    .replace(UUID, "<uuid>")
    .replace(ISO_TIME, "<time>")
    .replace(QUOTED, (q) => `${q[0]}<str>${q[0]}`)
    // One placeholder for numbers and hex ids: a hash made only of digits is still the same failure.
    .replace(HEX, "<n>")
    .replace(NUMBER, "<n>")
    .replace(/\s+/g, " ")
    .trim()
    .slice(0, MAX_MESSAGE);
}

const CLASS_AT_START = /^([A-Za-z_$][\w$]*(?:Error|Exception|Failure)|Error)(?: \[[^\]]*\])?: /;
const CLASS_INSIDE = /\b([A-Z][\w$]*(?:Error|Exception))(?: \[[^\]]*\])?: /;

/** The error's class: from the stack's first line, else named inside the message, else "Error". */
export function errorClassOf(message: string, stack?: string | null): string {
  const first = stack?.split("\n", 1)[0] ?? "";
  return first.match(CLASS_AT_START)?.[1] ?? message.match(CLASS_AT_START)?.[1] ?? message.match(CLASS_INSIDE)?.[1] ?? "Error";
}

const FRAME = /^\s*at (?:(.+?) \()?(.+?)(?::\d+)?(?::\d+)?\)?$/;
const NOT_APPLICATION = /node_modules|^node:|\(node:|internal\/|<anonymous>|^native/;

/**
 * The first frame in the application's own code, as "function (path)" with the path from the
 * project's source roots and no line/column: stable across deploys that move code around it.
 */
export function firstApplicationFrame(stack: string | null | undefined): string | null {
  if (!stack) return null;
  for (const line of stack.split("\n").slice(1)) {
    if (!/^\s*at /.test(line) || NOT_APPLICATION.test(line)) continue;
    const match = line.match(FRAME);
    if (!match) continue;
    const fn = match[1]?.replace(/^async /, "") ?? "<top>";
    const file = match[2]!.replace(/^file:\/\//, "").replace(/^.*?\/((?:src|worker|test|scripts|prisma)\/)/, "$1");
    return `${fn} (${file})`;
  }
  return null;
}

export function errorSignature(error: { message: string; stack?: string | null }): ErrorSignature {
  return {
    errorClass: errorClassOf(error.message, error.stack),
    message: normaliseMessage(error.message),
    frame: firstApplicationFrame(error.stack),
  };
}

/** 32 hex characters naming the signature: what the failure_fingerprint columns hold. */
export function errorFingerprint(error: { message: string; stack?: string | null }): string {
  const s = errorSignature(error);
  return createHash("sha256").update(`${s.errorClass}\n${s.message}\n${s.frame ?? ""}`).digest("hex").slice(0, 32);
}

/** Rows that failed before fingerprints were recorded have none: they form one group under this name. */
export const UNFINGERPRINTED = "0".repeat(32);
