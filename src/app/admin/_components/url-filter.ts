/**
 * A list's filter kept in the URL: the address is the state, so a shared link reproduces the view,
 * reload keeps it and back/forward walks through earlier filters. One codec per list, declared as
 * fields; the server page parses the same codec for its prefetch (same input, same cache key).
 * No "use client": the page (server) and the view (client) both import it; the hook is in use-url-filter.ts.
 */

/** One URL parameter: how it reads (invalid → left out, never an error) and how it is written. */
export interface Field<V> {
  parse: (raw: string) => V | undefined;
  format: (value: V) => string;
  /** The parameter's name when it differs from the filter's key (e.g. errorContains → error). */
  param?: string;
}

type Fields = Record<string, { parse: (raw: string) => unknown; format: (value: never) => string; param?: string }>;
export type FilterOf<F> = { [K in keyof F]?: F[K] extends Field<infer V> ? V : never };

export const text = (max = 200, param?: string): Field<string> => ({
  parse: (raw) => (raw.trim() ? raw.trim().slice(0, max) : undefined),
  format: (v) => v,
  param,
});

export const pattern = (re: RegExp): Field<string> => ({ parse: (raw) => (re.test(raw) ? raw : undefined), format: (v) => v });

export const oneOf = <K extends string>(allowed: readonly K[]): Field<K> => ({
  parse: (raw) => allowed.find((a) => a === raw),
  format: (v) => v,
});

/** Several values as one comma-separated parameter (?status=failed,dead), in the allowed order. */
export const someOf = <K extends string>(allowed: readonly K[]): Field<K[]> => ({
  parse: (raw) => {
    const picked = raw.split(",");
    const list = allowed.filter((a) => picked.includes(a));
    return list.length ? list : undefined;
  },
  format: (v) => v.join(","),
});

export const int = (min: number, max: number): Field<number> => ({
  parse: (raw) => {
    const n = Number(raw);
    return Number.isInteger(n) && n >= min && n <= max ? n : undefined;
  },
  format: (v) => String(v),
});

export const isoDate: Field<Date> = {
  parse: (raw) => {
    const d = new Date(raw);
    return Number.isNaN(d.getTime()) ? undefined : d;
  },
  format: (v) => v.toISOString(),
};

export interface UrlFilter<T> {
  parse: (params: URLSearchParams) => T;
  format: (filter: T) => URLSearchParams;
}

/** The codec of a filter from its fields; `refine` drops combinations the procedure refuses. */
export function urlFilter<F extends Fields>(fields: F, refine: (f: FilterOf<F>) => FilterOf<F> = (f) => f): UrlFilter<FilterOf<F>> {
  const entries = Object.entries(fields) as unknown as Array<[keyof F & string, Field<unknown>]>;
  return {
    parse(params) {
      const filter: Record<string, unknown> = {};
      for (const [key, field] of entries) {
        const raw = params.get(field.param ?? key);
        const value = raw === null ? undefined : field.parse(raw);
        if (value !== undefined) filter[key] = value;
      }
      return refine(filter as FilterOf<F>);
    },
    format(filter) {
      const params = new URLSearchParams();
      for (const [key, field] of entries) {
        const value = (filter as Record<string, unknown>)[key];
        if (value !== undefined && !(Array.isArray(value) && value.length === 0) && value !== "") params.set(field.param ?? key, field.format(value));
      }
      return params;
    },
  };
}

/** A server page's searchParams as URLSearchParams (repeated keys kept). */
export function paramsOf(search: Record<string, string | string[] | undefined>) {
  return new URLSearchParams(Object.entries(search).flatMap(([k, v]) => [v ?? []].flat().map((x) => [k, x] as [string, string])));
}
