import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { createTestDatabase, type TestDatabase } from "~test/support/database";
import { captureStatements, explainAll, sharedBuffers } from "~test/support/query-plans";
import { fileInsertSql, userInsertSql } from "~test/support/dashboard-seed";
import { createDb, type Db } from "../../platform/db/client";
import { createConsoleSearch } from "./console-search";

/**
 * A console search for the start of a file name ("notes-19941", the dashboard bench's "file name
 * part") is answered by the prefix walk alone, at a cost bounded by the LIMIT: the trigram index
 * (whose posting lists grow with the table) is not read when names start with the text. On the
 * dashboard bench's own rows (10k users, 100k files), statements captured from `find` itself.
 */
let database: TestDatabase;
let db: Db;
let client: pg.Client;
beforeAll(async () => {
  database = await createTestDatabase();
  db = createDb(database.url, { max: 2 });
  client = new pg.Client({ connectionString: database.url });
  await client.connect();
  await client.query(userInsertSql(0, 10_000));
  await client.query(fileInsertSql(0, 100_000, Date.now()));
  await client.query(`VACUUM (ANALYZE) file`);
  await client.query(`VACUUM (ANALYZE) app_user`);
}, 120_000);
afterAll(async () => {
  await db?.$disconnect();
  await client?.end();
  await database?.drop();
});

async function searched(q: string) {
  const search = createConsoleSearch(db);
  let hits = 0;
  const statements = await captureStatements(async () => {
    hits = (await search.find(q, { limit: 20 })).hits.length;
  });
  return { hits, plan: await explainAll(client, statements, ["file", "app_user"]), buffers: await sharedBuffers(client, statements) };
}

describe("console search by file name at 100k files", () => {
  it("the start of some names: prefix walk only, no trigram bitmap, a bounded number of buffers", async () => {
    const { rows } = await client.query<{ name: string }>(`SELECT name FROM file ORDER BY id DESC OFFSET 100 LIMIT 1`);
    const term = rows[0]!.name.split("-").slice(0, 2).join("-");
    const { hits, plan, buffers } = await searched(term);
    expect(hits).toBeGreaterThan(0);
    expect(plan.nodes.join(", ")).toContain("file_name_prefix_idx");
    expect(plan.nodes.join(", ")).not.toContain("file_name_trgm_idx");
    expect(plan.seqScansOnBig).toEqual([]);
    // Every lookup a text search runs (aggregate, key, prefix walks of files and e-mails, the
    // e-mail substring): 47 buffers measured here.
    console.info(`"${term}": ${hits} hits, ${buffers.blocks} buffers: ${plan.nodes.join(", ")}`);
    expect(buffers.blocks, plan.nodes.join(", ")).toBeLessThan(100);
  });

  it("a part of a name that starts none: the substring search still answers it", async () => {
    const { hits } = await searched("otes-1");
    expect(hits).toBeGreaterThan(0);
  });
});
