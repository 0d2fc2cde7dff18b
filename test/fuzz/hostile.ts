/**
 * Hostile inputs for the fuzz suite: mutations of valid inputs (a field swapped for a wrong type,
 * a huge string, deep nesting, NUL and unicode, prototype keys) and raw request bodies that no
 * serializer would produce (broken JSON, broken multipart, oversized batches).
 */
import fc from "fast-check";
import { nastyString } from "./zod-arbitrary";

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

export const PROTOTYPE_KEYS = ["__proto__", "constructor", "prototype"] as const;

/** A value nested `depth` levels deep, built without recursion. */
export function deeplyNested(depth: number, leaf: unknown = 1, asArray = false): unknown {
  let value: unknown = leaf;
  for (let i = 0; i < depth; i++) value = asArray ? [value] : { a: value };
  return value;
}

/** The raw JSON text of a deeply nested value (JSON.stringify itself would overflow the stack). */
export function deeplyNestedJson(depth: number): string {
  return "[".repeat(depth) + "1" + "]".repeat(depth);
}

/** An object whose own key is `__proto__` (a literal `{ __proto__: x }` would set the prototype instead). */
function withOwnKey(key: string, value: unknown, base: object = {}): Json {
  return JSON.parse(JSON.stringify({ ...base, __KEY__: value }).replace('"__KEY__"', JSON.stringify(key)));
}

export const wrongType: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.constant(undefined),
  fc.boolean(),
  fc.integer(),
  fc.constantFrom(Number.MAX_SAFE_INTEGER * 4, -0, 1e308, -1e308, 0.5),
  fc.string({ maxLength: 10 }),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.object({ maxDepth: 2 }),
  fc.date(),
  fc.bigInt(),
);

export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: wrongType },
  // Huge, yet under a 1 MiB JSON body limit: the point is the schema's own length checks.
  { weight: 2, arbitrary: fc.integer({ min: 10_000, max: 400_000 }).map((n) => "x".repeat(n)) },
  { weight: 2, arbitrary: nastyString(40) },
  { weight: 1, arbitrary: fc.constantFrom("\u0000", "a\u0000b", "\ud800", "\udfff", "\u0000".repeat(1000)) },
  { weight: 2, arbitrary: fc.integer({ min: 21, max: 600 }).chain((d) => fc.boolean().map((arr) => deeplyNested(d, "x", arr))) },
  { weight: 2, arbitrary: fc.constantFrom(...PROTOTYPE_KEYS).map((k) => withOwnKey(k, { polluted: true, isAdmin: true })) },
);

/** Replace one field (at any depth) of a valid input by a hostile value, or add a prototype key. */
export function mutate(valid: unknown): fc.Arbitrary<unknown> {
  const paths: string[][] = [];
  const walk = (v: unknown, path: string[]) => {
    paths.push(path);
    if (v && typeof v === "object" && !(v instanceof Date) && path.length < 6) {
      for (const [k, child] of Object.entries(v)) walk(child, [...path, k]);
    }
  };
  walk(valid, []);
  return fc.tuple(fc.constantFrom(...paths), hostileValue, fc.constantFrom(...PROTOTYPE_KEYS), fc.nat(3)).map(([path, value, protoKey, mode]) => {
    if (mode === 0) return withOwnKey(protoKey, { isAdmin: true }, valid && typeof valid === "object" ? (valid as object) : {});
    if (path.length === 0) return value;
    const copy = structuredClone(valid) as Json;
    let node = copy;
    for (const key of path.slice(0, -1)) node = node[key];
    node[path[path.length - 1]!] = value;
    return copy;
  });
}

/** Bodies of a JSON POST that are not what they say they are. */
export const brokenJsonBody: fc.Arbitrary<{ body: string | Uint8Array; contentType: string }> = fc.oneof(
  fc.constantFrom("{", "}", "[", '{"json":', '{"json": {"id": "x"', "nul\u0000l", "", " ", "undefined", "NaN", '{"json":1}{"json":2}', "\ufeff{}").map((body) => ({ body, contentType: "application/json" })),
  fc.integer({ min: 1000, max: 60_000 }).map((d) => ({ body: `{"json":${deeplyNestedJson(d)}}`, contentType: "application/json" })),
  fc.integer({ min: 1000, max: 60_000 }).map((d) => ({ body: `{"json":{"id":${"{\"a\":".repeat(d)}1${"}".repeat(d)}}}`, contentType: "application/json" })),
  fc.constantFrom(...PROTOTYPE_KEYS).map((k) => ({ body: `{"json":{"${k}":{"isAdmin":true},"id":"x"},"meta":{"values":{"${k}":["Date"]}}}`, contentType: "application/json" })),
  fc.constantFrom(...PROTOTYPE_KEYS).map((k) => ({ body: `{"json":{"a":1},"meta":{"values":{"${k}.polluted":["Date"]},"referentialEqualities":{"${k}":["a"]}}}`, contentType: "application/json" })),
  fc.uint8Array({ minLength: 1, maxLength: 200 }).map((body) => ({ body, contentType: "application/json" })),
  fc.record({ body: fc.string({ maxLength: 50 }), contentType: fc.constantFrom("text/plain", "application/x-www-form-urlencoded", "application/xml", "multipart/form-data") }),
);

/** Multipart bodies that are broken: no boundary, a boundary never closed, a part without a name… */
export const brokenMultipart: fc.Arbitrary<{ body: string | Uint8Array; contentType: string }> = fc.oneof(
  fc.constant({ body: "--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nabc", contentType: "multipart/form-data; boundary=x" }),
  fc.constant({ body: "garbage", contentType: "multipart/form-data" }),
  fc.constant({ body: "--x\r\n\r\n--x--", contentType: "multipart/form-data; boundary=x" }),
  fc.constant({ body: "--x\r\nContent-Disposition: form-data\r\n\r\nabc\r\n--x--", contentType: "multipart/form-data; boundary=x" }),
  fc.constant({ body: "--x\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nnot a file\r\n--x--", contentType: "multipart/form-data; boundary=x" }),
  fc.constant({ body: `--x\r\nContent-Disposition: form-data; name="file"; filename="${"\u0000".repeat(10)}"\r\n\r\nabc\r\n--x--`, contentType: "multipart/form-data; boundary=x" }),
  fc.constant({ body: `--x\r\nContent-Disposition: form-data; name="file"; filename="${"a".repeat(100_000)}"\r\n\r\nabc\r\n--x--`, contentType: "multipart/form-data; boundary=x" }),
  fc.constant({ body: `--x\r\nContent-Disposition: form-data; name="file"; filename="../../etc/passwd"\r\nContent-Type: text/html\r\n\r\n<script>alert(1)</script>\r\n--x--`, contentType: "multipart/form-data; boundary=x" }),
  fc.uint8Array({ maxLength: 300 }).map((bytes) => ({ body: bytes, contentType: "multipart/form-data; boundary=----b" })),
);

/** Cookie headers that carry no valid session: bad percent-encoding, tampered or huge seals. */
export const brokenCookie: fc.Arbitrary<string> = fc
  .oneof(
    fc.constantFrom("%", "%E0%A4%A", "%ZZ", "%C0%80", "%00", "Fe26.2**", "Fe26.2*1*x*y*z*w*v*u", "", "a=b=c", "\"quoted\""),
    fc.string({ maxLength: 60 }),
    fc.integer({ min: 1000, max: 8000 }).map((n) => "A".repeat(n)),
  )
  // Only what a Cookie header can carry at all (fetch's Headers refuses the rest).
  .map((value) => `metastore_session=${value.replace(/[^\x21-\x7e]/g, "")}`);
