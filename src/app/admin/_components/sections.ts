/**
 * The console's sections, in the navigation's order: the one list the nav bar renders and the e2e
 * specs walk (e2e/support.ts consolePages), so a new page is linked and checked (axe, viewer access)
 * by adding it here once. `name` is the page's short name in test names and screenshots.
 * No "use client": plain data, imported by the nav (client) and by Playwright (Node).
 */
export const CONSOLE_SECTIONS = [
  { name: "overview", href: "/admin", label: "Overview" },
  { name: "failures", href: "/admin/failures", label: "Failures" },
  { name: "outbox", href: "/admin/outbox", label: "Outbox" },
  { name: "sagas", href: "/admin/sagas", label: "Sagas" },
  { name: "idempotency", href: "/admin/idempotency", label: "Idempotency" },
  { name: "cache", href: "/admin/cache", label: "Cache" },
  { name: "fleet", href: "/admin/fleet", label: "Fleet" },
  { name: "bulk", href: "/admin/bulk", label: "Bulk actions" },
  { name: "audit-log", href: "/admin/audit", label: "Audit log" },
  { name: "users", href: "/admin/users", label: "Users" },
] as const satisfies ReadonlyArray<{ name: string; href: string; label: string }>;

export type ConsoleSection = (typeof CONSOLE_SECTIONS)[number];
