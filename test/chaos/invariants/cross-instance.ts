/**
 * What must hold whichever web instance a request lands on (HAProxy round robin over several
 * `next start` processes). Each check sends its requests through HAProxy and reads which instance
 * answered from the X-Served-By header deploy/haproxy.cfg adds, so it can show that the requests
 * were in fact spread (a check that only ever met one instance proves nothing and fails).
 *   sessions        a cookie sealed by one instance is honoured by the others
 *   sign-out        signOutEverywhere on one instance ends the session on all of them at once,
 *                   although each keeps a session cache (invalidated over Redis pub/sub)
 *   cache           a rename through one instance is seen by list reads on all of them at once
 *   idempotency     one Idempotency-Key sent concurrently to several instances executes once
 *   rate limits     the sign-in throttle counts failures across instances, per account and per
 *                   client address (the one HAProxy appended, not a forged X-Forwarded-For)
 * Run after the data invariants: the users and files made here are not the load's.
 */
import { randomUUID } from "node:crypto";
import pg from "pg";
import { hashPassword } from "~/server/auth/passwords";
import { check, type Check } from "./check";
import { fetchWithDeadline } from "../../../scripts/deploy-local/fetch-with-deadline";

interface Answer {
  status: number;
  json: unknown;
  servedBy: string;
  replayed: boolean;
}

export const SCALE_SIGNIN_LIMITS = { perAccount: 5, perAddress: 20 } as const;

export async function checkCrossInstance(baseUrl: string, databaseUrl: string, instances: number): Promise<Check[]> {
  async function send(path: string, init: { method?: string; cookie?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer & { setCookie: string | null }> {
    const isForm = init.body instanceof FormData;
    const { res, text } = await fetchWithDeadline(`${baseUrl}/api/trpc/${path}`, {
      method: init.method ?? "GET",
      headers: {
        ...(init.cookie ? { cookie: init.cookie } : {}),
        ...(init.method === "POST" ? { origin: baseUrl, ...(isForm ? {} : { "content-type": "application/json" }) } : {}),
        ...init.headers,
      },
      // A mutation without input is sent as the tRPC client sends it: `{}` (superjson of undefined).
      body: init.method !== "POST" ? undefined : isForm ? (init.body as FormData) : JSON.stringify({ json: init.body }),
    }, 20_000);
    let json: unknown = null;
    try {
      json = JSON.parse(text);
    } catch {
      json = text.slice(0, 200);
    }
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith("metastore_session="));
    return {
      status: res.status,
      json,
      servedBy: res.headers.get("x-served-by") ?? "?",
      replayed: res.headers.get("idempotent-replayed") === "true",
      setCookie: cookie ? cookie.split(";")[0]! : null,
    };
  }
  const query = (path: string, input: unknown, cookie?: string) => send(`${path}?input=${encodeURIComponent(JSON.stringify({ json: input }))}`, { cookie });
  const data = (a: Answer) => (a.json as { result?: { data?: { json?: unknown } } })?.result?.data?.json;
  /** N sequential requests, so round robin spreads them over the instances. */
  const spread = async (n: number, one: () => Promise<Answer>) => {
    const answers: Answer[] = [];
    for (let i = 0; i < n; i++) answers.push(await one());
    return answers;
  };
  const met = (answers: Answer[]) => new Set(answers.map((a) => a.servedBy));
  const spreadProblem = (answers: Answer[]) =>
    met(answers).size < Math.min(2, instances) ? [`all ${answers.length} requests met one instance (${[...met(answers)].join(", ")}): nothing was shown across instances`] : [];

  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  const newUser = async () => {
    const u = { id: randomUUID(), email: `scale-${randomUUID().slice(0, 8)}@chaos.local`, password: `scale-password-${randomUUID().slice(0, 6)}` };
    await db.query("INSERT INTO app_user (id, email, name, password_hash, role, updated_at) VALUES ($1, $2, 'scale check', $3, 'user', now())", [u.id, u.email, await hashPassword(u.password)]);
    return u;
  };
  const signIn = async (u: { email: string; password: string }) => {
    const a = await send("auth.signIn", { method: "POST", body: { email: u.email, password: u.password } });
    if (a.status !== 200 || !a.setCookie) throw new Error(`sign-in through HAProxy failed: ${a.status} ${JSON.stringify(a.json)}`);
    return a.setCookie;
  };
  const checks: Check[] = [];
  const rounds = instances * 3;
  try {
    // Sessions, then sign-out everywhere.
    const alice = await newUser();
    const cookie = await signIn(alice);
    const signedIn = await spread(rounds, () => query("auth.me", undefined, cookie));
    checks.push(
      check(
        "a session from one instance is honoured by every instance",
        [...spreadProblem(signedIn), ...signedIn.filter((a) => (data(a) as { id?: string } | null)?.id !== alice.id).map((a) => `${a.servedBy}: ${a.status} ${JSON.stringify(data(a))}`)],
        `${signedIn.length} auth.me over ${met(signedIn).size} instances`,
      ),
    );
    const out = await send("auth.signOutEverywhere", { method: "POST", cookie });
    const after = await spread(rounds, () => query("auth.me", undefined, cookie));
    checks.push(
      check(
        "signOutEverywhere on one instance ends the session on all at once (session caches invalidated)",
        [...(out.status === 200 ? [] : [`signOutEverywhere answered ${out.status}`]), ...spreadProblem(after), ...after.filter((a) => data(a) !== null).map((a) => `${a.servedBy} still honours the cookie: ${JSON.stringify(data(a))}`)],
        `signed out on ${out.servedBy}; ${after.length} auth.me right after over ${met(after).size} instances`,
      ),
    );

    // Cache invalidation: list (cached) everywhere, rename through one instance, list again.
    const bob = await newUser();
    const bobCookie = await signIn(bob);
    const form = new FormData();
    form.append("file", new File(["cross-instance cache check"], "before.txt", { type: "text/plain" }));
    const uploaded = await send("files.upload", { method: "POST", cookie: bobCookie, body: form, headers: { "Idempotency-Key": randomUUID() } });
    const fileId = (data(uploaded) as { id?: string } | null)?.id;
    const names = (a: Answer) => ((data(a) as { items?: Array<{ id: string; name: string }> } | null)?.items ?? []).map((f) => f.name);
    const warm = await spread(rounds, () => query("files.list", { limit: 25 }, bobCookie));
    const renamed = await send("files.rename", { method: "POST", cookie: bobCookie, body: { id: fileId, name: "after.txt" }, headers: { "Idempotency-Key": randomUUID() } });
    const lists = await spread(rounds, () => query("files.list", { limit: 25 }, bobCookie));
    checks.push(
      check(
        "a rename through one instance is seen at once by list reads on every instance (cache invalidated)",
        [
          ...(fileId && renamed.status === 200 ? [] : [`setup failed: upload ${uploaded.status}, rename ${renamed.status}`]),
          ...warm.filter((a) => !names(a).includes("before.txt")).map((a) => `${a.servedBy} did not list the upload before the rename`),
          ...spreadProblem(lists),
          ...lists.filter((a) => !names(a).includes("after.txt") || names(a).includes("before.txt")).map((a) => `${a.servedBy} listed ${JSON.stringify(names(a))}`),
        ],
        `renamed on ${renamed.servedBy}; ${lists.length} lists over ${met(lists).size} instances`,
      ),
    );

    // Idempotency: one key, concurrent and then sequential, across instances.
    const key = randomUUID();
    const keyedForm = () => {
      const f = new FormData();
      f.append("file", new File(["one key, many instances"], "keyed.txt", { type: "text/plain" }));
      return f;
    };
    const keyed = () => send("files.upload", { method: "POST", cookie: bobCookie, body: keyedForm(), headers: { "Idempotency-Key": key } });
    const burst = await Promise.all(Array.from({ length: rounds }, keyed));
    const retries = await spread(rounds, keyed);
    const all = [...burst, ...retries];
    const ids = new Set(all.filter((a) => a.status === 200).map((a) => (data(a) as { id: string }).id));
    const { rows } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM outbox_event WHERE headers->>'idempotencyKey' = $1", [key]);
    const { rows: fileRows } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM file WHERE owner_id = $1 AND name = 'keyed.txt'", [bob.id]);
    checks.push(
      check(
        "one Idempotency-Key sent to several instances at once executes once",
        [
          ...all.filter((a) => a.status !== 200 && a.status !== 409).map((a) => `${a.servedBy}: ${a.status} ${JSON.stringify(a.json).slice(0, 160)}`),
          ...(ids.size === 1 ? [] : [`${ids.size} different file ids answered: ${[...ids].join(", ")}`]),
          ...(rows[0]!.n === 1 ? [] : [`${rows[0]!.n} events carry the key`]),
          ...(fileRows[0]!.n === 1 ? [] : [`${fileRows[0]!.n} files named keyed.txt`]),
          ...retries.filter((a) => !a.replayed).map((a) => `${a.servedBy}: a later retry was not a replay (${a.status})`),
          ...spreadProblem(all),
        ],
        `${burst.length} concurrent + ${retries.length} sequential over ${met(all).size} instances: ${burst.filter((a) => a.status === 409).length} × 409 in progress, ${all.filter((a) => a.replayed).length} replays, 1 execution`,
      ),
    );

    // Rate limits: per account (wrong passwords, spread over instances), then per address with a
    // forged X-Forwarded-For on every attempt (HAProxy appends the real one; TRUST_PROXY=1 takes it).
    const carol = await newUser();
    const wrong = await spread(SCALE_SIGNIN_LIMITS.perAccount + 3, () => send("auth.signIn", { method: "POST", body: { email: carol.email, password: "not-the-password" } }));
    const statuses = wrong.map((a) => a.status);
    const expected = wrong.map((_, i) => (i < SCALE_SIGNIN_LIMITS.perAccount ? 401 : 429));
    checks.push(
      check(
        `the per-account sign-in limit (${SCALE_SIGNIN_LIMITS.perAccount}) counts failures across instances`,
        [...spreadProblem(wrong), ...(JSON.stringify(statuses) === JSON.stringify(expected) ? [] : [`statuses ${statuses.join(",")}, expected ${expected.join(",")}`])],
        `${wrong.length} wrong passwords over ${met(wrong).size} instances: ${statuses.join(",")}`,
      ),
    );
    const forged = await spread(SCALE_SIGNIN_LIMITS.perAddress + 3, () =>
      send("auth.signIn", {
        method: "POST",
        body: { email: `nobody-${randomUUID().slice(0, 8)}@chaos.local`, password: "wrong" },
        headers: { "x-forwarded-for": `203.0.113.${Math.floor(Math.random() * 250) + 1}` },
      }),
    );
    // Failures the account check above made from this address count too.
    const fromAddress = SCALE_SIGNIN_LIMITS.perAccount;
    const firstRefused = forged.findIndex((a) => a.status === 429);
    const expectedFirst = SCALE_SIGNIN_LIMITS.perAddress - fromAddress;
    checks.push(
      check(
        `the per-address sign-in limit (${SCALE_SIGNIN_LIMITS.perAddress}) counts the address HAProxy saw, not a forged X-Forwarded-For`,
        [...spreadProblem(forged), ...(firstRefused === expectedFirst && forged.slice(firstRefused).every((a) => a.status === 429) ? [] : [`statuses ${forged.map((a) => a.status).join(",")}: first 429 at attempt ${firstRefused + 1}, expected ${expectedFirst + 1}`])],
        `${forged.length} attempts with random forged addresses over ${met(forged).size} instances: first 429 at attempt ${firstRefused + 1}`,
      ),
    );
  } finally {
    await db.end();
  }
  return checks;
}
