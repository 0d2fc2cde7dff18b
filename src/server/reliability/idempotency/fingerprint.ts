import { createHash, type Hash } from "node:crypto";

/**
 * sha256 of the canonical form of a request's input: object keys sorted, undefined members dropped,
 * and the non-JSON values the transformer carries (Date, BigInt, Map, Set, bytes, File, FormData)
 * written with a tag, so `{a:1,b:2}` and `{b:2,a:1}` match while `"1"` and `1` do not. A file is
 * fingerprinted by its name, type and the sha256 of its content, never its modification time.
 */
export async function fingerprintInput(input: unknown): Promise<string> {
  const hash = createHash("sha256");
  await write(hash, input);
  return hash.digest("hex");
}

async function write(hash: Hash, value: unknown): Promise<void> {
  if (value === undefined) return void hash.update("u");
  if (value === null) return void hash.update("n");
  switch (typeof value) {
    case "string":
      return void hash.update(`s${JSON.stringify(value)}`);
    case "number":
      // JSON has no NaN/Infinity: spell them so they differ from null.
      return void hash.update(Number.isFinite(value) ? `d${JSON.stringify(value)}` : `d${String(value)}`);
    case "boolean":
      return void hash.update(value ? "t" : "f");
    case "bigint":
      return void hash.update(`i${value.toString()}`);
    case "object":
      break;
    default:
      // Functions and symbols cannot come off the wire; refuse rather than fingerprint them as equal.
      throw new TypeError(`Cannot fingerprint a ${typeof value} input value`);
  }

  if (value instanceof Date) return void hash.update(`D${Number.isNaN(value.getTime()) ? "invalid" : value.toISOString()}`);
  if (value instanceof Blob) return writeBlob(hash, value);
  if (value instanceof Uint8Array || value instanceof ArrayBuffer) {
    return void hash.update(`B${sha256(value instanceof ArrayBuffer ? new Uint8Array(value) : value)}`);
  }
  if (value instanceof FormData) {
    // Entries grouped by name (sorted); values of one name keep their order (repeated `tags` parts).
    const byName = new Map<string, Array<FormDataEntryValue>>();
    for (const [name, entry] of value.entries()) byName.set(name, [...(byName.get(name) ?? []), entry]);
    hash.update("F{");
    for (const name of [...byName.keys()].sort()) {
      hash.update(`${JSON.stringify(name)}:[`);
      for (const entry of byName.get(name)!) {
        await write(hash, entry);
        hash.update(",");
      }
      hash.update("]");
    }
    return void hash.update("}");
  }
  if (Array.isArray(value)) {
    hash.update("[");
    for (const item of value) {
      await write(hash, item);
      hash.update(",");
    }
    return void hash.update("]");
  }
  if (value instanceof Map) {
    const entries = await Promise.all([...value.entries()].map(async ([k, v]) => [await fingerprintInput(k), v] as const));
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    hash.update("M{");
    for (const [k, v] of entries) {
      hash.update(`${k}:`);
      await write(hash, v);
      hash.update(",");
    }
    return void hash.update("}");
  }
  if (value instanceof Set) {
    // A set has no order: hash each member on its own and sort the digests.
    const members = (await Promise.all([...value].map((m) => fingerprintInput(m)))).sort();
    return void hash.update(`S[${members.join(",")}]`);
  }

  const record = value as Record<string, unknown>;
  hash.update("{");
  for (const key of Object.keys(record).sort()) {
    if (record[key] === undefined) continue; // `{a: undefined}` and `{}` are the same request
    hash.update(`${JSON.stringify(key)}:`);
    await write(hash, record[key]);
    hash.update(",");
  }
  hash.update("}");
}

async function writeBlob(hash: Hash, blob: Blob) {
  const name = blob instanceof File ? blob.name : "";
  hash.update(`b${JSON.stringify(name)}${JSON.stringify(blob.type)}${blob.size}:${sha256(new Uint8Array(await blob.arrayBuffer()))}`);
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
