/**
 * The backend installed the way production installs it: the repository's tracked files copied to an empty
 * directory, `npm ci --omit=dev` (runtime dependencies only), then `node backend-consumer/src/main.ts` with only
 * variables the README documents, against the test databases and a local stand-in for Cloudflare's KV API. It must
 * become ready (MongoDB, MariaDB, KV sync) and serve the API. The Dockerfile runs the same steps.
 */
import { execFile, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintToken } from "../../backend-consumer/src/api/auth.ts";
import { locations, sites, tenants, users } from "../../backend-consumer/src/config/schema.ts";
import { ROOT } from "../lib/paths.ts";
import { startFakeKv, type FakeKv } from "../testing/fake-cf-kv.ts";
import { testMariadb, type TestMariadb } from "../testing/mariadb.ts";
import { eventually, testMongo } from "../testing/mongo.ts";
import { testPort } from "../testing/ports.ts";

const run = promisify(execFile);
let dir: string;
let maria: TestMariadb;
let mongo: Awaited<ReturnType<typeof testMongo>>;
let kv: FakeKv;
const NODE = join(ROOT, "node_modules/.bin/node");
const kvToken = `cf-${randomBytes(12).toString("hex")}`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tracker-install-"));
  const files = execFileSync("git", ["ls-files", "-z"], { cwd: ROOT, encoding: "utf8" }).split("\0").filter(Boolean);
  for (const f of files) {
    if (!existsSync(join(ROOT, f))) continue; // deleted in the working tree
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    cpSync(join(ROOT, f), join(dir, f));
  }
  maria = await testMariadb("install");
  mongo = await testMongo("install");
  kv = await startFakeKv(kvToken);
}, 120_000);

afterAll(async () => {
  await kv?.stop();
  await mongo?.db.dropDatabase();
  await mongo?.close();
  await maria?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("a production install", () => {
  it("npm ci --omit=dev installs what the backend needs, and it starts ready with the documented variables only", async () => {
    await run("npm", ["ci", "--omit=dev", "--no-audit", "--no-fund", "--ignore-scripts"], {
      cwd: dir,
      env: process.env,
      maxBuffer: 32 * 1024 * 1024,
    });
    // the runtime set, and none of the tooling
    for (const runtime of ["hono", "mongodb", "zod", "drizzle-orm", "jose", "pino", "prom-client", "mysql2"]) expect(existsSync(join(dir, "node_modules", runtime)), runtime).toBe(true);
    for (const tooling of ["vitest", "wrangler", "typescript", "playwright-core", "esbuild"]) expect(existsSync(join(dir, "node_modules", tooling)), tooling).toBe(false);

    const documented = new Set([...readFileSync(join(ROOT, "README.md"), "utf8").matchAll(/^\| `([A-Z][A-Z0-9_]+)` \|/gm)].map((m) => m[1]!));
    const port = testPort(80);
    const jwt = randomBytes(32).toString("hex");
    const env: Record<string, string> = {
      MONGODB_URI: mongo.uri,
      MONGODB_DB: mongo.dbName,
      MARIADB_URL: maria.url,
      JWT_SECRET: jwt,
      BACKEND_PORT: String(port),
      CLOUDFLARE_ACCOUNT_ID: "acct",
      KV_NAMESPACE_ID: "ns",
      CLOUDFLARE_API_TOKEN: kvToken,
      KV_API_URL: kv.url,
      DESTINATION_SECRET_KEY: randomBytes(32).toString("base64"),
      LOG_LEVEL: "info",
    };
    for (const name of Object.keys(env)) expect(documented.has(name), `${name} is in the README's backend table`).toBe(true);
    // the documented migration step runs from the install (idempotent on the already-migrated test database)
    const migrated = await run(NODE, [join(dir, "backend-consumer/src/ops/migrate.ts")], { cwd: dir, env: { PATH: process.env.PATH ?? "", MARIADB_URL: maria.url } });
    expect(migrated.stdout).toContain("migrations applied");
    let output = "";
    const child = spawn(NODE, [join(dir, "backend-consumer/src/main.ts")], { cwd: dir, env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.on("data", (d: Buffer) => (output += d));
    child.stderr.on("data", (d: Buffer) => (output += d));
    try {
      const ready = await eventually(async () => {
        const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null);
        return res?.ok ? ((await res.json()) as { parts: { name: string; ok: boolean }[] }) : undefined;
      }, 60_000, `the installed backend to be ready:\n${output}`);
      expect(ready.parts.map((p) => p.name).sort()).toEqual(["kv-sync", "mariadb", "mongodb"]);
      // and it serves the API with what it installed
      const tenantId = crypto.randomUUID();
      const userId = crypto.randomUUID();
      await maria.db.insert(tenants).values({ id: tenantId, name: "Installed" });
      await maria.db.insert(users).values({ id: userId, tenantId, email: "ops@installed.example", role: "agency", allowedSites: [] });
      const me = await fetch(`http://127.0.0.1:${port}/v1/me`, { headers: { authorization: `Bearer ${await mintToken(jwt, { sub: userId })}` } });
      expect(me.status).toBe(200);
      expect(await me.json()).toMatchObject({ tenantName: "Installed", role: "agency" });
      expect(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).toContain("tracker_drain_events_total");
      // the local queue's push route does not exist in production
      const internal = await fetch(`http://127.0.0.1:${port}/internal/queue/batch`, { method: "POST", headers: { authorization: "Bearer x" }, body: "[]" });
      expect(internal.status).toBe(404);
      // a request that came through Cloudflare is logged under its ray id
      const ray = `8f${randomBytes(7).toString("hex")}-AMS`;
      const viaEdge = await fetch(`http://127.0.0.1:${port}/v1/me`, { headers: { "cf-ray": ray, authorization: `Bearer ${await mintToken(jwt, { sub: userId })}` } });
      expect(viaEdge.headers.get("x-request-id")).toBe(ray);

      // a revoked Cloudflare token: the next write fails, and readiness says which part and why
      kv.revoke();
      const locationId = crypto.randomUUID();
      await maria.db.insert(locations).values({ id: locationId, tenantId, name: "Revoked", timezone: "UTC" });
      await maria.db.insert(sites).values({ id: crypto.randomUUID(), tenantId, locationId, name: "After revoke", domain: "revoked.example", siteKey: `revoked-${randomBytes(4).toString("hex")}`, allowedOrigins: [] });
      const failing = await eventually(async () => {
        const res = await fetch(`http://127.0.0.1:${port}/readyz`);
        return res.status === 503 ? ((await res.json()) as { parts: { name: string; ok: boolean; detail?: string }[] }) : undefined;
      }, 30_000, "readiness to fail with the token revoked");
      expect(failing.parts.find((p) => p.name === "kv-sync")).toMatchObject({ ok: false, detail: expect.stringMatching(/Authentication error|401/) });
      expect(failing.parts.find((p) => p.name === "mongodb")).toMatchObject({ ok: true });
      kv.revoke(false);
      await eventually(async () => ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok ? true : undefined), 60_000, "readiness to come back with the token restored");
      // JSON lines with levels, one per request, no secret
      const lines = output.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.find((l) => l.msg === "request" && l.path === "/v1/me")).toMatchObject({ level: "info", status: 200, reqId: expect.any(String), ms: expect.any(Number) });
      expect(lines.find((l) => l.msg === "request" && l.reqId === ray)).toMatchObject({ path: "/v1/me", status: 200 });
      expect(output).not.toContain(jwt);
      expect(output).not.toContain(kvToken);
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    }
  }, 240_000);
});

