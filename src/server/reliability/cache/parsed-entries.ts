import { parseEntry, type StoredEntry } from "./entry";

/**
 * The last parsed form of recently hit entries, per entry key. A hot entry is the same Redis string
 * on every hit until it is rewritten, so a hit whose raw text equals the remembered one (a length
 * check, then a memory compare) reuses the parse instead of running JSON.parse over a large list
 * again. Correctness is the raw text's: versions and freshness are read from the same bytes.
 *
 * The parsed values are SHARED between requests, so they are only handed to the HTTP response
 * path, which reads them once (JSON.stringify) and never mutates them.
 */
export class ParsedEntries {
  private readonly entries = new Map<string, { raw: string; entry: StoredEntry }>();

  constructor(
    private readonly maxEntries = 256,
    /** Larger entries are parsed each time: keeping them would pin a lot of memory per key. */
    private readonly maxRawLength = 1 << 20,
  ) {}

  parse(key: string, raw: string): StoredEntry | null {
    const known = this.entries.get(key);
    if (known && known.raw === raw) {
      // Move to the back: Map iteration order is the eviction order (least recently hit first).
      this.entries.delete(key);
      this.entries.set(key, known);
      return known.entry;
    }
    const entry = parseEntry(raw);
    if (!entry || raw.length > this.maxRawLength) {
      if (known) this.entries.delete(key);
      return entry;
    }
    this.entries.delete(key);
    this.entries.set(key, { raw, entry });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    return entry;
  }

  get size(): number {
    return this.entries.size;
  }
}
