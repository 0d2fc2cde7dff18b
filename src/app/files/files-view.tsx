"use client";

import { Button, Group, NativeSelect, Progress, Table, Text, TextInput, Title } from "@mantine/core";
import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";
import { useRef, useState } from "react";
import { useTRPC } from "~/trpc/react";
import { uploadFile } from "~/trpc/upload";
import { LoadMore } from "~/app/_components/load-more";
import { ConfirmDialog, EmptyState, ErrorState, LoadingState, ResultMessage, TableFrame } from "~/app/admin/_components/ui";

type Filters = { name?: string; type?: string; tag?: string };

function formatBytes(bytes: number) {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

const parseTags = (text: string) =>
  text
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);

export function FilesView() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [filters, setFilters] = useState<Filters>({});
  const listInput = { limit: 25, ...filters };
  const list = useInfiniteQuery(
    trpc.files.list.infiniteQueryOptions(listInput, { getNextPageParam: (page) => page.nextCursor ?? undefined }),
  );
  const invalidate = () => queryClient.invalidateQueries({ queryKey: trpc.files.list.pathKey() });
  const files = list.data?.pages.flatMap((p) => p.items) ?? [];

  return (
    <>
      <UploadPanel onUploaded={invalidate} />
      <section className="panel">
        <FilterBar onChange={setFilters} />
        {list.isError && <ErrorState what="files" error={list.error} onRetry={list.refetch} />}
        {list.isPending ? (
          <LoadingState what="files" />
        ) : files.length === 0 ? (
          <EmptyState>{Object.values(filters).some(Boolean) ? "No file matches these filters." : "No files yet. Upload one above."}</EmptyState>
        ) : (
          <TableFrame label="Files">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Type</Table.Th>
                <Table.Th>Size</Table.Th>
                <Table.Th>Tags</Table.Th>
                <Table.Th>Uploaded</Table.Th>
                <Table.Th aria-label="Actions" />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {files.map((file) => (
                <FileRow key={file.id} file={file} onChanged={invalidate} />
              ))}
            </Table.Tbody>
          </TableFrame>
        )}
        <LoadMore query={list} />
      </section>
    </>
  );
}

function UploadPanel({ onUploaded }: { onUploaded: () => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const inputRef = useRef<HTMLInputElement>(null);
  const [tags, setTags] = useState("");
  const [progress, setProgress] = useState<number | null>(null);
  const [message, setMessage] = useState<{ kind: "ok" | "error"; text: string } | null>(null);
  const abortRef = useRef<AbortController | null>(null);

  async function submit(event: React.FormEvent) {
    event.preventDefault();
    const file = inputRef.current?.files?.[0];
    if (!file) {
      setMessage({ kind: "error", text: "Choose a file first." });
      return;
    }
    const form = new FormData();
    form.append("file", file);
    for (const tag of parseTags(tags)) form.append("tags", tag);
    abortRef.current = new AbortController();
    setMessage(null);
    setProgress(0);
    try {
      const started = await uploadFile(form, setProgress, abortRef.current.signal);
      setProgress(null);
      setMessage({ kind: "ok", text: `Processing ${started.name}…` });
      // The server answered once the bytes were staged; the saga stores, inspects and records the
      // file in the worker. Poll its status until it is done (or refused), then refresh the list.
      const deadline = Date.now() + 5 * 60_000;
      for (;;) {
        const status = await queryClient.fetchQuery({ ...trpc.files.uploadStatus.queryOptions({ sagaId: started.sagaId }), staleTime: 0 });
        if (status.state === "done") {
          setMessage({ kind: "ok", text: `Uploaded ${status.file.name}.` });
          break;
        }
        if (status.state === "failed") {
          setMessage({ kind: "error", text: `${started.name} was not stored: ${status.error}` });
          break;
        }
        setMessage({ kind: "ok", text: `Processing ${started.name}… (${status.step}, step ${status.stepIndex + 1} of ${status.stepCount})` });
        if (Date.now() > deadline) throw new Error(`${started.name} is still being processed; it will appear in the list when done`);
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      if (inputRef.current) inputRef.current.value = "";
      setTags("");
      onUploaded();
    } catch (error) {
      setMessage({ kind: "error", text: error instanceof Error ? error.message : "Upload failed" });
    } finally {
      setProgress(null);
      abortRef.current = null;
    }
  }

  return (
    <section className="panel">
      <Title order={2} size="h3" mb="sm">
        Upload
      </Title>
      <form onSubmit={submit}>
        <Group gap="sm" align="center" wrap="wrap">
          {/* The browser's own file picker: it takes drops and keyboard, and tests can set its files. */}
          <input ref={inputRef} type="file" name="file" aria-label="File to upload" />
          <TextInput placeholder="tags, comma separated" value={tags} onChange={(e) => setTags(e.currentTarget.value)} aria-label="Tags for the upload" />
          <Button type="submit" disabled={progress !== null}>
            Upload
          </Button>
          {progress !== null && (
            <>
              <Progress value={progress * 100} w={200} aria-label="Upload progress" />
              <Text size="sm" c="dimmed">
                {Math.round(progress * 100)}%
              </Text>
              <Button variant="default" onClick={() => abortRef.current?.abort()}>
                Cancel
              </Button>
            </>
          )}
        </Group>
      </form>
      <ResultMessage result={message} />
    </section>
  );
}

function FilterBar({ onChange }: { onChange: (f: Filters) => void }) {
  const [name, setName] = useState("");
  const [type, setType] = useState("");
  const [tag, setTag] = useState("");
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        onChange({ name: name || undefined, type: type || undefined, tag: tag || undefined });
      }}
    >
      <Group gap="sm" mb="sm" wrap="wrap">
        <TextInput placeholder="Name contains" value={name} onChange={(e) => setName(e.currentTarget.value)} aria-label="Filter by name" />
        <NativeSelect
          value={type}
          onChange={(e) => setType(e.currentTarget.value)}
          aria-label="Filter by type"
          data={[
            { value: "", label: "Any type" },
            { value: "image/", label: "Images" },
            { value: "text/", label: "Text" },
            { value: "application/pdf", label: "PDF" },
            { value: "application/", label: "Other documents" },
          ]}
        />
        <TextInput placeholder="Tag" value={tag} onChange={(e) => setTag(e.currentTarget.value)} aria-label="Filter by tag" />
        <Button type="submit" variant="default">
          Filter
        </Button>
      </Group>
    </form>
  );
}

type FileItem = {
  id: string;
  name: string;
  mimeType: string;
  detectedType: string | null;
  sizeBytes: number;
  tags: string[];
  createdAt: Date;
};

function FileRow({ file, onChanged }: { file: FileItem; onChanged: () => void }) {
  const trpc = useTRPC();
  const [editing, setEditing] = useState<"name" | "tags" | null>(null);
  const [draft, setDraft] = useState("");
  const [confirmDelete, setConfirmDelete] = useState(false);
  const done = { onSuccess: () => { setEditing(null); onChanged(); } };
  const rename = useMutation(trpc.files.rename.mutationOptions(done));
  const setTags = useMutation(trpc.files.setTags.mutationOptions(done));
  const remove = useMutation(trpc.files.delete.mutationOptions());
  const error = rename.error ?? setTags.error ?? remove.error;

  return (
    <Table.Tr data-file-id={file.id}>
      <Table.Td>
        {editing === "name" ? (
          <form className="row" onSubmit={(e) => { e.preventDefault(); rename.mutate({ id: file.id, name: draft }); }}>
            <TextInput size="xs" value={draft} onChange={(e) => setDraft(e.currentTarget.value)} aria-label="New name" autoFocus />
            <Button size="xs" type="submit" loading={rename.isPending}>Save</Button>
            <Button size="xs" variant="default" onClick={() => setEditing(null)}>Cancel</Button>
          </form>
        ) : (
          <span className="file-name">{file.name}</span>
        )}
        {error && <div role="alert" className="error">{error.message}</div>}
      </Table.Td>
      <Table.Td className="muted">{file.detectedType ?? file.mimeType}</Table.Td>
      <Table.Td>{formatBytes(file.sizeBytes)}</Table.Td>
      <Table.Td>
        {editing === "tags" ? (
          <form className="row" onSubmit={(e) => { e.preventDefault(); setTags.mutate({ id: file.id, tags: parseTags(draft) }); }}>
            <TextInput size="xs" value={draft} onChange={(e) => setDraft(e.currentTarget.value)} aria-label="Tags" autoFocus />
            <Button size="xs" type="submit" loading={setTags.isPending}>Save</Button>
            <Button size="xs" variant="default" onClick={() => setEditing(null)}>Cancel</Button>
          </form>
        ) : (
          file.tags.map((t) => <span key={t} className="tag">{t}</span>)
        )}
      </Table.Td>
      <Table.Td className="muted">{file.createdAt.toLocaleString()}</Table.Td>
      <Table.Td>
        <Group gap={6} wrap="nowrap">
          <Button size="xs" variant="default" component="a" href={`/api/files/${file.id}/download`} download>Download</Button>
          <Button size="xs" variant="default" onClick={() => { setDraft(file.name); setEditing("name"); }}>Rename</Button>
          <Button size="xs" variant="default" onClick={() => { setDraft(file.tags.join(", ")); setEditing("tags"); }}>Tags</Button>
          <Button size="xs" variant="light" color="red" onClick={() => setConfirmDelete(true)}>Delete</Button>
        </Group>
        <ConfirmDialog
          opened={confirmDelete}
          onClose={() => setConfirmDelete(false)}
          title={`Delete ${file.name}`}
          confirmLabel="Delete"
          pendingLabel="Deleting…"
          danger
          onConfirm={async () => {
            await remove.mutateAsync({ id: file.id });
            onChanged();
          }}
          successToast={`${file.name} deleted.`}
        >
          <Text>
            Delete <strong>{file.name}</strong>? It disappears from your list and its storage is freed.
          </Text>
        </ConfirmDialog>
      </Table.Td>
    </Table.Tr>
  );
}
