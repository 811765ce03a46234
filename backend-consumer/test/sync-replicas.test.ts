/**
 * Three backends on one MariaDB: exactly one runs the KV sync at a time (a MariaDB lock held on its own
 * connection). The holder is SIGKILLed; another takes over within seconds; config keeps propagating, and KV sees
 * at most one write per key per second across all of them (Cloudflare's limit).
 */
import { randomBytes } from "node:crypto";
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configKey } from "#contracts";
import { locations, sites, tenants } from "../src/config/schema.ts";
import { ROOT, toolEnv } from "../../scripts/lib/paths.ts";
import { startFakeKv, type FakeKv } from "../../scripts/testing/fake-cf-kv.ts";
import { testMariadb, type TestMariadb } from "../../scripts/testing/mariadb.ts";
import { eventually, testMongo } from "../../scripts/testing/mongo.ts";
import { testPort } from "../../scripts/testing/ports.ts";

const TOKEN = randomBytes(32).toString("hex");
let maria: TestMariadb;
let mongo: Awaited<ReturnType<typeof testMongo>>;
let kv: FakeKv;
const replicas: { port: number; child: ChildProcess; exited: Promise<unknown> }[] = [];
const SITE = { id: crypto.randomUUID(), key: `replica-${randomBytes(4).toString("hex")}` };

function startReplica(n: number) {
  const port = testPort(70 + n);
  const child = spawn(join(ROOT, "node_modules/.bin/node"), [join(ROOT, "backend-consumer/src/main.ts")], {
    env: toolEnv({
      MONGODB_URI: mongo.uri,
      MONGODB_DB: mongo.dbName,
      MARIADB_URL: maria.url,
      JWT_SECRET: randomBytes(32).toString("hex"),
      BACKEND_PORT: String(port),
      CLOUDFLARE_ACCOUNT_ID: "acct",
      KV_NAMESPACE_ID: "ns",
      CLOUDFLARE_API_TOKEN: TOKEN,
      KV_API_URL: kv.url,
      VISIT_FINALIZE_INTERVAL_MS: "600000",
      LOG_LEVEL: "warn",
    }),
    stdio: ["ignore", "ignore", "inherit"],
  });
  const replica = { port, child, exited: new Promise((resolve) => child.once("exit", resolve)) };
  replicas.push(replica);
  return replica;
}

/** Which live replicas run the sync now, by their /readyz. */
async function holders(): Promise<number[]> {
  const out: number[] = [];
  for (const r of replicas) {
    if (r.child.exitCode !== null || r.child.signalCode !== null) continue;
    const res = await fetch(`http://127.0.0.1:${r.port}/readyz`).catch(() => null);
    if (!res) continue;
    const body = (await res.json()) as { parts: { name: string; detail?: string }[] };
    const part = body.parts.find((p) => p.name === "kv-sync");
    if (part && !part.detail?.startsWith("standby")) out.push(r.port);
  }
  return out;
}

/** An edit by SQL that changes what the edge serves: the site's allowed origin. */
async function rename(sql: mysql.Connection, name: string): Promise<number> {
  await sql.query("UPDATE sites SET allowed_origins = JSON_ARRAY(?) WHERE id = ?", [`https://${name}.example`, SITE.id]);
  return Date.now();
}
const served = (name: string) => kv.values.get(configKey(SITE.key))?.includes(`https://${name}.example`) ?? false;

beforeAll(async () => {
  maria = await testMariadb("replicas");
  mongo = await testMongo("replicas");
  kv = await startFakeKv(TOKEN);
  const T = crypto.randomUUID();
  const L = crypto.randomUUID();
  await maria.db.insert(tenants).values({ id: T, name: "T" });
  await maria.db.insert(locations).values({ id: L, tenantId: T, name: "L" });
  await maria.db.insert(sites).values({ id: SITE.id, tenantId: T, locationId: L, name: "v0", domain: "r.example", siteKey: SITE.key });
});
afterAll(async () => {
  for (const r of replicas) r.child.kill("SIGKILL");
  await Promise.all(replicas.map((r) => r.exited));
  await kv?.stop();
  await mongo?.db.dropDatabase();
  await mongo?.close();
  await maria?.drop();
});

describe("KV sync with three replicas", () => {
  it("runs in exactly one replica; when that one is SIGKILLed another takes over, config keeps propagating, and no key is written twice within a second", async () => {
    for (let n = 0; n < 3; n++) startReplica(n);
    for (const r of replicas) await eventually(async () => ((await fetch(`http://127.0.0.1:${r.port}/readyz`).catch(() => null))?.ok ? true : undefined), 30_000, `replica ${r.port} ready`);
    const [first] = await eventually(async () => {
      const h = await holders();
      return h.length === 1 ? h : undefined;
    }, 15_000, "one sync lease holder");
    const sql = await mysql.createConnection({ uri: maria.url });
    try {
      // edits arrive faster than once a second: the sync coalesces, and the last one is served
      const propagation: number[] = [];
      for (let i = 1; i <= 8; i++) {
        const at = await rename(sql, `v${i}`);
        if (i % 4 === 0) propagation.push((await eventually(async () => (served(`v${i}`) ? Date.now() : undefined), 10_000, `v${i} in KV`)) - at);
        else await new Promise((r) => setTimeout(r, 300));
      }
      expect(await holders()).toEqual([first]);

      // the holder dies; another replica takes the lease and the edits keep coming through
      const holder = replicas.find((r) => r.port === first)!;
      holder.child.kill("SIGKILL");
      await holder.exited;
      const killedAt = Date.now();
      await rename(sql, "after-kill");
      await eventually(async () => (served("after-kill") ? true : undefined), 15_000, "the edit after the kill in KV");
      const handover = Date.now() - killedAt;
      const [second] = await holders();
      expect(second).toBeDefined();
      expect(second).not.toBe(first);
      expect(await holders()).toHaveLength(1);
      for (let i = 1; i <= 4; i++) {
        const at = await rename(sql, `w${i}`);
        propagation.push((await eventually(async () => (served(`w${i}`) ? Date.now() : undefined), 10_000, `w${i} in KV`)) - at);
      }

      // Cloudflare's limit, across every replica: one write per key per second
      for (const [key, times] of kv.writes) {
        const gaps = times.slice(1).map((t, i) => t - times[i]!);
        expect(Math.min(...gaps, Infinity), `writes of ${key}: ${gaps.join(", ")} ms apart`).toBeGreaterThanOrEqual(990);
      }
      console.log(`sync replicas: propagation ${propagation.join(", ")} ms; after SIGKILL of the holder the next edit was in KV ${handover} ms later; writes of the site key ${kv.writes.get(configKey(SITE.key))?.length}`);
      expect(Math.max(...propagation)).toBeLessThan(3_000);
      expect(handover).toBeLessThan(8_000);
    } finally {
      await sql.end();
    }
  }, 120_000);
});
