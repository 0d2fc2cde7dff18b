/**
 * The load client's wire: tRPC v11 over plain fetch (superjson envelope), as any HTTP client would
 * speak it. Every attempt comes back as a classified outcome, never as a throw, so the caller
 * decides what a careful client does next.
 */
import { z } from "zod";
import { fetchWithDeadline } from "../../../scripts/deploy-local/fetch-with-deadline";

export type Outcome =
  | { kind: "ok"; status: number; data: unknown; replayed: boolean }
  /** An HTTP answer that is not 2xx: 4xx and 5xx alike. */
  | { kind: "error"; status: number; code: string; message: string; retryAfterSeconds: number | null }
  /** No HTTP answer: connection refused or reset (the server is down or died mid-request). */
  | { kind: "network"; message: string }
  /** No answer within the client's timeout: a hang. */
  | { kind: "timeout"; message: string };

const errorEnvelope = z.object({
  error: z.object({ json: z.object({ message: z.string(), data: z.object({ code: z.string(), httpStatus: z.number() }).partial().optional() }) }),
});
const dataEnvelope = z.object({ result: z.object({ data: z.object({ json: z.unknown() }) }) });

export interface TrpcHttp {
  query(path: string, input: unknown): Promise<Outcome>;
  mutate(path: string, body: unknown | FormData, idempotencyKey: string): Promise<Outcome>;
}

export function trpcHttp(opts: { baseUrl: string; cookie: () => string | null; timeoutMs: number }): TrpcHttp {
  async function send(url: string, init: RequestInit): Promise<Outcome> {
    let res: Response;
    let text: string;
    try {
      ({ res, text } = await fetchWithDeadline(url, init, opts.timeoutMs));
    } catch (error) {
      const e = error as Error & { cause?: { code?: string } };
      if (e.name === "TimeoutError") return { kind: "timeout", message: `no answer within ${opts.timeoutMs} ms` };
      return { kind: "network", message: e.cause?.code ?? e.message };
    }
    let json: unknown = null;
    try {
      json = JSON.parse(text);
    } catch {
      // not JSON (a proxy page, a crash page): reported with its first bytes
    }
    // HAProxy's own answer (its HTML page, no app JSON) when the instance holding the request died
    // mid-request (502), or none was up (503), or none answered in time (504): the app gave no answer.
    if (json === null && (res.status === 502 || res.status === 503 || res.status === 504)) {
      return { kind: "network", message: `proxy ${res.status}: no answer from any web instance` };
    }
    if (res.ok) {
      const parsed = dataEnvelope.safeParse(json);
      return { kind: "ok", status: res.status, data: parsed.success ? parsed.data.result.data.json : null, replayed: res.headers.get("idempotent-replayed") === "true" };
    }
    const parsed = errorEnvelope.safeParse(json);
    const retryAfter = Number(res.headers.get("retry-after"));
    return {
      kind: "error",
      status: res.status,
      code: parsed.success ? (parsed.data.error.json.data?.code ?? "?") : "?",
      message: parsed.success ? parsed.data.error.json.message : text.slice(0, 300),
      retryAfterSeconds: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null,
    };
  }

  const headers = (extra: Record<string, string>) => {
    const cookie = opts.cookie();
    return { ...(cookie ? { cookie } : {}), ...extra };
  };

  return {
    query(path, input) {
      const qs = input === undefined ? "" : `?input=${encodeURIComponent(JSON.stringify({ json: input }))}`;
      return send(`${opts.baseUrl}/api/trpc/${path}${qs}`, { method: "GET", headers: headers({}) });
    },
    mutate(path, body, idempotencyKey) {
      const isForm = body instanceof FormData;
      return send(`${opts.baseUrl}/api/trpc/${path}`, {
        method: "POST",
        // Origin as a browser sends it on a POST from the app's own pages.
        headers: headers({ origin: opts.baseUrl, "Idempotency-Key": idempotencyKey, ...(isForm ? {} : { "content-type": "application/json" }) }),
        body: isForm ? body : JSON.stringify({ json: body }),
      });
    },
  };
}

/** Sign in through auth.signIn and return the session cookie (`name=value`). */
export async function signIn(baseUrl: string, email: string, password: string): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      const { res, text } = await fetchWithDeadline(
        `${baseUrl}/api/trpc/auth.signIn`,
        { method: "POST", headers: { "content-type": "application/json", origin: baseUrl }, body: JSON.stringify({ json: { email, password } }) },
        10_000,
      );
      const cookie = res.headers.getSetCookie().find((c) => c.startsWith("metastore_session="));
      if (res.ok && cookie) return cookie.split(";")[0]!;
      if (attempt >= 5) throw new Error(`sign-in as ${email} failed: ${res.status} ${text}`);
    } catch (error) {
      if (attempt >= 5) throw error;
    }
    await new Promise((r) => setTimeout(r, 500 * attempt));
  }
}
