/**
 * A minimal OTLP/HTTP trace receiver for tests: accepts `POST /v1/traces` with
 * `application/x-protobuf` bodies (what @opentelemetry/exporter-trace-otlp-proto sends) and decodes
 * the fields a test asserts on (trace id, span id, parent span id, name, links, service name).
 * The decoder reads the protobuf wire format directly (opentelemetry-proto trace/v1, common/v1,
 * resource/v1), so the test checks the bytes a real backend would receive.
 */
import { createServer, type Server } from "node:http";

export interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  links: Array<{ traceId: string; spanId: string }>;
}

type Field = { no: number; wire: number; value: bigint | Buffer };

function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const byte = buf[pos++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (pos < buf.length) {
    const key = Number(varint());
    const no = key >>> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ no, wire, value: varint() });
    else if (wire === 1 || wire === 5) {
      const size = wire === 1 ? 8 : 4; // fixed64 / fixed32
      out.push({ no, wire, value: buf.subarray(pos, pos + size) });
      pos += size;
    } else if (wire === 2) {
      const len = Number(varint());
      out.push({ no, wire, value: buf.subarray(pos, pos + len) });
      pos += len;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
  return out;
}

const bytesOf = (fs: Field[], no: number) => fs.filter((f) => f.no === no).map((f) => f.value as Buffer);
const hex = (b: Buffer | undefined) => (b ? b.toString("hex") : "");

function serviceName(resource: Buffer | undefined): string {
  if (!resource) return "";
  for (const attr of bytesOf(fields(resource), 1)) {
    const kv = fields(attr);
    if (bytesOf(kv, 1)[0]?.toString() !== "service.name") continue;
    const anyValue = bytesOf(kv, 2)[0];
    return anyValue ? (bytesOf(fields(anyValue), 1)[0]?.toString() ?? "") : "";
  }
  return "";
}

export function decodeExportTraceRequest(body: Buffer): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const resourceSpans of bytesOf(fields(body), 1)) {
    const rs = fields(resourceSpans);
    const service = serviceName(bytesOf(rs, 1)[0]);
    for (const scopeSpans of bytesOf(rs, 2)) {
      for (const span of bytesOf(fields(scopeSpans), 2)) {
        const s = fields(span);
        spans.push({
          service,
          traceId: hex(bytesOf(s, 1)[0]),
          spanId: hex(bytesOf(s, 2)[0]),
          parentSpanId: hex(bytesOf(s, 4)[0]),
          name: bytesOf(s, 5)[0]?.toString() ?? "",
          links: bytesOf(s, 13).map((l) => {
            const lf = fields(l);
            return { traceId: hex(bytesOf(lf, 1)[0]), spanId: hex(bytesOf(lf, 2)[0]) };
          }),
        });
      }
    }
  }
  return spans;
}

/** Port 0: any free port (see `url`). */
export async function startOtlpReceiver(port: number): Promise<{ url: string; spans: ReceivedSpan[]; contentTypes: string[]; close(): Promise<void> }> {
  const spans: ReceivedSpan[] = [];
  const contentTypes: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method !== "POST" || req.url !== "/v1/traces") return void res.writeHead(404).end();
      contentTypes.push(String(req.headers["content-type"]));
      try {
        spans.push(...decodeExportTraceRequest(Buffer.concat(chunks)));
        // An empty ExportTraceServiceResponse: zero bytes of protobuf.
        res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
      } catch (error) {
        res.writeHead(400).end(String(error));
      }
    });
  });
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(port, "127.0.0.1", resolve));
  const address = server.address();
  return {
    url: `http://127.0.0.1:${typeof address === "object" && address ? address.port : port}`,
    spans,
    contentTypes,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
