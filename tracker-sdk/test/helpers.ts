/**
 * What the SDK's end-to-end tests share: one local stack per test file (with its own MongoDB database), headless
 * Chromium, and a record of every `POST /v1/events` a browser context makes and how the edge answered it.
 */
import type { Browser, BrowserContext, Page, Request } from "playwright-core";
import type { TrackerEvent } from "#contracts";
import { connectMongo, type Mongo } from "../../backend-consumer/src/store/mongo.ts";
import { startStack, type Stack } from "../../scripts/lib/stack.ts";
import { launchBrowser } from "../../scripts/testing/browser.ts";
import { eventually, uniqueDbName } from "../../scripts/testing/mongo.ts";
import { TEST_DATA_DIR, TEST_PORTS } from "../../scripts/testing/ports.ts";

export interface E2e {
  stack: Stack;
  browser: Browser;
  mongo: Mongo;
  /** `/fixtures/<name>.html` on the demo origin. */
  fixture(name: string): string;
  stop(): Promise<void>;
}

export async function startE2e(prefix: string, opts: { backendEnv?: Record<string, string> } = {}): Promise<E2e> {
  const dbName = uniqueDbName(prefix);
  const stack = await startStack({ dataDir: TEST_DATA_DIR, ports: TEST_PORTS, mongoDb: dbName, mariadbDb: uniqueDbName(prefix), ...opts });
  const mongo = await connectMongo(stack.mongo.url, dbName);
  const browser = await launchBrowser();
  return {
    stack,
    browser,
    mongo,
    fixture: (name) => new URL(`/fixtures/${name}.html`, stack.demoUrl).toString(),
    async stop() {
      await browser.close();
      await mongo.db.dropDatabase();
      await mongo.close();
      await stack.stop();
    },
  };
}

export interface Post {
  request: Request;
  events: TrackerEvent[];
  /** The edge's status; undefined while in flight, 0 when the request failed (network error, aborted). */
  status?: number;
}

/** Records every batch a context posts to the edge. */
export class EdgeLog {
  readonly posts: Post[] = [];

  constructor(context: BrowserContext) {
    context.on("request", (request) => {
      if (request.method() !== "POST" || !request.url().endsWith("/v1/events")) return;
      this.posts.push({ request, events: JSON.parse(request.postData() ?? "{}").events ?? [] });
    });
    context.on("requestfinished", async (request) => {
      const post = this.find(request);
      if (post) post.status = (await request.response())?.status() ?? 0;
    });
    context.on("requestfailed", (request) => {
      const post = this.find(request);
      if (post) post.status = 0;
    });
  }

  /** The user agent the context's requests carry. */
  async userAgent(): Promise<string | undefined> {
    return this.posts[0]?.request.headerValue("user-agent").then((v) => v ?? undefined);
  }

  private find(request: Request): Post | undefined {
    return this.posts.find((p) => p.request === request);
  }

  /** Every event the edge accepted (202). */
  accepted(): TrackerEvent[] {
    return this.posts.filter((p) => p.status === 202).flatMap((p) => p.events);
  }

  /** Every event posted, whatever the answer. */
  posted(): TrackerEvent[] {
    return this.posts.flatMap((p) => p.events);
  }

  /** The first accepted event matching `match`, waiting for it. */
  waitFor(match: (e: TrackerEvent) => boolean, what: string, timeoutMs = 15_000): Promise<TrackerEvent> {
    return eventually(async () => this.accepted().find(match), timeoutMs, what);
  }

  /**
   * The first posted event matching `match`, whatever the answer: a keepalive request that outlives its page is
   * reported as aborted by the browser although the edge got it (check MongoDB for those).
   */
  waitForPosted(match: (e: TrackerEvent) => boolean, what: string, timeoutMs = 15_000): Promise<TrackerEvent> {
    return eventually(async () => this.posted().find(match), timeoutMs, what);
  }
}

export const ofType = (events: TrackerEvent[], type: TrackerEvent["type"]): TrackerEvent[] => events.filter((e) => e.type === type);

/** Asks the SDK to send what it holds now (rather than within its 5 s batch window). */
export const flushSdk = (page: Page): Promise<void> =>
  page.evaluate(() => (window as unknown as { LeadTracker: (m: string) => void }).LeadTracker("flush"));

/** Waits until the SDK has started on the page (it replaces the loader's stub). */
export const sdkReady = (page: Page): Promise<unknown> =>
  page.waitForFunction(() => Boolean((window as unknown as { LeadTracker?: { l?: number } }).LeadTracker?.l));

/** The stored document of an event, once the queue and the backend have put it into MongoDB. */
export function storedEvent(e2e: E2e, eventId: string, timeoutMs = 20_000): Promise<Record<string, unknown>> {
  return eventually(async () => (await e2e.mongo.db.collection("events").findOne({ eventId })) ?? undefined, timeoutMs, `event ${eventId} in MongoDB`);
}

/**
 * An event the page posted, followed into MongoDB. Chromium reports a keepalive fetch that outlives its page (the
 * lead sent as a form submit navigates) as `net::ERR_ABORTED` although the edge received it, and whether the page's
 * script still saw the 202 before it died is a race; a fetch made in `pagehide` is not reported at all. So delivery
 * is proven on the far side: the stored document, which only the edge's queue writes, carrying the edge's reading
 * of this browser's request (`sentBy`).
 */
export async function delivered(
  e2e: E2e,
  log: EdgeLog,
  match: (e: TrackerEvent) => boolean,
  what: string,
): Promise<{ event: TrackerEvent; doc: Record<string, unknown> }> {
  const event = await log.waitForPosted(match, what);
  const doc = await storedEvent(e2e, event.id);
  await sentBy(log, doc, what);
  return { event, doc };
}

/** The first stored event matching `filter`, waiting for it. */
export function storedWhere(e2e: E2e, filter: Record<string, unknown>, what: string, timeoutMs = 20_000): Promise<Record<string, unknown>> {
  return eventually(async () => (await e2e.mongo.db.collection("events").findOne(filter)) ?? undefined, timeoutMs, `${what} in MongoDB`);
}

/** Throws unless `doc` was enriched by the edge from a request of the browser context `log` records. */
export async function sentBy(log: EdgeLog, doc: Record<string, unknown>, what: string): Promise<void> {
  const ua = await log.userAgent();
  if (!ua || doc.ua !== ua || typeof doc.receivedAt !== "object") {
    throw new Error(`${what} was stored without the edge's view of this browser: ${JSON.stringify({ ua: doc.ua, expected: ua })}`);
  }
}
