/**
 * fast-check arbitraries derived from a procedure's zod 4 input schema: values that mostly pass it
 * (the fuzzer then mutates them into hostile ones). Reads zod's public introspection (`def.type`,
 * `minLength`, `format`…); a schema kind it does not know yields anything at all, which is still a
 * fine fuzz input. `ids` lets UUID fields hit rows that exist, so valid inputs reach deep code.
 */
import fc from "fast-check";
import type { z } from "zod";

type AnySchema = z.ZodType & { _zod: { def: Record<string, any> } }; // eslint-disable-line @typescript-eslint/no-explicit-any
type Anything = any; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface ArbitraryOptions {
  /** Known ids (files, sagas, events, users) mixed into generated UUIDs. */
  ids: string[];
}

/** Printable-ish text with a share of the characters that break naive code: NUL, RTL, emoji, quotes. */
export function nastyString(maxLength: number): fc.Arbitrary<string> {
  const nasty = fc.constantFrom("\u0000", "\u202e", "\ud83d\ude00", "'", '"', "\\", "/", "..", "%00", "\r\n", "<script>", "${x}", "\ufeff", "\u0301");
  const chunk = fc.oneof({ weight: 4, arbitrary: fc.string({ maxLength: 8, unit: "grapheme" }) }, { weight: 1, arbitrary: nasty });
  return fc.array(chunk, { maxLength: Math.max(1, Math.min(maxLength, 12)) }).map((parts) => parts.join("").slice(0, maxLength));
}

function stringArbitrary(schema: Anything, options: ArbitraryOptions): fc.Arbitrary<string> {
  const min: number = schema.minLength ?? 0;
  const max: number = Math.min(schema.maxLength ?? 64, 300);
  switch (schema.format) {
    case "uuid":
    case "guid":
      return options.ids.length
        ? fc.oneof({ weight: 1, arbitrary: fc.uuid() }, { weight: 3, arbitrary: fc.constantFrom(...options.ids) }, { weight: 1, arbitrary: fc.constantFrom(...options.ids).map((id) => id.toUpperCase()) })
        : fc.uuid();
    case "email":
      // fast-check's addresses are RFC-valid but often not what zod's stricter pattern accepts.
      return fc.oneof(fc.constantFrom("fuzz-user@test.local", "nobody@example.com", "FUZZ-USER@TEST.LOCAL"), fc.emailAddress().filter((e) => e.length <= max));
    case "regex": {
      const check = (schema._zod.def.checks as Anything[]).find((c) => c._zod.def.format === "regex");
      return fc.stringMatching(check._zod.def.pattern as RegExp).filter((s) => s.trim().length >= min && s.length <= max);
    }
    default:
      return fc.oneof(fc.string({ minLength: min, maxLength: max }), nastyString(max).filter((s) => s.length >= min));
  }
}

export function arbitraryFor(schema: AnySchema, options: ArbitraryOptions): fc.Arbitrary<unknown> {
  const s = schema as Anything;
  const def = s._zod.def;
  switch (def.type) {
    case "string":
      return stringArbitrary(s, options);
    case "number": {
      const min = Number.isFinite(s.minValue) ? s.minValue : -1e9;
      const max = Number.isFinite(s.maxValue) ? s.maxValue : 1e9;
      return s.isInt ? fc.integer({ min, max }) : fc.double({ min, max, noNaN: true });
    }
    case "boolean":
      return fc.boolean();
    case "date":
      return fc.date({ min: new Date("2000-01-01"), max: new Date("2100-01-01"), noInvalidDate: true });
    case "literal":
      return fc.constantFrom(...(def.values as unknown[]));
    case "enum":
      return fc.constantFrom(...Object.values(def.entries as Record<string, unknown>));
    case "optional":
    case "nullable":
      return fc.option(arbitraryFor(def.innerType, options), { nil: def.type === "optional" ? undefined : null });
    case "default":
    case "prefault":
    case "catch":
    case "readonly":
    case "nonoptional":
      return fc.option(arbitraryFor(def.innerType, options), { nil: undefined });
    case "pipe":
      return arbitraryFor(def.in, options);
    case "array": {
      const min = s._zod.def.checks?.find((c: Anything) => c._zod.def.check === "min_length")?._zod.def.minimum ?? 0;
      const max = s._zod.def.checks?.find((c: Anything) => c._zod.def.check === "max_length")?._zod.def.maximum ?? 5;
      return fc.array(arbitraryFor(def.element, options), { minLength: min, maxLength: Math.min(max, 8) });
    }
    case "object": {
      const shape = def.shape as Record<string, AnySchema>;
      const entries = Object.entries(shape).map(([key, value]) => [key, arbitraryFor(value, options)] as const);
      const optionalKeys = Object.entries(shape)
        .filter(([, v]) => ["optional", "default", "prefault"].includes(v._zod.def.type))
        .map(([k]) => k);
      return fc.record(Object.fromEntries(entries), { requiredKeys: Object.keys(shape).filter((k) => !optionalKeys.includes(k)) });
    }
    case "union":
      return fc.oneof(...(def.options as AnySchema[]).map((o) => arbitraryFor(o, options)));
    default:
      return fc.anything();
  }
}
