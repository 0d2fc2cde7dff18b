"use client";

import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";
import { useRef, useState } from "react";
import { useTRPC } from "~/trpc/react";
import { uploadFile } from "~/trpc/upload";
import { LoadMore } from "~/app/_components/load-more";

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
        {list.isError && (
          <p role="alert" className="error">
            Could not load files: {list.error.message} <button onClick={() => list.refetch()}>Retry</button>
          </p>
        )}
        {list.isPending ? (
          <p className="muted">Loading files…</p>
        ) : files.length === 0 ? (
          <p className="empty">
            {Object.values(filters).some(Boolean) ? "No file matches these filters." : "No files yet. Upload one above."}
          </p>
        ) : (
          <table aria-label="Files">
            <thead>
              <tr>
                <th>Name</th>
                <th>Type</th>
                <th>Size</th>
                <th>Tags</th>
                <th>Uploaded</th>
                <th aria-label="Actions" />
              </tr>
            </thead>
            <tbody>
              {files.map((file) => (
                <FileRow key={file.id} file={file} onChanged={invalidate} />
              ))}
            </tbody>
          </table>
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
      <h2>Upload</h2>
      <form className="row" onSubmit={submit}>
        <input ref={inputRef} type="file" name="file" aria-label="File to upload" />
        <input placeholder="tags, comma separated" value={tags} onChange={(e) => setTags(e.target.value)} aria-label="Tags for the upload" />
        <button className="primary" type="submit" disabled={progress !== null}>
          Upload
        </button>
        {progress !== null && (
          <>
            <progress value={progress} max={1} aria-label="Upload progress" />
            <span className="muted">{Math.round(progress * 100)}%</span>
            <button type="button" onClick={() => abortRef.current?.abort()}>
              Cancel
            </button>
          </>
        )}
      </form>
      {message && (
        <p role={message.kind === "error" ? "alert" : "status"} className={message.kind === "error" ? "error" : "muted"}>
          {message.text}
        </p>
      )}
    </section>
  );
}

function FilterBar({ onChange }: { onChange: (f: Filters) => void }) {
  const [name, setName] = useState("");
  const [type, setType] = useState("");
  const [tag, setTag] = useState("");
  return (
    <form
      className="row"
      style={{ marginBottom: ".75rem" }}
      onSubmit={(e) => {
        e.preventDefault();
        onChange({ name: name || undefined, type: type || undefined, tag: tag || undefined });
      }}
    >
      <input placeholder="Name contains" value={name} onChange={(e) => setName(e.target.value)} aria-label="Filter by name" />
      <select value={type} onChange={(e) => setType(e.target.value)} aria-label="Filter by type">
        <option value="">Any type</option>
        <option value="image/">Images</option>
        <option value="text/">Text</option>
        <option value="application/pdf">PDF</option>
        <option value="application/">Other documents</option>
      </select>
      <input placeholder="Tag" value={tag} onChange={(e) => setTag(e.target.value)} aria-label="Filter by tag" />
      <button type="submit">Filter</button>
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
  const dialogRef = useRef<HTMLDialogElement>(null);
  const done = { onSuccess: () => { setEditing(null); onChanged(); } };
  const rename = useMutation(trpc.files.rename.mutationOptions(done));
  const setTags = useMutation(trpc.files.setTags.mutationOptions(done));
  const remove = useMutation(trpc.files.delete.mutationOptions());
  const error = rename.error ?? setTags.error ?? remove.error;

  return (
    <tr data-file-id={file.id}>
      <td>
        {editing === "name" ? (
          <form className="row" onSubmit={(e) => { e.preventDefault(); rename.mutate({ id: file.id, name: draft }); }}>
            <input value={draft} onChange={(e) => setDraft(e.target.value)} aria-label="New name" autoFocus />
            <button type="submit" disabled={rename.isPending}>Save</button>
            <button type="button" onClick={() => setEditing(null)}>Cancel</button>
          </form>
        ) : (
          <span className="file-name">{file.name}</span>
        )}
        {error && <div role="alert" className="error">{error.message}</div>}
      </td>
      <td className="muted">{file.detectedType ?? file.mimeType}</td>
      <td>{formatBytes(file.sizeBytes)}</td>
      <td>
        {editing === "tags" ? (
          <form className="row" onSubmit={(e) => { e.preventDefault(); setTags.mutate({ id: file.id, tags: parseTags(draft) }); }}>
            <input value={draft} onChange={(e) => setDraft(e.target.value)} aria-label="Tags" autoFocus />
            <button type="submit" disabled={setTags.isPending}>Save</button>
            <button type="button" onClick={() => setEditing(null)}>Cancel</button>
          </form>
        ) : (
          file.tags.map((t) => <span key={t} className="tag">{t}</span>)
        )}
      </td>
      <td className="muted">{file.createdAt.toLocaleString()}</td>
      <td>
        <div className="row">
          <a className="button" href={`/api/files/${file.id}/download`} download>Download</a>
          <button onClick={() => { setDraft(file.name); setEditing("name"); }}>Rename</button>
          <button onClick={() => { setDraft(file.tags.join(", ")); setEditing("tags"); }}>Tags</button>
          <button className="danger" onClick={() => dialogRef.current?.showModal()}>Delete</button>
        </div>
        <dialog ref={dialogRef} aria-label={`Delete ${file.name}`}>
          <p>Delete <strong>{file.name}</strong>? It disappears from your list and its storage is freed.</p>
          <div className="row">
            <button className="danger" onClick={() => remove.mutate({ id: file.id }, { onSuccess: () => { dialogRef.current?.close(); onChanged(); } })} disabled={remove.isPending}>
              {remove.isPending ? "Deleting…" : "Delete"}
            </button>
            <button onClick={() => dialogRef.current?.close()}>Cancel</button>
          </div>
        </dialog>
      </td>
    </tr>
  );
}
