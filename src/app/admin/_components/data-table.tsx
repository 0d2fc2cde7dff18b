"use client";

import { Anchor, Table } from "@mantine/core";
import Link from "next/link";
import type { HTMLAttributes, ReactNode } from "react";
import { LoadMore } from "~/app/_components/load-more";
import { EmptyState, ErrorState, LoadingState, TableFrame } from "./ui";

export interface Column<Row> {
  /** Column heading; a column of buttons has none, give it `label` (read by screen readers). */
  header: ReactNode;
  label?: string;
  /** The cell of one row. */
  cell: (row: Row) => ReactNode;
  /** Makes the cell a link (the row's way to its detail page). */
  href?: (row: Row) => string;
  /** The link's accessible name, when the cell text alone is ambiguous in a list. */
  linkLabel?: (row: Row) => string;
  /** Keep the cell on one line (ids, times). */
  nowrap?: boolean;
  /** Secondary text (times, ids). */
  muted?: boolean;
  /** One line, cut with an ellipsis, the full text in the tooltip (long errors). */
  clip?: (row: Row) => string | undefined;
  /** False leaves the column out (e.g. actions for a viewer). */
  show?: boolean;
  width?: number | string;
}

/** What DataTable reads of a TanStack query (plain or infinite): its states, and the next page if any. */
export interface ListQuery {
  isPending: boolean;
  isError: boolean;
  error: { message: string } | null;
  refetch: () => unknown;
  hasNextPage?: boolean;
  isFetchingNextPage?: boolean;
  fetchNextPage?: () => unknown;
}

/**
 * Every list of the console: columns declared once; the query's loading, error (with retry) and
 * empty states; a "Load more" for keyset pages; a row's detail page one click away (`href` on a
 * column). Rows scroll sideways on narrow screens (TableFrame).
 */
export function DataTable<Row>({
  label,
  what,
  rows,
  columns,
  rowKey,
  rowProps,
  empty,
  query,
  footer,
  minWidth,
}: {
  /** The table's accessible name ("Outbox events"). */
  label: string;
  /** What is listed, for the loading and error texts ("outbox events"). */
  what: string;
  rows: readonly Row[] | undefined;
  columns: ReadonlyArray<Column<Row>>;
  rowKey: (row: Row) => string;
  /** Extra attributes of a row (data-* ids for tests, aria-label, a class). */
  rowProps?: (row: Row) => HTMLAttributes<HTMLTableRowElement> & Record<`data-${string}`, string>;
  /** Why the list is empty, or what to do. */
  empty: ReactNode;
  query?: ListQuery;
  /** Under the table (e.g. "more match: narrow the search"). */
  footer?: ReactNode;
  minWidth?: number;
}) {
  const shown = columns.filter((c) => c.show !== false);
  return (
    <>
      {query?.isError && query.error && <ErrorState what={what} error={query.error} onRetry={query.refetch} />}
      {query?.isPending ? (
        <LoadingState what={what} />
      ) : !rows || rows.length === 0 ? (
        query?.isError ? null : <EmptyState>{empty}</EmptyState>
      ) : (
        <TableFrame label={label} minWidth={minWidth}>
          <Table.Thead>
            <Table.Tr>
              {shown.map((c, i) => (
                <Table.Th key={i} w={c.width} aria-label={c.label}>
                  {c.header}
                </Table.Th>
              ))}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {rows.map((row) => (
              <Table.Tr key={rowKey(row)} {...rowProps?.(row)}>
                {shown.map((c, i) => (
                  <Cell key={i} column={c} row={row} />
                ))}
              </Table.Tr>
            ))}
          </Table.Tbody>
        </TableFrame>
      )}
      {footer}
      {query?.fetchNextPage && <LoadMore query={{ hasNextPage: !!query.hasNextPage, isFetchingNextPage: !!query.isFetchingNextPage, fetchNextPage: query.fetchNextPage }} />}
    </>
  );
}

function Cell<Row>({ column, row }: { column: Column<Row>; row: Row }) {
  const content = column.cell(row);
  const title = column.clip?.(row);
  return (
    <Table.Td
      c={column.muted ? "dimmed" : undefined}
      className={column.clip ? "clip" : undefined}
      title={title}
      style={column.nowrap ? { whiteSpace: "nowrap" } : undefined}
    >
      {column.href ? (
        <Anchor component={Link} href={column.href(row)} aria-label={column.linkLabel?.(row)} size="sm">
          {content}
        </Anchor>
      ) : (
        content
      )}
    </Table.Td>
  );
}
