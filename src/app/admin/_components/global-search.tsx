"use client";

import { Badge, Combobox, Group, Loader, Text, TextInput, useCombobox } from "@mantine/core";
import { useDebouncedValue, useHotkeys } from "@mantine/hooks";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useRef, useState } from "react";
import { useTRPC } from "~/trpc/react";
import type { AdminOutputs } from "./types";
import { errorText } from "./ui";

type Hit = AdminOutputs["search"]["find"]["hits"][number];

const KIND_LABEL: Record<Hit["kind"], string> = {
  event: "event",
  aggregate: "aggregate",
  saga: "saga",
  file: "file",
  idempotency: "idempotency key",
  correlation: "request",
  user: "user",
  audit: "audit log",
};

/** Suggestions appear while typing; under this many characters only Enter searches. */
const SUGGEST_FROM = 3;

/**
 * The console's one search box (admin.search.find): paste an event, saga, file or aggregate id, a
 * file name, an idempotency key, a request id or an e-mail. Enter with a single hit opens its page;
 * several hits are listed (arrow keys + Enter, or a click). "/" anywhere on the console focuses it.
 */
export function GlobalSearch() {
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const combobox = useCombobox({ onDropdownClose: () => combobox.resetSelectedOption() });
  const input = useRef<HTMLInputElement>(null);
  const [text, setText] = useState("");
  const [submitted, setSubmitted] = useState<{ q: string; hits: Hit[] } | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [debounced] = useDebouncedValue(text.trim(), 200);
  const suggestions = useQuery({
    ...trpc.admin.search.find.queryOptions({ q: debounced }),
    enabled: debounced.length >= SUGGEST_FROM,
  });

  useHotkeys([["/", () => input.current?.focus()]]);

  const go = (href: string) => {
    combobox.closeDropdown();
    setText("");
    setSubmitted(null);
    input.current?.blur();
    router.push(href);
  };

  async function submit() {
    const q = text.trim();
    if (!q) return;
    setFailure(null);
    try {
      const { hits } = await queryClient.fetchQuery(trpc.admin.search.find.queryOptions({ q }));
      if (hits.length === 1) return go(hits[0]!.href);
      setSubmitted({ q, hits });
      combobox.openDropdown();
    } catch (error) {
      setFailure(errorText(error));
      combobox.openDropdown();
    }
  }

  // After Enter: that search's hits; while typing: the suggestions for what is typed.
  const current = submitted?.q === text.trim() ? submitted.hits : debounced === text.trim() && debounced.length >= SUGGEST_FROM ? suggestions.data?.hits : undefined;
  const searched = submitted?.q === text.trim() || (debounced === text.trim() && suggestions.isSuccess);

  return (
    <Combobox store={combobox} onOptionSubmit={go} width={520} position="bottom-end">
      <Combobox.Target>
        <TextInput
          ref={input}
          className="global-search"
          aria-label="Search the console"
          placeholder="Search ids, file names, keys, e-mails   /"
          size="sm"
          w={320}
          value={text}
          rightSection={suggestions.isFetching ? <Loader size="xs" /> : null}
          onChange={(e) => {
            setText(e.currentTarget.value);
            setFailure(null);
            combobox.openDropdown();
            combobox.resetSelectedOption();
          }}
          onFocus={() => combobox.openDropdown()}
          onBlur={() => combobox.closeDropdown()}
          onKeyDown={(e) => {
            // An option picked with the arrow keys is the combobox's to open; otherwise Enter searches.
            if (e.key === "Enter" && !(combobox.dropdownOpened && combobox.getSelectedOptionIndex() !== -1)) {
              e.preventDefault();
              void submit();
            }
            if (e.key === "Escape") input.current?.blur();
          }}
        />
      </Combobox.Target>
      <Combobox.Dropdown hidden={!failure && !current && !searched} aria-label="Search results">
        <Combobox.Options>
          {failure ? (
            <Combobox.Empty>
              <Text c="red" size="sm" role="alert">
                {failure}
              </Text>
            </Combobox.Empty>
          ) : current && current.length > 0 ? (
            current.map((hit) => (
              <Combobox.Option value={hit.href} key={`${hit.kind}:${hit.id}:${hit.href}`} className="search-hit">
                <Group gap="xs" wrap="nowrap">
                  <Badge size="xs" variant="light" tt="none" miw={90}>
                    {KIND_LABEL[hit.kind]}
                  </Badge>
                  <Text size="sm" truncate>
                    {hit.label}
                  </Text>
                </Group>
              </Combobox.Option>
            ))
          ) : (
            <Combobox.Empty>Nothing matches “{text.trim()}”: try a whole id, key or request id, or 3+ letters of a file name or e-mail</Combobox.Empty>
          )}
        </Combobox.Options>
      </Combobox.Dropdown>
    </Combobox>
  );
}
