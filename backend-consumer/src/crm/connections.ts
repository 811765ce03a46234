/**
 * OAuth connections of locations to a CRM (HighLevel's marketplace app): the install callback exchanges the
 * authorization code for tokens, kept per location and encrypted; an access token is refreshed when it has less
 * than five minutes left, and on demand after a 401. A refresh token works once, so refreshes are serialised per
 * connection in this process and guarded by a version column across processes: the loser of a race reads the
 * winner's tokens instead of failing.
 */
import { and, eq } from "drizzle-orm";
import type { ConfigDb } from "../config/db.ts";
import { crmConnections, locations, tenants } from "../config/schema.ts";
import type { ConnectionProvider } from "./connectors/types.ts";
import type { SecretBox } from "./secret-box.ts";

export interface HighLevelApp {
  /** https://services.leadconnectorhq.com, or a local stand-in. */
  apiUrl: string;
  clientId: string;
  clientSecret: string;
}

interface TokenAnswer {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  locationId?: string;
  companyId?: string;
  userType?: string;
}

/** A refusal the caller shows (install callback) or records (delivery). */
export class ConnectionError extends Error {
  override readonly name = "ConnectionError";
}

const REFRESH_BEFORE_MS = 5 * 60_000;

export class ConnectionStore implements ConnectionProvider {
  readonly #db: ConfigDb;
  readonly #box: SecretBox;
  readonly #highlevel: HighLevelApp | undefined;
  readonly #fetch: typeof fetch;
  readonly #refreshing = new Map<string, Promise<string>>();
  /** Refreshes done by this process (for tests and metrics). */
  refreshes = 0;

  constructor(db: ConfigDb, box: SecretBox, apps: { highlevel?: HighLevelApp }, fetchImpl: typeof fetch = fetch) {
    this.#db = db;
    this.#box = box;
    this.#highlevel = apps.highlevel;
    this.#fetch = fetchImpl;
  }

  async #tokenRequest(params: Record<string, string>): Promise<TokenAnswer> {
    const app = this.#highlevel;
    if (!app) throw new ConnectionError("HighLevel is not configured (HIGHLEVEL_CLIENT_ID, HIGHLEVEL_CLIENT_SECRET)");
    const res = await this.#fetch(`${app.apiUrl.replace(/\/+$/, "")}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: new URLSearchParams({ client_id: app.clientId, client_secret: app.clientSecret, user_type: "Location", ...params }),
      signal: AbortSignal.timeout(10_000),
    });
    const answer = (await res.json().catch(() => ({}))) as Partial<TokenAnswer> & { error?: string; error_description?: string; message?: string };
    if (!res.ok || !answer.access_token || !answer.refresh_token) {
      throw new ConnectionError(`HighLevel token request refused: ${res.status} ${answer.error ?? ""} ${answer.error_description ?? answer.message ?? ""}`.trim());
    }
    return answer as TokenAnswer;
  }

  /** The install callback: exchanges `code`, finds our location by the CRM's ids, and keeps its tokens. */
  async installHighLevel(code: string): Promise<{ locationId: string; tenantId: string }> {
    const answer = await this.#tokenRequest({ grant_type: "authorization_code", code });
    if (!answer.locationId || !answer.companyId) throw new ConnectionError("HighLevel's answer names no location: install the app from a location (sub-account)");
    const [location] = await this.#db
      .select({ id: locations.id, tenantId: locations.tenantId })
      .from(locations)
      .innerJoin(tenants, eq(tenants.id, locations.tenantId))
      .where(and(eq(tenants.externalId, answer.companyId), eq(locations.externalId, answer.locationId)))
      .limit(1);
    if (!location) throw new ConnectionError("No location here has this HighLevel location id: set the location's externalId first");
    const id = crypto.randomUUID();
    const [existing] = await this.#db.select({ id: crmConnections.id }).from(crmConnections).where(and(eq(crmConnections.locationId, location.id), eq(crmConnections.provider, "highlevel"))).limit(1);
    const rowId = existing?.id ?? id;
    const values = {
      externalLocationId: answer.locationId,
      accessTokenEnc: this.#box.seal(answer.access_token, rowId),
      refreshTokenEnc: this.#box.seal(answer.refresh_token, rowId),
      expiresAt: new Date(Date.now() + answer.expires_in * 1000),
    };
    if (existing) await this.#db.update(crmConnections).set(values).where(eq(crmConnections.id, rowId));
    else await this.#db.insert(crmConnections).values({ id: rowId, tenantId: location.tenantId, locationId: location.id, provider: "highlevel", ...values });
    return { locationId: location.id, tenantId: location.tenantId };
  }

  async accessToken(provider: string, locationId: string, opts: { forceRefresh?: boolean } = {}): Promise<{ token: string; externalLocationId: string } | null> {
    const row = await this.#row(provider, locationId);
    if (!row) return null;
    const fresh = row.expiresAt.getTime() - Date.now() > REFRESH_BEFORE_MS;
    if (fresh && !opts.forceRefresh) return { token: this.#box.open(row.accessTokenEnc, row.id), externalLocationId: row.externalLocationId };
    let pending = this.#refreshing.get(row.id);
    if (!pending) {
      pending = this.#refresh(row).finally(() => this.#refreshing.delete(row.id));
      this.#refreshing.set(row.id, pending);
    }
    return { token: await pending, externalLocationId: row.externalLocationId };
  }

  async #row(provider: string, locationId: string) {
    const [row] = await this.#db.select().from(crmConnections).where(and(eq(crmConnections.locationId, locationId), eq(crmConnections.provider, provider))).limit(1);
    return row ?? null;
  }

  async #refresh(row: typeof crmConnections.$inferSelect): Promise<string> {
    let answer: TokenAnswer;
    try {
      answer = await this.#tokenRequest({ grant_type: "refresh_token", refresh_token: this.#box.open(row.refreshTokenEnc, row.id) });
    } catch (err) {
      // another backend may have used this refresh token a moment ago: its tokens are in the row now
      const now = await this.#row(row.provider, row.locationId);
      if (now && now.version !== row.version) return this.#box.open(now.accessTokenEnc, now.id);
      throw err;
    }
    this.refreshes++;
    const [result] = await this.#db
      .update(crmConnections)
      .set({
        accessTokenEnc: this.#box.seal(answer.access_token, row.id),
        refreshTokenEnc: this.#box.seal(answer.refresh_token, row.id),
        expiresAt: new Date(Date.now() + answer.expires_in * 1000),
        version: row.version + 1,
      })
      .where(and(eq(crmConnections.id, row.id), eq(crmConnections.version, row.version)));
    if ((result as { affectedRows?: number }).affectedRows === 0) {
      const now = await this.#row(row.provider, row.locationId);
      if (now) return this.#box.open(now.accessTokenEnc, now.id);
    }
    return answer.access_token;
  }
}
