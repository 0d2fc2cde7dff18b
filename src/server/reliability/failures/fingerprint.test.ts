import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { errorFingerprint, errorSignature, firstApplicationFrame, normaliseMessage } from "./fingerprint";

/** What varies per occurrence of one failure, by kind: none of it may change the fingerprint. */
const kinds = [
  fc.uuid(),
  fc.integer({ min: -1_000_000, max: 1_000_000_000 }).map(String),
  fc.double({ min: 0, max: 1e6, noNaN: true }).map((n) => n.toFixed(3)),
  fc.date({ min: new Date(0), max: new Date(4102444800000), noInvalidDate: true }).map((d) => d.toISOString()),
  fc.stringMatching(/^[0-9a-f]{7}[0-9][0-9a-f]{0,24}$/), // hashes, object ids
  fc.stringMatching(/^[^"\n]{0,40}$/).map((v) => `"${v}"`), // quoted names
];
/** Words of a message template: letters and punctuation, no digits (so they are kept as they are). */
const word = fc.stringMatching(/^[A-Za-z][A-Za-z:,()]{0,11}$/).filter((w) => !/^[a-f]{8,}$/i.test(w));
type Part = { w: string } | { kind: number };
/** A message template, filled twice with values of the same kinds in the same places. */
const twoOccurrences = fc
  .array(fc.oneof(word.map((w): Part => ({ w })), fc.nat(kinds.length - 1).map((kind): Part => ({ kind }))), { minLength: 1, maxLength: 10 })
  .chain((parts) => {
    const values = () => fc.tuple(...parts.map((p) => ("w" in p ? fc.constant(p.w) : kinds[p.kind]!.map((v) => `id=${v}`))));
    return fc.tuple(values(), values());
  });

const stack = (cls: string, frames: string[]) => [`${cls}: boom`, ...frames.map((f) => `    at ${f}`)].join("\n");

describe("error fingerprint", () => {
  it("is the same for every occurrence of one failure (ids, uuids, numbers, times, hashes normalised)", () => {
    fc.assert(
      fc.property(twoOccurrences, ([a, b]) => {
        expect(errorFingerprint({ message: a.join(" ") })).toBe(errorFingerprint({ message: b.join(" ") }));
      }),
      { numRuns: 300 },
    );
  });

  it("normalising is idempotent", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        expect(normaliseMessage(normaliseMessage(s))).toBe(normaliseMessage(s));
      }),
      { numRuns: 500 },
    );
  });

  it("tells apart failures whose words, class or application frame differ", () => {
    fc.assert(
      fc.property(word, word, (x, y) => {
        fc.pre(normaliseMessage(x) !== normaliseMessage(y));
        expect(errorFingerprint({ message: `failed to ${x}` })).not.toBe(errorFingerprint({ message: `failed to ${y}` }));
      }),
    );
    const frame = (fn: string, file: string) => `${fn} (/srv/app/${file}:10:5)`;
    const base = { message: "boom", stack: stack("TypeError", [frame("inspect", "worker/a.ts")]) };
    expect(errorFingerprint(base)).not.toBe(errorFingerprint({ ...base, stack: stack("RangeError", [frame("inspect", "worker/a.ts")]) }));
    expect(errorFingerprint(base)).not.toBe(errorFingerprint({ ...base, stack: stack("TypeError", [frame("reap", "worker/b.ts")]) }));
  });

  it("takes the first frame of application code, without line and column", () => {
    fc.assert(
      fc.property(fc.nat(9999), fc.nat(999), fc.nat(9999), (line, col, line2) => {
        const s = (l: number) =>
          stack("TypeError", [
            "processTicksAndRejections (node:internal/process/task_queues:95:5)",
            `Worker.run (/app/node_modules/bullmq/dist/worker.js:${l}:1)`,
            `async inspectFile (file:///home/x/metastore/worker/processors/consumers/file-inspector.ts:${l}:${col})`,
            "at next (/app/src/server/other.ts:1:1)",
          ]);
        expect(firstApplicationFrame(s(line))).toBe("inspectFile (worker/processors/consumers/file-inspector.ts)");
        expect(errorFingerprint({ message: "x", stack: s(line) })).toBe(errorFingerprint({ message: "x", stack: s(line2) }));
      }),
    );
  });

  it("reads the class from the stack, or from inside the message (saga step errors carry no stack)", () => {
    expect(errorSignature({ message: "Step 2 (store) failed: TypeError: cannot read x of undefined" })).toEqual({
      errorClass: "TypeError",
      message: "Step <n> (store) failed: TypeError: cannot read x of undefined",
      frame: null,
    });
    expect(errorSignature({ message: "plain", stack: "StorageError [ENOSPC]: disk full\n    at write (/app/src/server/storage/x.ts:1:1)" })).toMatchObject({
      errorClass: "StorageError",
      frame: "write (src/server/storage/x.ts)",
    });
    expect(errorSignature({ message: 'file "a 1.txt" of 0190a0a0-0000-7000-8000-000000000000 missing after 1500 ms' }).message).toBe('file "<str>" of <uuid> missing after <n> ms');
  });
});
