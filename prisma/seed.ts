/**
 * Demo data: a demo user and a demo operator (credentials from the environment) and a few files
 * for the demo user. Safe to run again: users are upserted, files are only added to an empty account.
 */
import "../src/load-dotenv";
import { getEnv } from "../src/env.js";
import { hashPassword } from "../src/server/auth/passwords";
import { createDb } from "../src/server/db/client";
import { createFilesServiceWithOutbox } from "../src/server/domain/outbox/files-outbox";
import { LocalDiskStorage } from "../src/server/storage/local-disk-storage";

const env = getEnv();
const db = createDb(env.DATABASE_URL);
const storage = new LocalDiskStorage(env.STORAGE_DIR);

// A 2×2 PNG, so the demo has an image with dimensions to detect.
const PNG_2X2 = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP4z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==",
  "base64",
);

async function upsertUser(email: string, password: string, name: string, role: "user" | "operator") {
  const passwordHash = await hashPassword(password);
  return db.user.upsert({
    where: { email: email.toLowerCase() },
    update: { passwordHash, role, name },
    create: { email: email.toLowerCase(), passwordHash, role, name },
  });
}

async function main() {
  const demo = await upsertUser(env.DEMO_USER_EMAIL, env.DEMO_USER_PASSWORD, "Demo User", "user");
  const operator = await upsertUser(env.DEMO_OPERATOR_EMAIL, env.DEMO_OPERATOR_PASSWORD, "Demo Operator", "operator");

  const existing = await db.file.count({ where: { ownerId: demo.id } });
  if (existing === 0) {
    // With the outbox: the worker inspects the demo files (checksum, type, image size) like any upload.
    const files = createFilesServiceWithOutbox({ db, storage }, { maxPayloadBytes: env.OUTBOX_MAX_PAYLOAD_BYTES });
    const samples: Array<{ name: string; type: string; bytes: Uint8Array; tags: string[] }> = [
      { name: "welcome.txt", type: "text/plain", bytes: Buffer.from("Welcome to MetaStore.\n"), tags: ["demo"] },
      { name: "pixel.png", type: "image/png", bytes: PNG_2X2, tags: ["demo", "image"] },
      { name: "notes.md", type: "text/markdown", bytes: Buffer.from("# Notes\n\n- outbox\n- sagas\n"), tags: ["docs"] },
    ];
    for (const s of samples) {
      await files.upload({ ownerId: demo.id, name: s.name, declaredType: s.type, bytes: s.bytes, tags: s.tags, maxBytes: env.MAX_UPLOAD_BYTES });
    }
  }
  console.log(`seeded: ${demo.email} (user), ${operator.email} (operator); demo files: ${existing === 0 ? "added" : "kept"}`);
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => db.$disconnect());
