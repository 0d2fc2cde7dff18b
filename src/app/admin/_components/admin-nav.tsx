"use client";

import { Badge, Button, Group } from "@mantine/core";
import Link from "next/link";
import { usePathname } from "next/navigation";
import { GlobalSearch } from "./global-search";

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
  { href: "/admin/users", label: "Users" },
];

export function AdminNav({ role }: { role: string }) {
  const pathname = usePathname();
  const current = (href: string) => (href === "/admin" ? pathname === "/admin" : pathname === href || pathname.startsWith(`${href}/`));
  return (
    <nav className="admin-nav" aria-label="Dashboard sections">
      <Group gap={4} wrap="wrap" style={{ flex: 1 }}>
        {sections.map((s) => (
          <Button
            key={s.href}
            component={Link}
            href={s.href}
            size="compact-md"
            variant={current(s.href) ? "light" : "subtle"}
            color={current(s.href) ? undefined : "dark"}
            aria-current={current(s.href) ? "page" : undefined}
          >
            {s.label}
          </Button>
        ))}
      </Group>
      <GlobalSearch />
      {role !== "operator" && (
        <Badge variant="outline" color="dark" tt="none" className="readonly-note">
          Read-only: actions need the operator role
        </Badge>
      )}
    </nav>
  );
}
