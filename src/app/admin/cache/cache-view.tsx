"use client";

import { Table } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTRPC } from "~/trpc/react";
import { RefreshBar, useRefetchInterval } from "../_components/refresh";
import type { AdminOutputs } from "../_components/types";
import { AUDIT_REASON } from "../_components/audit-reason";
import { ConfirmButton, formatCount, formatDuration, formatPercent, formatTime, plural, QueryError, ResultMessage, Stat, type Result, TableFrame } from "../_components/ui";

type CacheStats = AdminOutputs["cache"]["stats"];

export function CacheView({ canAct }: { canAct: boolean }) {
  const trpc = useTRPC();
  const refetchInterval = useRefetchInterval();
  const [result, setResult] = useState<Result>(null);
  const stats = useQuery({ ...trpc.admin.cache.stats.queryOptions(), refetchInterval });

  return (
    <>
      <div className="row page-head">
        <h1>Query cache</h1>
        <RefreshBar queries={[stats]} />
      </div>
      <ResultMessage result={result} />
      {stats.isError && <QueryError what="cache stats" error={stats.error} onRetry={stats.refetch} />}
      {stats.isPending && <p className="muted">Loading cache stats…</p>}
      {stats.data && (
        <>
          <section className="panel" aria-labelledby="cache-totals">
            <h2 id="cache-totals">Totals</h2>
            <Totals stats={stats.data} />
          </section>
          <section className="panel" aria-labelledby="cache-prefixes">
            <h2 id="cache-prefixes">By prefix</h2>
            <PrefixTable stats={stats.data} canAct={canAct} onResult={setResult} />
          </section>
        </>
      )}
      {canAct && !stats.isError && <FlushTag onResult={setResult} />}
    </>
  );
}

function Totals({ stats }: { stats: CacheStats }) {
  const t = stats.totals;
  return (
    <>
      <dl className="stats" aria-label="Cache totals">
        <Stat label="Hit rate" value={formatPercent(t.hitRate)} hint="served without own loader" />
        <Stat label="Hits" value={formatCount(t.hits)} />
        <Stat label="Stale served" value={formatCount(t.stale)} />
        <Stat label="Coalesced / waited" value={`${formatCount(t.coalesced)} / ${formatCount(t.waited)}`} />
        <Stat label="Misses" value={formatCount(t.misses)} />
        <Stat label="Bypassed" value={formatCount(t.bypassed)} />
        <Stat label="Keys" value={`${formatCount(t.keys)}${stats.keysScanLimitReached ? "+" : ""}`} hint={stats.keysScanLimitReached ? "scan limit reached" : undefined} />
        <Stat label="Loader time saved" value={formatDuration(t.savedMs)} />
      </dl>
      <dl className="stats" aria-label="Cache Redis state">
        <Stat label="Redis" value={stats.redis.status} tone={stats.redis.status === "ready" ? "ok" : "bad"} />
        <Stat label="Circuit breaker" value={stats.redis.breakerOpen ? "open (cache bypassed)" : "closed"} tone={stats.redis.breakerOpen ? "bad" : "ok"} />
        <Stat label="Pending invalidations" value={formatCount(stats.redis.pendingInvalidations)} tone={stats.redis.pendingInvalidations ? "warn" : undefined} />
        <Stat
          label="Redis errors (this web process)"
          value={formatCount(stats.errors.thisProcess)}
          hint={stats.errors.last ? `last: ${stats.errors.last.message} at ${formatTime(stats.errors.last.at)}` : undefined}
          tone={stats.errors.thisProcess ? "warn" : undefined}
        />
      </dl>
    </>
  );
}

function PrefixTable({ stats, canAct, onResult }: { stats: CacheStats; canAct: boolean; onResult: (r: Result) => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const flush = useMutation(trpc.admin.cache.flushPrefix.mutationOptions({ onSettled: () => queryClient.invalidateQueries({ queryKey: trpc.admin.cache.pathKey() }) }));
  if (stats.prefixes.length === 0) return <p className="empty">Nothing has been cached yet: no prefix has counters or keys.</p>;
  return (
    <div className="table-wrap">
<TableFrame label="Cache by prefix">
      <Table.Thead>
        <Table.Tr>
          <Table.Th>Prefix</Table.Th>
          <Table.Th>Hit rate</Table.Th>
          <Table.Th>Hits</Table.Th>
          <Table.Th>Stale</Table.Th>
          <Table.Th>Coalesced</Table.Th>
          <Table.Th>Misses</Table.Th>
          <Table.Th>Bypassed</Table.Th>
          <Table.Th>Keys</Table.Th>
          <Table.Th>Load time</Table.Th>
          <Table.Th>Saved</Table.Th>
          {canAct && <Table.Th aria-label="Actions" />}
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {stats.prefixes.map((p) => (
          <Table.Tr key={p.prefix}>
            <Table.Td>
              <code>{p.prefix}</code>
            </Table.Td>
            <Table.Td>{formatPercent(p.hitRate)}</Table.Td>
            <Table.Td>{formatCount(p.hits)}</Table.Td>
            <Table.Td>{formatCount(p.stale)}</Table.Td>
            <Table.Td>{formatCount(p.coalesced + p.waited)}</Table.Td>
            <Table.Td>{formatCount(p.misses)}</Table.Td>
            <Table.Td>{formatCount(p.bypassed)}</Table.Td>
            <Table.Td>{formatCount(p.keys)}</Table.Td>
            <Table.Td>{formatDuration(p.loadMs)}</Table.Td>
            <Table.Td>{formatDuration(p.savedMs)}</Table.Td>
            {canAct && (
              <Table.Td>
                <ConfirmButton
                  reason={AUDIT_REASON}
                  label="Flush"
                  title={`Flush cache prefix ${p.prefix}`}
                  confirmLabel={`Flush ${p.prefix}`}
                  pendingLabel="Flushing…"
                  danger
                  onOpen={() => {
                    onResult(null);
                  }}
                  onConfirm={async (reason) => {
                    const r = await flush.mutateAsync({ prefix: p.prefix, reason: reason.trim() || undefined });
                    onResult({ kind: "ok", text: `Prefix ${p.prefix} flushed: ${plural(r.deleted, "key")} deleted.` });
                  }}
                >
                  <p>
                    Drop every cached entry under <code>{p.prefix}</code> ({plural(p.keys, "key")} now)? Reads load from PostgreSQL again until the cache refills; counters
                    are kept.
                  </p>
                </ConfirmButton>
              </Table.Td>
            )}
          </Table.Tr>
        ))}
      </Table.Tbody>
    </TableFrame>
</div>
  );
}

function FlushTag({ onResult }: { onResult: (r: Result) => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [tag, setTag] = useState("");
  const [prefix, setPrefix] = useState("");
  const flushTag = useMutation(trpc.admin.cache.flushTag.mutationOptions({ onSettled: () => queryClient.invalidateQueries({ queryKey: trpc.admin.cache.pathKey() }) }));
  const flushPrefix = useMutation(trpc.admin.cache.flushPrefix.mutationOptions({ onSettled: () => queryClient.invalidateQueries({ queryKey: trpc.admin.cache.pathKey() }) }));
  return (
    <section className="panel" aria-labelledby="cache-flush">
      <h2 id="cache-flush">Flush by tag or prefix</h2>
      <div className="row">
        <label>
          Tag
          <input value={tag} onChange={(e) => setTag(e.target.value)} placeholder="files:owner:<user id> or file:<file id>" maxLength={200} size={40} />
        </label>
        <ConfirmButton
          reason={AUDIT_REASON}
          label="Flush tag…"
          title="Flush cache tag"
          confirmLabel="Invalidate tag"
          pendingLabel="Invalidating…"
          danger
          disabled={!tag.trim()}
          onOpen={() => {
            onResult(null);
          }}
          onConfirm={async (reason) => {
            const r = await flushTag.mutateAsync({ tag: tag.trim(), reason: reason.trim() || undefined });
            onResult({ kind: "ok", text: `Tag ${r.tag} invalidated: entries carrying it are reloaded on their next read.` });
            setTag("");
          }}
        >
          <p>
            Invalidate every cached entry tagged <code>{tag.trim()}</code>? They are reloaded from PostgreSQL on their next read.
          </p>
        </ConfirmButton>
      </div>
      <div className="row">
        <label>
          Prefix
          <input value={prefix} onChange={(e) => setPrefix(e.target.value)} placeholder="e.g. files" maxLength={64} />
        </label>
        <ConfirmButton
          reason={AUDIT_REASON}
          label="Flush prefix…"
          title="Flush cache prefix"
          confirmLabel="Flush prefix"
          pendingLabel="Flushing…"
          danger
          disabled={!prefix.trim()}
          onOpen={() => {
            onResult(null);
          }}
          onConfirm={async (reason) => {
            const r = await flushPrefix.mutateAsync({ prefix: prefix.trim(), reason: reason.trim() || undefined });
            onResult({ kind: "ok", text: `Prefix ${prefix.trim()} flushed: ${plural(r.deleted, "key")} deleted.` });
            setPrefix("");
          }}
        >
          <p>
            Drop every cached entry under <code>{prefix.trim()}</code>?
          </p>
        </ConfirmButton>
      </div>
    </section>
  );
}
