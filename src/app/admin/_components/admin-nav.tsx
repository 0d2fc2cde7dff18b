"use client";

import { Badge, Button, Group } from "@mantine/core";
import Link from "next/link";
import { usePathname } from "next/navigation";
import { GlobalSearch } from "./global-search";
import { CONSOLE_SECTIONS } from "./sections";


export function AdminNav({ role }: { role: string }) {
  const pathname = usePathname();
  const current = (href: string) => (href === "/admin" ? pathname === "/admin" : pathname === href || pathname.startsWith(`${href}/`));
  return (
    <nav className="admin-nav" aria-label="Dashboard sections">
      <Group gap={4} wrap="wrap" style={{ flex: 1 }}>
        {CONSOLE_SECTIONS.map((s) => (
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
