import { describe, expect, it } from "vitest";
import { createDeferredMarks } from "./outbox-published-marks";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A recording mark: every call's ids; `changed` says how many rows each call "changed". */
function recorder(changed = (ids: string[]) => ids.length) {
  const calls: string[][] = [];
  const errors: string[][] = [];
  let given = 0;
  let marked = 0;
  const marks = (delayMs: number, fail?: (ids: string[]) => boolean) =>
    createDeferredMarks({
      delayMs,
      mark: async (ids) => {
        calls.push(ids);
        if (fail?.(ids)) throw new Error("PostgreSQL went away");
        return changed(ids);
      },
      onError: (_err, ids) => errors.push(ids),
      onMarked: (g, c) => {
        given += g;
        marked += c;
      },
    });
  return { calls, errors, marks, totals: () => ({ given, marked }) };
}

describe("deferred published marks", () => {
  it("mark nothing before the delay, then every batch that came due in one statement", async () => {
    const r = recorder();
    const marks = r.marks(150);
    marks.add(["a", "b"]);
    marks.add(["c"]);
    await sleep(50);
    expect(r.calls).toEqual([]);
    await sleep(200);
    await marks.settled();
    expect(r.calls).toEqual([["a", "b", "c"]]);
    expect(r.totals()).toEqual({ given: 3, marked: 3 });
  });

  it("report what a mark found already done (consumed first) and mark at once with a delay of 0", async () => {
    const r = recorder((ids) => ids.filter((id) => id !== "consumed").length);
    const marks = r.marks(0);
    marks.add(["x", "consumed"]);
    await marks.settled();
    expect(r.calls).toEqual([["x", "consumed"]]);
    expect(r.totals()).toEqual({ given: 2, marked: 1 });
  });

  it("flush marks everything deferred at once (the relay is closing); a failed mark is reported, not thrown", async () => {
    const r = recorder();
    const marks = r.marks(60_000, (ids) => ids.includes("bad"));
    marks.add(["a"]);
    marks.add(["bad"]);
    await marks.flush();
    expect(r.calls).toEqual([["a", "bad"]]);
    expect(r.errors).toEqual([["a", "bad"]]);
    // Nothing left behind: a later flush has nothing to mark.
    await marks.flush();
    expect(r.calls).toHaveLength(1);
  });
});
