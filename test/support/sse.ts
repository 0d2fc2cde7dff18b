/** One Server-Sent Event as the wire carries it. */
export interface SseEvent {
  event: string;
  id: string | null;
  data: string;
}

/**
 * Reads a text/event-stream response event by event (tRPC's subscription streams: `connected`,
 * data events, `ping`, `serialized-error`, `return`). `next()` resolves with the next event or
 * null when the stream ended; `close()` cancels the stream, as a browser leaving the page does.
 */
export function sseReader(res: Response) {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  const queued: SseEvent[] = [];
  function parse() {
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event: SseEvent = { event: "message", id: null, data: "" };
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event.event = value;
        else if (field === "id") event.id = value;
        else if (field === "data") data.push(value);
      }
      event.data = data.join("\n");
      if (data.length || event.event !== "message") queued.push(event);
    }
  }
  return {
    async next(): Promise<SseEvent | null> {
      while (queued.length === 0) {
        const { done, value } = await reader.read();
        if (done) return null;
        buffer += value.replace(/\r\n/g, "\n");
        parse();
      }
      return queued.shift()!;
    },
    /** The next event that is not a ping or the `connected` greeting. */
    async nextMeaningful(): Promise<SseEvent | null> {
      for (;;) {
        const e = await this.next();
        if (!e || (e.event !== "ping" && e.event !== "connected")) return e;
      }
    },
    close: () => reader.cancel().catch(() => {}),
  };
}
