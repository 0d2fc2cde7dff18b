"use client";

import Link from "next/link";
import { usePathname } from "next/navigation";

const sections = [
  { href: "/admin", label: "Overview" },
  { href: "/admin/failures", label: "Failures" },
  { href: "/admin/outbox", label: "Outbox" },
  { href: "/admin/sagas", label: "Sagas" },
  { href: "/admin/idempotency", label: "Idempotency" },
  { href: "/admin/cache", label: "Cache" },
  { href: "/admin/fleet", label: "Fleet" },
  { href: "/admin/bulk", label: "Bulk actions" },
  { href: "/admin/audit", label: "Audit log" },
];

export function AdminNav({ role }: { role: string }) {
  const pathname = usePathname();
  const current = (href: string) => (href === "/admin" ? pathname === "/admin" : pathname === href || pathname.startsWith(`${href}/`));
  return (
    <nav className="admin-nav" aria-label="Dashboard sections">
      {sections.map((s) => (
        <Link key={s.href} href={s.href} aria-current={current(s.href) ? "page" : undefined}>
          {s.label}
        </Link>
      ))}
      {role !== "operator" && <span className="muted readonly-note">Read-only: actions need the operator role</span>}
    </nav>
  );
}
