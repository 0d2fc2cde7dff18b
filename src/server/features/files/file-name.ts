import { badInput } from "../../platform/errors";

const MAX_NAME_BYTES = 255;
// Characters that are unsafe in file names on common systems, plus ASCII control characters.
const UNSAFE = /[\u0000-\u001f\u007f<>:"/\\|?*]/g;

/**
 * Turn a user-supplied file name into one that is safe to store, show and put in a
 * Content-Disposition header: no path parts, no control or reserved characters, no leading dots,
 * NFC-normalised, at most 255 UTF-8 bytes (keeping the extension when it must shorten).
 */
export function sanitizeFileName(raw: string): string {
  // Every step is linear in the name's length (a multipart file name has no length limit): no
  // regular expression that can backtrack, no shortening one character at a time.
  const lastSegment = raw.slice(Math.max(raw.lastIndexOf("/"), raw.lastIndexOf("\\")) + 1);
  let name = lastSegment.normalize("NFC").replace(UNSAFE, "_").replace(/\s+/g, " ");
  name = trimDotsAndSpaces(name);
  if (!name || /^_+$/.test(name)) {
    throw badInput(`"${raw.slice(0, 80)}" is not a usable file name: give a name with letters or digits`);
  }
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) {
    const dot = name.lastIndexOf(".");
    const ext = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : "";
    name = prefixWithin(name.slice(0, name.length - ext.length), MAX_NAME_BYTES - Buffer.byteLength(ext)) + ext;
  }
  return name;
}

const isDotOrSpace = (c: string) => c === "." || c === " ";

/** Without leading and trailing dots and spaces (whitespace is already collapsed to spaces). */
function trimDotsAndSpaces(name: string): string {
  let start = 0;
  let end = name.length;
  while (start < end && isDotOrSpace(name[start]!)) start += 1;
  while (end > start && isDotOrSpace(name[end - 1]!)) end -= 1;
  return name.slice(start, end);
}

/** The longest prefix of whole code points that fits in `maxBytes` of UTF-8. */
function prefixWithin(text: string, maxBytes: number): string {
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char);
    if (bytes + size > maxBytes) break;
    bytes += size;
    end += char.length;
  }
  return text.slice(0, end);
}

/** RFC 6266 / RFC 5987 Content-Disposition: an ASCII fallback and the exact UTF-8 name. */
export function contentDisposition(name: string, disposition: "attachment" | "inline" = "attachment"): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, "_").replace(/["\\]/g, "_");
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${disposition}; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
