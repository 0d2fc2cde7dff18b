/**
 * Demo data: a demo user and a demo operator (credentials from the environment) and a few files
 * for the demo user. Only in development, or with SEED_DEMO_ACCOUNTS=true (production then refuses
 * the published demo passwords: src/production-checks.js). Safe to run again: an account that
 * exists is never touched (its password and role are its owner's, not the seed's), files are only
 * added to an empty account.
 */
import "../src/load-dotenv";
import { getEnv } from "../src/env.js";
import { assertProductionReady } from "../src/production-checks.js";
import { hashPassword } from "../src/server/auth/passwords";
import { createDb } from "../src/server/platform/db/client";
import { createFilesServiceWithOutbox } from "../src/server/features/files/files-outbox";
import { LocalDiskStorage } from "../src/server/platform/storage/local-disk-storage";

const env = getEnv();
assertProductionReady(env);
const db = createDb(env.DATABASE_URL);
const storage = new LocalDiskStorage(env.STORAGE_DIR);

// A 2×2 PNG, so the demo has an image with dimensions to detect.
const PNG_2X2 = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP4z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==",
  "base64",
);

/** Create the account unless its email exists; an existing one keeps its password, role and name. */
async function ensureUser(email: string, password: string, name: string, role: "user" | "operator") {
  const where = { email: email.toLowerCase() };
  const existing = await db.user.findUnique({ where });
  if (existing) return { user: existing, created: false };
  const passwordHash = await hashPassword(password);
  // A concurrent seed may create it between the read and here: the upsert then changes nothing.
  const user = await db.user.upsert({ where, update: {}, create: { ...where, passwordHash, role, name } });
  return { user, created: true };
}

async function main() {
  const seedDemo = env.SEED_DEMO_ACCOUNTS ?? env.NODE_ENV !== "production";
  if (!seedDemo) {
    console.log("seed: no demo accounts in production (set SEED_DEMO_ACCOUNTS=true, with your own DEMO_*_PASSWORD, to add them)");
    return;
  }
  const { user: demo, created: demoCreated } = await ensureUser(env.DEMO_USER_EMAIL, env.DEMO_USER_PASSWORD, "Demo User", "user");
  const { user: operator, created: operatorCreated } = await ensureUser(env.DEMO_OPERATOR_EMAIL, env.DEMO_OPERATOR_PASSWORD, "Demo Operator", "operator");

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
  const state = (created: boolean) => (created ? "created" : "exists, left as it is");
  console.log(
    `seeded: ${demo.email} (user, ${state(demoCreated)}), ${operator.email} (operator, ${state(operatorCreated)}); demo files: ${existing === 0 ? "added" : "kept"}`,
  );
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => db.$disconnect());
