import { badInput } from "../errors";

const MAX_NAME_BYTES = 255;
// Characters that are unsafe in file names on common systems, plus ASCII control characters.
const UNSAFE = /[\u0000-\u001f\u007f<>:"/\\|?*]/g;

/**
 * Turn a user-supplied file name into one that is safe to store, show and put in a
 * Content-Disposition header: no path parts, no control or reserved characters, no leading dots,
 * NFC-normalised, at most 255 UTF-8 bytes (keeping the extension when it must shorten).
 */
export function sanitizeFileName(raw: string): string {
  const lastSegment = raw.split(/[/\\]/).pop() ?? "";
  let name = lastSegment.normalize("NFC").replace(UNSAFE, "_").replace(/\s+/g, " ").trim();
  name = name.replace(/^[.\s]+/, "").replace(/[.\s]+$/, "");
  if (!name || /^_+$/.test(name)) {
    throw badInput(`"${raw.slice(0, 80)}" is not a usable file name: give a name with letters or digits`);
  }
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) {
    const dot = name.lastIndexOf(".");
    const ext = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : "";
    let stem = name.slice(0, name.length - ext.length);
    while (Buffer.byteLength(stem + ext) > MAX_NAME_BYTES) stem = [...stem].slice(0, -1).join("");
    name = stem + ext;
  }
  return name;
}

/** RFC 6266 / RFC 5987 Content-Disposition: an ASCII fallback and the exact UTF-8 name. */
export function contentDisposition(name: string, disposition: "attachment" | "inline" = "attachment"): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, "_").replace(/["\\]/g, "_");
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${disposition}; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
