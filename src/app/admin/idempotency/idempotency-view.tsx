"use client";

import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTRPC } from "~/trpc/react";
import { RefreshBar, useRefetchInterval } from "../_components/refresh";
import { RECORDS_PAGE, type AdminInputs, type AdminOutputs } from "../_components/types";
import { ReasonField, useReason } from "../_components/reason-field";
import { ConfirmButton, formatCount, formatPercent, formatTime, JsonBlock, plural, QueryError, ResultMessage, shortId, Stat, StatusBadge, type Result } from "../_components/ui";
import { LoadMore } from "~/app/_components/load-more";


type RecordSearch = Omit<AdminInputs["idempotency"]["records"], "cursor" | "limit">;

const COUNTERS: Array<{ key: keyof AdminOutputs["idempotency"]["stats"]["counters"]; label: string; help: string }> = [
  { key: "requests", label: "Keyed requests", help: "mutations that carried a valid key" },
  { key: "executed", label: "Executed", help: "ran the procedure" },
  { key: "replayed", label: "Replayed", help: "answered from a stored result" },
  { key: "conflicts", label: "Conflicts (409)", help: "same key still in progress" },
  { key: "mismatches", label: "Mismatches (422)", help: "same key, other input" },
  { key: "malformed", label: "Malformed (400)", help: "bad key" },
  { key: "storedErrors", label: "Stored errors", help: "deterministic errors kept for replay" },
  { key: "released", label: "Released", help: "unexpected failures that freed the key" },
  { key: "recovered", label: "Recovered", help: "claims taken over after their lease ran out" },
];

const WINDOWS = [
  { label: "All time", hours: undefined },
  { label: "Last hour", hours: 1 },
  { label: "Last 24 hours", hours: 24 },
  { label: "Last 7 days", hours: 168 },
];

export function IdempotencyView({ canAct }: { canAct: boolean }) {
  const trpc = useTRPC();
  const refetchInterval = useRefetchInterval();
  const [hours, setHours] = useState<number | undefined>(undefined);
  const [search, setSearch] = useState<RecordSearch>({});
  const stats = useQuery({ ...trpc.admin.idempotency.stats.queryOptions(hours === undefined ? {} : { hours }), refetchInterval });
  const records = useInfiniteQuery({
    ...trpc.admin.idempotency.records.infiniteQueryOptions({ ...search, limit: RECORDS_PAGE }, { getNextPageParam: (p) => p.nextCursor ?? undefined }),
    refetchInterval,
  });
  const items = records.data?.pages.flatMap((p) => p.items) ?? [];

  return (
    <>
      <div className="row page-head">
        <h1>Idempotency</h1>
        <RefreshBar queries={[stats, records]} />
      </div>
      <section className="panel" aria-labelledby="idem-stats">
        <div className="row panel-head">
          <h2 id="idem-stats">Counters</h2>
          <label className="inline">
            Window
            <select value={hours ?? ""} onChange={(e) => setHours(e.target.value ? Number(e.target.value) : undefined)}>
              {WINDOWS.map((w) => (
                <option key={w.label} value={w.hours ?? ""}>
                  {w.label}
                </option>
              ))}
            </select>
          </label>
        </div>
        {stats.isError && <QueryError what="idempotency stats" error={stats.error} onRetry={stats.refetch} />}
        {stats.isPending ? <p className="muted">Loading counters…</p> : stats.data && <StatsBlock stats={stats.data} />}
        {canAct && <DeleteExpired expired={stats.data?.records.expired} />}
      </section>

      <section className="panel" aria-labelledby="idem-records">
        <h2 id="idem-records">Records</h2>
        <SearchForm onSearch={setSearch} />
        {records.isError && <QueryError what="idempotency records" error={records.error} onRetry={records.refetch} />}
        {records.isPending ? (
          <p className="muted">Loading records…</p>
        ) : items.length === 0 ? (
          <p className="empty">{search.key ? `No record has the key “${search.key}” (it may have expired and been cleaned up).` : "No record matches."}</p>
        ) : (
          <div className="table-wrap">
<table aria-label="Idempotency records">
            <thead>
              <tr>
                <th>Created</th>
                <th>Key</th>
                <th>Procedure</th>
                <th>User</th>
                <th>State</th>
                <th>Status</th>
                <th>Expires</th>
                <th>Stored result</th>
              </tr>
            </thead>
            <tbody>
              {items.map((r) => (
                <tr key={r.id}>
                  <td className="muted nowrap">{formatTime(r.createdAt)}</td>
                  <td>
                    <code className="key">{r.key}</code>
                  </td>
                  <td>{r.procedure}</td>
                  <td className="muted" title={r.userId}>
                    {r.userId === "anon" ? "anonymous" : shortId(r.userId)}
                  </td>
                  <td>
                    <StatusBadge status={r.state} />
                    {r.state === "in_progress" && r.leaseUntil && <div className="muted small">lease until {formatTime(r.leaseUntil)}</div>}
                  </td>
                  <td>{r.responseStatus ?? "—"}</td>
                  <td className="muted nowrap">{formatTime(r.expiresAt)}</td>
                  <td>
                    {r.outcome ? (
                      <details>
                        <summary>{r.outcome.type === "data" ? "data" : `error ${r.outcome.code}`}</summary>
                        <JsonBlock value={r.outcome.type === "data" ? r.outcome.data : r.outcome} label={`Stored result of ${r.key}`} />
                      </details>
                    ) : (
                      <span className="muted">none yet</span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
</div>
        )}
        <LoadMore query={records} />
      </section>
    </>
  );
}

function StatsBlock({ stats }: { stats: AdminOutputs["idempotency"]["stats"] }) {
  return (
    <>
      <dl className="stats" aria-label="Idempotency counters">
        <Stat label="Hit rate" value={formatPercent(stats.hitRate)} hint={stats.window} />
        {COUNTERS.map((c) => (
          <Stat key={c.key} label={c.label} value={formatCount(stats.counters[c.key])} hint={c.help} />
        ))}
      </dl>
      <dl className="stats" aria-label="Records by state">
        <Stat label="Records" value={formatCount(stats.records.total)} />
        <Stat label="Completed" value={formatCount(stats.records.completed)} />
        <Stat label="In progress" value={formatCount(stats.records.inProgress)} />
        <Stat label="Abandoned" value={formatCount(stats.records.abandoned)} hint="lease ran out" tone={stats.records.abandoned ? "warn" : undefined} />
        <Stat label="Expired" value={formatCount(stats.records.expired)} hint="awaiting clean-up" />
      </dl>
      {stats.byProcedure.length > 0 && (
        <table aria-label="Idempotency by procedure">
          <thead>
            <tr>
              <th>Procedure</th>
              <th>Requests</th>
              <th>Replayed</th>
              <th>Hit rate</th>
              <th>Conflicts</th>
              <th>Mismatches</th>
              <th>Released</th>
            </tr>
          </thead>
          <tbody>
            {stats.byProcedure.map((p) => (
              <tr key={p.procedure}>
                <td>{p.procedure}</td>
                <td>{formatCount(p.requests)}</td>
                <td>{formatCount(p.replayed)}</td>
                <td>{formatPercent(p.hitRate)}</td>
                <td>{formatCount(p.conflicts)}</td>
                <td>{formatCount(p.mismatches)}</td>
                <td>{formatCount(p.released)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function SearchForm({ onSearch }: { onSearch: (s: RecordSearch) => void }) {
  const [key, setKey] = useState("");
  const [procedure, setProcedure] = useState("");
  const [state, setState] = useState<"" | "in_progress" | "completed">("");
  return (
    <form
      className="row filters"
      aria-label="Search idempotency records"
      onSubmit={(e) => {
        e.preventDefault();
        onSearch({
          ...(key.trim() ? { key: key.trim() } : {}),
          ...(procedure.trim() ? { procedure: procedure.trim() } : {}),
          ...(state ? { state } : {}),
        });
      }}
    >
      <label>
        Idempotency key
        <input value={key} onChange={(e) => setKey(e.target.value)} placeholder="exact key" maxLength={255} />
      </label>
      <label>
        Procedure
        <input value={procedure} onChange={(e) => setProcedure(e.target.value)} placeholder="e.g. files.rename" />
      </label>
      <label>
        State
        <select value={state} onChange={(e) => setState(e.target.value as typeof state)}>
          <option value="">Any</option>
          <option value="in_progress">In progress</option>
          <option value="completed">Completed</option>
        </select>
      </label>
      <button type="submit" className="primary">
        Search
      </button>
      <button
        type="button"
        onClick={() => {
          setKey("");
          setProcedure("");
          setState("");
          onSearch({});
        }}
      >
        Clear
      </button>
    </form>
  );
}

function DeleteExpired({ expired }: { expired: number | undefined }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [result, setResult] = useState<Result>(null);
  const why = useReason();
  const remove = useMutation(
    trpc.admin.idempotency.deleteExpired.mutationOptions({
      onSuccess: (r) => setResult({ kind: "ok", text: r.deleted ? `${plural(r.deleted, "expired record")} deleted.` : "No expired record to delete." }),
      onSettled: () => queryClient.invalidateQueries({ queryKey: trpc.admin.idempotency.pathKey() }),
    }),
  );
  return (
    <div className="row">
      <ConfirmButton
        label="Delete expired records…"
        title="Delete expired idempotency records"
        confirmLabel="Delete them"
        pendingLabel="Deleting…"
        danger
        onOpen={() => {
          setResult(null);
          why.reset();
        }}
        onConfirm={() => remove.mutateAsync({ reason: why.value() })}
      >
        <p>
          Delete {expired === undefined ? "the records" : plural(expired, "record")} past expiry now (the worker also does it on a schedule). A client retrying
          with one of those keys would run its mutation again.
        </p>
        <ReasonField reason={why.reason} setReason={why.setReason} />
      </ConfirmButton>
      <ResultMessage result={result} />
    </div>
  );
}
