/**
 * The backend's whole configuration: every environment variable it reads, validated once at start by one zod
 * schema. A bad or missing value stops the process with one line naming the variable and what it expected. The
 * README's backend table is generated from this schema (`npm run docs:env`) and a test holds the two equal.
 */
import { z } from "zod";
import { checkAuthOptions, type AuthOptions } from "../api/auth.ts";

/** INTERNAL_TOKEN guards the local queue push and the KV bridge: 32 random bytes, hex (64) or base64url (43) or longer. */
export const MIN_INTERNAL_TOKEN_LENGTH = 43;

const int = (def: number, min: number, max: number, doc: string) =>
  z
    .string()
    .regex(/^\d+$/, `a whole number from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min, `at least ${min}`).max(max, `at most ${max}`))
    .optional()
    .transform((v) => v ?? def)
    .describe(`${doc} Default ${def}.`);
const url = (doc: string) => z.url({ protocol: /^(https?|mongodb(\+srv)?|mysql|mariadb)$/ }).optional().describe(doc);
const text = (doc: string) => z.string().min(1).optional().describe(doc);
const flag = (doc: string) => z.enum(["true", "false"], "true or false").optional().transform((v) => v === "true").describe(doc);

export const CONFIG_FIELDS = {
  MONGODB_URI: z.string().regex(/^mongodb(\+srv)?:\/\//, "a mongodb:// or mongodb+srv:// URL").describe("MongoDB: events, sessions, leads, statistics. Required."),
  MONGODB_DB: z.string().regex(/^[A-Za-z0-9_-]{1,63}$/, "a database name").optional().transform((v) => v ?? "tracker").describe("Database name. Default tracker."),
  MARIADB_URL: url("MariaDB (mysql://user:pass@host:3306/db): the config plane. Without it the backend only drains and serves /healthz, /readyz and /metrics."),
  BACKEND_HOST: z.string().min(1).optional().transform((v) => v ?? "127.0.0.1").describe("Address to listen on (0.0.0.0 in a container). Default 127.0.0.1."),
  BACKEND_PORT: int(8790, 1, 65535, "Port to listen on."),
  NODE_ENV: z.enum(["production", "development", "test"]).optional().describe("production: refuses a JWKS beside an HS256 secret, and single sign-on without SESSION_SIGNING_KEY."),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).optional().transform((v) => v ?? "info").describe("Log level (JSON lines on stdout). Default info."),
  INTERNAL_TOKEN: z
    .string()
    .refine((t) => t.length >= MIN_INTERNAL_TOKEN_LENGTH && new Set(t).size >= 8, "at least 32 random bytes, hex or base64url (openssl rand -hex 32)")
    .optional()
    .describe("Bearer token of the local queue push (/internal/queue); required with LOCAL_QUEUE_CONSUMER."),
  LOCAL_QUEUE_CONSUMER: flag("true: mount /internal/queue, where the local dev sidecar pushes batches (never in production, where the backend pulls)."),
  JWT_SECRET: z.string().min(32, "at least 32 characters").optional().describe("HS256 secret of API tokens (local use)."),
  JWT_JWKS_URL: url("An identity provider's JWKS: RS256/EdDSA API tokens (production)."),
  JWT_ISSUER: text("Required `iss` of API tokens; required with JWT_JWKS_URL."),
  JWT_AUDIENCE: text("Required `aud` of API tokens; required with JWT_JWKS_URL."),
  JWT_MAX_AGE_S: int(86400, 60, 30 * 86400, "Longest an API token may live (exp − iat) and oldest it may be, seconds."),
  SESSION_SIGNING_KEY: z.string().includes("PRIVATE KEY", { error: "an Ed25519 private key in PKCS#8 PEM (openssl genpkey -algorithm ed25519)" }).optional().describe("Ed25519 PKCS#8 PEM signing the dashboard's session tokens; the same on every replica. Without it, a key per process."),
  ACTIVITY_SIGNING_KEY: z
    .string()
    .includes("PRIVATE KEY", { error: "an Ed25519 private key in PKCS#8 PEM (openssl genpkey -algorithm ed25519)" })
    .optional()
    .describe("Ed25519 PKCS#8 PEM signing team activity's actor tokens (POST /v1/auth/highlevel/actor, with HIGHLEVEL_SHARED_SECRET); its public half (SPKI PEM) is the Worker's ACTIVITY_TOKEN_PUBLIC_KEY. Without it, team activity is off."),
  HIGHLEVEL_SHARED_SECRET: z.string().min(16, "the app's Shared Secret as the CRM shows it").optional().describe("The CRM app's Shared Secret: enables POST /v1/auth/highlevel."),
  HIGHLEVEL_AUTO_CREATE_TENANTS: flag("true: the first sign-in of an unknown company creates its tenant and locations."),
  EDGE_PUBLIC_URL: url("The edge Worker's public URL, for install snippets in the dashboard."),
  DASHBOARD_FRAME_ANCESTORS: z.string().regex(/^\S+(\s+\S+)*$/, "origins separated by spaces").optional().describe("Origins besides HighLevel's allowed to frame /app (a white-label CRM domain)."),
  KV_SYNC: z.enum(["on", "off"], "on or off").optional().transform((v) => v ?? "on").describe("off: never run the config sync in this replica. Replicas that run it take turns through a MariaDB lock. Default on."),
  CLOUDFLARE_ACCOUNT_ID: text("Cloudflare account (KV sync, queue pull)."),
  CLOUDFLARE_API_TOKEN: text("Cloudflare API token with KV write and Queues consume (KV sync, queue pull)."),
  KV_NAMESPACE_ID: text("The CONFIG KV namespace the sync writes."),
  KV_API_URL: url("Cloudflare's API for KV. Default https://api.cloudflare.com/client/v4.").transform((v) => v ?? "https://api.cloudflare.com/client/v4").describe("Cloudflare's API for KV. Default https://api.cloudflare.com/client/v4."),
  KV_MIN_WRITE_INTERVAL_MS: int(1000, 0, 60_000, "Writes per KV key at most once per this many ms (Cloudflare allows one a second; below 1000 only against a local KV)."),
  SYNC_INTERVAL_MS: int(100, 10, 60_000, "How often the sync looks for changes."),
  RECONCILE_INTERVAL_MS: int(300_000, 1000, 86_400_000, "How often the sync compares all of KV with MariaDB."),
  CLOUDFLARE_QUEUE_ID: text("The events queue: the backend pulls it (Cloudflare's HTTP pull consumer)."),
  CLOUDFLARE_DLQ_ID: text("The dead-letter queue: pulled into the dead-letter store (npm run dlq)."),
  QUEUES_API_URL: url("Cloudflare's API for Queues. Default https://api.cloudflare.com/client/v4.").transform((v) => v ?? "https://api.cloudflare.com/client/v4").describe("Cloudflare's API for Queues. Default https://api.cloudflare.com/client/v4."),
  PULL_BATCH_SIZE: int(100, 1, 100, "Messages per pull (Cloudflare's maximum is 100)."),
  PULL_CONCURRENCY: int(2, 1, 16, "Pulls in flight at once."),
  PULL_VISIBILITY_TIMEOUT_MS: int(30_000, 1000, 43_200_000, "How long pulled messages stay leased."),
  VISIT_IDLE_MS: int(1_800_000, 1000, 86_400_000, "A session idle this long is a finished visit in the statistics."),
  VISIT_FINALIZE_INTERVAL_MS: int(15_000, 100, 3_600_000, "How often the visit finalizer looks."),
  DESTINATION_SECRET_KEY: z
    .string()
    .refine((k) => Buffer.from(k, "base64").length === 32, "32 bytes in base64 (openssl rand -base64 32)")
    .optional()
    .describe("Seals CRM destination secrets at rest; without it no lead is delivered to a CRM."),
  HIGHLEVEL_CLIENT_ID: text("The marketplace app's OAuth client id (HighLevel destinations)."),
  HIGHLEVEL_CLIENT_SECRET: text("The marketplace app's OAuth client secret."),
  HIGHLEVEL_API_URL: url("HighLevel's API. Default https://services.leadconnectorhq.com.").transform((v) => v ?? "https://services.leadconnectorhq.com").describe("HighLevel's API. Default https://services.leadconnectorhq.com."),
  DELIVERY_MAX_ATTEMPTS: int(12, 1, 100, "Attempts before a CRM delivery is dead-lettered."),
  DELIVERY_BACKOFF_BASE_MS: int(1000, 10, 600_000, "First retry delay of a CRM delivery (doubling, with jitter)."),
  DELIVERY_BACKOFF_CAP_MS: int(300_000, 100, 86_400_000, "Longest retry delay of a CRM delivery."),
  DELIVERY_LEASE_MS: int(30_000, 500, 3_600_000, "How long a delivery worker holds the leads it took."),
  PRIVACY_HASH_KEY: z
    .string()
    .refine((k) => Buffer.from(k, "base64").length >= 32, "at least 32 bytes in base64 (openssl rand -base64 32)")
    .optional()
    .describe("Keys the hashes that name erased people (suppression list, receipts, audit); the privacy API needs it. Keep it stable: a new key forgets every suppression."),
  RETENTION_SWEEP_INTERVAL_MS: int(600_000, 0, 86_400_000, "How often the retention sweep runs (one replica at a time): deletes what is past its site's retention on any MongoDB, TTL or not; 0 turns it off."),
  RETENTION_SWEEP_BATCH: int(1000, 10, 100_000, "Documents deleted per collection per step of the retention sweep."),
  PRIVACY_ERASE_LEASE_MS: int(60_000, 1000, 3_600_000, "How long a backend holds an erase it runs; one whose backend died is resumed by another after this."),
} as const;

const schema = z.object(CONFIG_FIELDS);
export type Config = z.output<typeof schema> & { auth: AuthOptions; frameAncestors: string[] };

/** A configuration problem: one line, naming the variable. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Reads and checks the environment; throws ConfigError naming the first bad variable (or combination). */
export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const values = Object.fromEntries(Object.keys(CONFIG_FIELDS).map((k) => [k, env[k] === "" ? undefined : env[k]]));
  const parsed = schema.safeParse(values);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0]);
    const value = env[name];
    const field = CONFIG_FIELDS[name as keyof typeof CONFIG_FIELDS] as z.ZodType | undefined;
    if (value === undefined || value === "") throw new ConfigError(`config: ${name} is missing: ${field?.description ?? "required"}`);
    throw new ConfigError(`config: ${name} is invalid: expected ${issue.message.replace(/^Invalid input: /, "")}`);
  }
  const c = parsed.data;
  const need = (names: string[], because: string) => {
    for (const n of names) if (!c[n as keyof typeof c]) throw new ConfigError(`config: ${n} is missing: needed ${because}`);
  };
  if (c.LOCAL_QUEUE_CONSUMER) need(["INTERNAL_TOKEN"], "with LOCAL_QUEUE_CONSUMER=true (openssl rand -hex 32)");
  if (c.MARIADB_URL && c.KV_SYNC === "on") need(["CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_API_TOKEN", "KV_NAMESPACE_ID"], "for the KV sync (or KV_SYNC=off)");
  if (c.CLOUDFLARE_QUEUE_ID || c.CLOUDFLARE_DLQ_ID) need(["CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_API_TOKEN"], "to pull the queue");
  if (c.HIGHLEVEL_CLIENT_ID || c.HIGHLEVEL_CLIENT_SECRET) need(["HIGHLEVEL_CLIENT_ID", "HIGHLEVEL_CLIENT_SECRET"], "for HighLevel's OAuth (both)");
  const production = c.NODE_ENV === "production";
  if (c.HIGHLEVEL_SHARED_SECRET && production && !c.SESSION_SIGNING_KEY) {
    throw new ConfigError("config: SESSION_SIGNING_KEY is missing: needed in production with single sign-on (a key per process would sign everyone out at each deploy)");
  }
  const auth: AuthOptions = {
    ...(c.JWT_SECRET ? { hs256Secret: c.JWT_SECRET } : {}),
    ...(c.JWT_JWKS_URL ? { jwksUrl: c.JWT_JWKS_URL } : {}),
    ...(c.JWT_ISSUER ? { issuer: c.JWT_ISSUER } : {}),
    ...(c.JWT_AUDIENCE ? { audience: c.JWT_AUDIENCE } : {}),
    maxTokenAgeSeconds: c.JWT_MAX_AGE_S,
    production,
  };
  // tokens are checked by the admin and read APIs, which are served with the config plane
  if (c.MARIADB_URL) {
    try {
      checkAuthOptions(auth);
    } catch (err) {
      throw new ConfigError(`config: ${(err as Error).message.replace(/^auth: /, "")}`);
    }
  }
  const frameAncestors = c.DASHBOARD_FRAME_ANCESTORS ? c.DASHBOARD_FRAME_ANCESTORS.split(/\s+/) : [];
  return { ...c, auth, frameAncestors };
}

/** The README's table of backend variables, from the schema (npm run docs:env writes it; a test compares). */
export function configTable(): string {
  const rows = Object.entries(CONFIG_FIELDS).map(([name, field]) => `| \`${name}\` | ${(field as z.ZodType).description ?? ""} |`);
  return ["| variable | what it is |", "|---|---|", ...rows].join("\n");
}
