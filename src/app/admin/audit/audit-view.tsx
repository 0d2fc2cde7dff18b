"use client";

import { useInfiniteQuery } from "@tanstack/react-query";
import { usePathname, useRouter } from "next/navigation";
import { useState } from "react";
import { LoadMore } from "~/app/_components/load-more";
import { useTRPC } from "~/trpc/react";
import { RefreshBar, useRefetchInterval } from "../_components/refresh";
import { PAGE_SIZE } from "../_components/types";
import { formatCount, formatTime, JsonBlock, QueryError, shortId, StatusBadge } from "../_components/ui";

import { auditSearchParams, TEXT_KEYS, type AuditSearch } from "./search-params";

/** The audit log: who did what, to which ids or by which filter, how many, why, when. Read-only. */
export function AuditView({ initialSearch }: { initialSearch: AuditSearch }) {
  const trpc = useTRPC();
  const router = useRouter();
  const pathname = usePathname();
  const refetchInterval = useRefetchInterval();
  const [search, setSearch] = useState<AuditSearch>(initialSearch);
  const rows = useInfiniteQuery({
    ...trpc.admin.audit.search.infiniteQueryOptions({ ...search, limit: PAGE_SIZE }, { getNextPageParam: (p) => p.nextCursor ?? undefined }),
    refetchInterval,
  });
  const items = rows.data?.pages.flatMap((p) => p.items) ?? [];
  const apply = (next: AuditSearch) => {
    setSearch(next);
    const qs = auditSearchParams(next).toString();
    router.replace(qs ? `${pathname}?${qs}` : pathname, { scroll: false });
  };

  return (
    <>
      <h1>Audit log</h1>
      <RefreshBar queries={[rows]} />
      <p>Every operator action, written in the same transaction as the action. Nobody can change or delete these rows.</p>
      <section aria-labelledby="audit-search">
        <h2 id="audit-search">Search</h2>
        <SearchForm initial={search} onSearch={apply} />
      </section>
      <section aria-labelledby="audit-rows">
        <h2 id="audit-rows">Actions</h2>
        {rows.isError && <QueryError what="the audit log" error={rows.error} onRetry={rows.refetch} />}
        {rows.isPending ? (
          <p>Loading the audit log…</p>
        ) : items.length === 0 ? (
          <p>No operator action matches this search.</p>
        ) : (
          <table aria-label="Audit log">
            <thead>
              <tr>
                <th>When</th>
                <th>Who</th>
                <th>Action</th>
                <th>Target</th>
                <th>Dry run</th>
                <th>Affected</th>
                <th>Reason</th>
                <th>Outcome</th>
                <th>Correlation</th>
              </tr>
            </thead>
            <tbody>
              {items.map((r) => (
                <tr key={r.id}>
                  <td>{formatTime(r.at)}</td>
                  <td title={r.actorId ?? undefined}>{r.actorEmail}</td>
                  <td>
                    <code>{r.action}</code>
                  </td>
                  <td>
                    {r.targetKind}
                    {r.targetIds.length > 0 && (
                      <details>
                        <summary>
                          {r.targetIds.length === 1 ? shortId(r.targetIds[0]!) : `${formatCount(r.targetIds.length)} ids`}
                        </summary>
                        <JsonBlock value={r.targetIds} label={`Targets of audit row ${r.id}`} />
                      </details>
                    )}
                    {r.filter !== null && (
                      <details>
                        <summary>filter</summary>
                        <JsonBlock value={r.filter} label={`Filter of audit row ${r.id}`} />
                      </details>
                    )}
                  </td>
                  <td>{r.dryRunCount === null ? "—" : formatCount(r.dryRunCount)}</td>
                  <td>{r.affectedCount === null ? "—" : formatCount(r.affectedCount)}</td>
                  <td>{r.reason ?? "—"}</td>
                  <td>
                    <StatusBadge status={r.outcome} />
                  </td>
                  <td>{r.correlationId ? <code title={r.correlationId}>{shortId(r.correlationId)}</code> : "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <LoadMore query={rows} />
      </section>
    </>
  );
}

const toLocalInput = (d: Date | undefined) => (d ? new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16) : "");

function SearchForm({ initial, onSearch }: { initial: AuditSearch; onSearch: (s: AuditSearch) => void }) {
  const [form, setForm] = useState({
    actor: initial.actor ?? "",
    action: initial.action ?? "",
    targetId: initial.targetId ?? "",
    text: initial.text ?? "",
    from: toLocalInput(initial.from),
    to: toLocalInput(initial.to),
  });
  const field = (key: keyof typeof form) => ({ value: form[key], onChange: (e: { target: { value: string } }) => setForm({ ...form, [key]: e.target.value }) });
  return (
    <form
      aria-label="Search the audit log"
      onSubmit={(e) => {
        e.preventDefault();
        const next: AuditSearch = {};
        for (const key of TEXT_KEYS) if (form[key].trim()) next[key] = form[key].trim();
        if (form.from) next.from = new Date(form.from);
        if (form.to) next.to = new Date(form.to);
        onSearch(next);
      }}
    >
      <label>
        Actor (email or user id)
        <input {...field("actor")} maxLength={320} />
      </label>
      <label>
        Action
        <input {...field("action")} placeholder="e.g. outbox.retry" maxLength={100} />
      </label>
      <label>
        Target id
        <input {...field("targetId")} maxLength={200} />
      </label>
      <label>
        Text (reason, action, correlation)
        <input {...field("text")} maxLength={200} />
      </label>
      <label>
        From
        <input type="datetime-local" {...field("from")} />
      </label>
      <label>
        To
        <input type="datetime-local" {...field("to")} />
      </label>
      <button type="submit">Search</button>
    </form>
  );
}
