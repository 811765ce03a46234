/**
 * A local receiver for signed webhooks, following the Standard Webhooks specification (standardwebhooks.com, spec
 * v1.0.0): `POST /hooks/:name` with the raw JSON body signed as `v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>">`
 * in `webhook-signature` (space-separated list), `webhook-id` and `webhook-timestamp` (Unix seconds) headers, and a
 * `whsec_`-prefixed base64 secret. Verification is the `standardwebhooks` package's `Webhook.verify` (which also
 * refuses timestamps more than 5 minutes old or ahead), never hand-rolled crypto here.
 *
 * Answers: 204 on an accepted delivery (any 2xx means delivered per the spec), 401 with a JSON error on a missing or
 * bad signature or a timestamp outside tolerance, 400 when a correctly signed body is not JSON, 404/405 elsewhere.
 * Every accepted delivery is recorded, duplicates included; the spec has receivers deduplicate by `webhook-id`, which
 * `unique()` does (first arrival kept).
 *
 * It honours erasure, as a receiver of personal data must: a verified `lead.deleted` whose `data.lead` has
 * `erased: true` makes it drop every delivery it kept of that lead id (and blank their bodies in the request log),
 * note the erasure in `erasures()` (webhook-id, lead id, times: no personal data), and keep nothing of that lead
 * that arrives later (a late retry is acknowledged, 204, and not kept).
 */
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import { Faults, startFaultyServer, type FakeRequest, type FakeResponse, type LoggedRequest } from "./common.ts";

export interface WebhookDelivery {
  /** The `:name` in `/hooks/:name`. */
  name: string;
  /** The `webhook-id` header: the message id, the same on every retry of one message. */
  id: string;
  /** The `webhook-timestamp` header (Unix seconds). */
  timestamp: number;
  /** The payload's `type` (the Standard Webhooks payload is `{ type, timestamp, data }`), if it has one. */
  type: string | undefined;
  body: unknown;
  /** Date.now() when the receiver accepted it. */
  receivedAt: number;
}

/** An erasure the receiver honoured. */
export interface WebhookErasure {
  name: string;
  /** The erasure's `webhook-id`. */
  id: string;
  leadId: string;
  timestamp: number;
  /** The erasure's payload as received (an erasure carries no personal data). */
  body: unknown;
  receivedAt: number;
  /** How many kept deliveries of the lead it dropped. */
  dropped: number;
}

export interface WebhookReceiverOptions {
  /** The endpoint secret, `whsec_<base64>` (or bare base64), as the sender's `new Webhook(secret)` uses. */
  secret: string;
}

export interface WebhookReceiver {
  url: string;
  /** `${url}/hooks/${name}`. */
  hookUrl(name: string): string;
  faults: Faults;
  /** Accepted deliveries in arrival order, duplicates included; only those to `/hooks/<name>` when given. */
  deliveries(name?: string): WebhookDelivery[];
  /** Accepted deliveries deduplicated by `webhook-id` (first arrival kept). */
  unique(name?: string): WebhookDelivery[];
  /** Erasures honoured, in arrival order (duplicates included). */
  erasures(): WebhookErasure[];
  /** Every request with its answer, refused and faulted ones included. */
  requests(): LoggedRequest[];
  /** Forgets deliveries and the request log, and resets the faults. */
  clear(): void;
  stop(): Promise<void>;
}

const HOOK_PATH = /^\/hooks\/([^/]+)$/;

/** The lead id a payload is about (`data.lead.id`), if any. */
function leadIdOf(body: unknown): string | undefined {
  const id = (body as { data?: { lead?: { id?: unknown } } } | null)?.data?.lead?.id;
  return typeof id === "string" ? id : undefined;
}

/** Whether a payload is an erasure: `lead.deleted` with `data.lead.erased === true`. */
export function isErasurePayload(body: unknown): boolean {
  const b = body as { type?: unknown; data?: { lead?: { erased?: unknown } } } | null;
  return b?.type === "lead.deleted" && b.data?.lead?.erased === true && leadIdOf(body) !== undefined;
}

export async function startWebhookReceiver(opts: WebhookReceiverOptions): Promise<WebhookReceiver> {
  const verifier = new Webhook(opts.secret);
  const faults = new Faults();
  let delivered: WebhookDelivery[] = [];
  let log: LoggedRequest[] = [];
  let erasures: WebhookErasure[] = [];
  let erased = new Set<string>();

  const handle = (req: FakeRequest): FakeResponse => {
    const m = HOOK_PATH.exec(req.path);
    if (!m) return { status: 404, body: { error: "not_found", message: `no route for ${req.path}` } };
    if (req.method !== "POST") return { status: 405, headers: { allow: "POST" }, body: { error: "method_not_allowed" } };
    const headers: Record<string, string> = {};
    for (const h of ["webhook-id", "webhook-timestamp", "webhook-signature"]) {
      const v = req.headers[h];
      if (typeof v === "string") headers[h] = v;
    }
    let body: unknown;
    try {
      body = verifier.verify(req.rawBody, headers);
    } catch (err) {
      if (err instanceof WebhookVerificationError) {
        return { status: 401, body: { error: "invalid_signature", message: err.message } };
      }
      // A valid signature over a body that is not JSON.
      return { status: 400, body: { error: "invalid_json", message: err instanceof Error ? err.message : String(err) } };
    }
    const type = body !== null && typeof body === "object" && typeof (body as { type?: unknown }).type === "string" ? (body as { type: string }).type : undefined;
    const leadId = leadIdOf(body);
    if (isErasurePayload(body)) {
      const before = delivered.length;
      delivered = delivered.filter((d) => leadIdOf(d.body) !== leadId);
      log = log.map((e) => (leadIdOf(e.body) === leadId && !isErasurePayload(e.body) ? { ...e, body: "[erased]" } : e));
      erased.add(leadId!);
      erasures.push({
        name: decodeURIComponent(m[1]!),
        id: headers["webhook-id"]!,
        leadId: leadId!,
        timestamp: Number.parseInt(headers["webhook-timestamp"]!, 10),
        body,
        receivedAt: Date.now(),
        dropped: before - delivered.length,
      });
      return { status: 204 };
    }
    // what arrives of an erased lead later is acknowledged and not kept
    if (leadId !== undefined && erased.has(leadId)) return { status: 204 };
    delivered.push({
      name: decodeURIComponent(m[1]!),
      id: headers["webhook-id"]!,
      timestamp: Number.parseInt(headers["webhook-timestamp"]!, 10),
      type,
      body,
      receivedAt: Date.now(),
    });
    return { status: 204 };
  };

  const server = await startFaultyServer({
    faults,
    handler: handle,
    isVendorRoute: (req) => HOOK_PATH.test(req.path),
    errorBody: (status) => ({ error: "receiver_error", status }),
    // nothing of an erased lead is kept in the log either
    log: (e) => log.push(leadIdOf(e.body) !== undefined && erased.has(leadIdOf(e.body)!) && !isErasurePayload(e.body) ? { ...e, body: "[erased]" } : e),
  });

  const byName = (name?: string): WebhookDelivery[] => (name === undefined ? delivered : delivered.filter((d) => d.name === name));

  return {
    url: server.url,
    hookUrl: (name) => `${server.url}/hooks/${encodeURIComponent(name)}`,
    faults,
    deliveries: (name) => [...byName(name)],
    unique: (name) => {
      const seen = new Set<string>();
      return byName(name).filter((d) => (seen.has(d.id) ? false : (seen.add(d.id), true)));
    },
    erasures: () => [...erasures],
    requests: () => [...log],
    clear: () => {
      delivered = [];
      log = [];
      erasures = [];
      erased = new Set();
      faults.reset();
    },
    stop: () => server.stop(),
  };
}
