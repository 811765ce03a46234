/** `npm run token` as a developer runs it, against a test MariaDB: an email is unique per tenant only. */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTokenVerifier } from "../../backend-consumer/src/api/auth.ts";
import { tenants, users } from "../../backend-consumer/src/config/schema.ts";
import { ROOT } from "../lib/paths.ts";
import { testMariadb, type TestMariadb } from "../testing/mariadb.ts";

const run = promisify(execFile);
const SECRET = randomBytes(32).toString("base64url");
let maria: TestMariadb;
const [A, B] = [crypto.randomUUID(), crypto.randomUUID()];
const [userA, userB] = [crypto.randomUUID(), crypto.randomUUID()];

function token(...args: string[]) {
  return run(join(ROOT, "node_modules/.bin/node"), [join(ROOT, "scripts/token.ts"), ...args], {
    env: { ...process.env, MARIADB_URL: maria.url, JWT_SECRET: SECRET },
  }).then(
    (r) => ({ ...r, code: 0 }),
    (err: { stdout: string; stderr: string; code: number }) => ({ stdout: err.stdout, stderr: err.stderr, code: err.code }),
  );
}

beforeAll(async () => {
  maria = await testMariadb("tokencli");
  await maria.db.insert(tenants).values([
    { id: A, name: "Agency A" },
    { id: B, name: "Agency B" },
  ]);
  await maria.db.insert(users).values([
    { id: userA, tenantId: A, email: "both@example.test", role: "agency", allowedSites: [] },
    { id: userB, tenantId: B, email: "both@example.test", role: "location", allowedSites: [] },
  ]);
});
afterAll(() => maria.drop());

describe("npm run token", () => {
  const verify = createTokenVerifier({ hs256Secret: SECRET });

  it("refuses to guess when an email belongs to users of several tenants, and lists the choices", async () => {
    const out = await token("both@example.test");
    expect(out.code).toBe(2);
    expect(out.stdout).toBe("");
    expect(out.stderr).toContain("is a user of 2 tenants");
    expect(out.stderr).toContain(`--tenant ${A}   Agency A (agency)`);
    expect(out.stderr).toContain(`--tenant ${B}   Agency B (location)`);
  });

  it("mints a token for the user of the tenant chosen", async () => {
    const out = await token("Both@Example.test", "--tenant", B);
    expect(out.code).toBe(0);
    expect(await verify(out.stdout.trim())).toBe(userB);
  });

  it("says so when there is no such user", async () => {
    const out = await token("nobody@example.test");
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/no user nobody@example.test/);
  });
});
