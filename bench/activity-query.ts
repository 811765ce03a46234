/**
 * Team activity queries at scale: 500 CRM users (50 agency users, 45 users in each of 10 locations in 7 time zones)
 * with 90 days of activity (sessions of a few CRM pages on weekdays mostly, from scripts/lib/demo-activity.ts, the
 * demo's generator), seeded into the rollups through the drain's own writer (`seedActivityRollups`: user-day
 * documents, then the team documents) on the in-memory embedded server; users and locations in MariaDB, since the
 * answers name them. Then the questions the dashboard's Team activity asks (TeamActivity.tsx, ActivityParts.tsx,
 * ActivityUser.tsx) are timed through `runActivityQuery` / `userActivity` as the API calls them: p50 and p95 per
 * question over ≥ 50 runs each after a warm-up, the runs interleaved.
 */
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import type { Db } from "mongodb";
import type { ActivityQueueMessage } from "#contracts";
import { activityQuerySchema, runActivityQuery, type ActivityReadDeps } from "../backend-consumer/src/activity/query.ts";
import { seedActivityRollups } from "../backend-consumer/src/activity/store.ts";
import { userActivity } from "../backend-consumer/src/activity/user-page.ts";
import type { Principal } from "../backend-consumer/src/api/scope.ts";
import { connectMariadb, migrateMariadb, type Mariadb } from "../backend-consumer/src/config/db.ts";
import { locations, tenants, userLocations, users } from "../backend-consumer/src/config/schema.ts";
import { COLLECTIONS, connectMongo, ensureIndexes } from "../backend-consumer/src/store/mongo.ts";
import { demoActivity, type DemoActor } from "../scripts/lib/demo-activity.ts";
import { createDatabase, ensureMariadb } from "../scripts/lib/mariadb.ts";
import { ensureMongo } from "../scripts/lib/mongo.ts";
import { DATA_DIR } from "../scripts/lib/paths.ts";
import { prng } from "../scripts/testing/prng.ts";
import { uniqueDbName } from "../scripts/testing/mongo.ts";
import { percentile } from "./stats.ts";

const DAY = 86_400_000;
const DAYS = Number(process.env.BENCH_ACTIVITY_DAYS ?? 90);
const AGENCY_USERS = 50;
const USERS_PER_LOCATION = 45;
const ZONES = ["America/New_York", "America/Chicago", "America/Los_Angeles", "Europe/London", "Europe/Berlin", "Australia/Sydney", "UTC"];
/** Users per seeding call: each call's user-day documents stay within the store's `_id: { $in }` chunk. */
const SEED_CHUNK = 100;
/** The p95 budget of the issue for the team view's queries. */
export const QUERY_P95_BUDGET_MS = 100;

export interface QueryPorts {
  mongo: number;
  mariadb: number;
}

interface Team {
  tenantId: string;
  locations: { id: string; crmId: string; tz: string }[];
  users: { id: string; role: "agency" | "location"; email: string; locationId: string }[];
  actors: { userId: string; actors: DemoActor[] }[];
}

function makeTeam(): Team {
  const rand = prng(500);
  const tenantId = randomUUID();
  const locs = Array.from({ length: 10 }, (_, i) => ({ id: randomUUID(), crmId: `benchLoc${String(i).padStart(2, "0")}xxxxxxxxxx`, tz: ZONES[i % ZONES.length]! }));
  const team: Team = { tenantId, locations: locs, users: [], actors: [] };
  const actor = (userId: string, role: "agency" | "location", loc: (typeof locs)[number] | undefined, sessionsPerDay: number): DemoActor => ({
    actor: { userId, tenantId, locationId: loc?.id ?? null, role, timezone: loc?.tz ?? "UTC", retentionDays: 400 },
    crmLocationId: loc?.crmId,
    sessionsPerDay,
  });
  for (let i = 0; i < AGENCY_USERS; i++) {
    const id = randomUUID();
    const loc = locs[i % locs.length]!;
    team.users.push({ id, role: "agency", email: `agency${i}@bench.test`, locationId: loc.id });
    // agency staff work at the agency level and inside the locations they look after
    team.actors.push({ userId: id, actors: [actor(id, "agency", undefined, 0.5 + rand()), actor(id, "agency", loc, 1 + rand() * 2)] });
  }
  for (const loc of locs) {
    for (let i = 0; i < USERS_PER_LOCATION; i++) {
      const id = randomUUID();
      team.users.push({ id, role: "location", email: `user${i}@${loc.crmId.toLowerCase()}.bench.test`, locationId: loc.id });
      team.actors.push({ userId: id, actors: [actor(id, "location", loc, 1 + rand() * 4)] });
    }
  }
  return team;
}

async function seedMariadb(db: Mariadb, team: Team): Promise<void> {
  await db.db.insert(tenants).values({ id: team.tenantId, name: "Bench agency" });
  await db.db.insert(locations).values(team.locations.map((l, i) => ({ id: l.id, tenantId: team.tenantId, name: `Location ${i}`, externalId: l.crmId, timezone: l.tz })));
  await db.db.insert(users).values(team.users.map((u, i) => ({ id: u.id, tenantId: team.tenantId, email: u.email, role: u.role, name: `Bench User ${i}` })));
  await db.db.insert(userLocations).values(team.users.map((u) => ({ userId: u.id, locationId: u.locationId })));
}

/** 90 days before today (UTC), a day at a time, in calls of SEED_CHUNK users; returns counts and the last day. */
async function seedActivity(db: Db, team: Team): Promise<{ messages: number; events: number; ms: number; from: string; to: string }> {
  const today = Math.floor(Date.now() / DAY) * DAY;
  let messages = 0;
  let events = 0;
  const t0 = performance.now();
  for (let d = DAYS; d >= 1; d--) {
    const dayStart = today - d * DAY;
    for (let c = 0; c < team.actors.length; c += SEED_CHUNK) {
      const actors = team.actors.slice(c, c + SEED_CHUNK).flatMap((u) => u.actors);
      const day: ActivityQueueMessage[] = demoActivity(actors, { days: 0, now: dayStart + DAY - 1, seed: d * 1000 + c });
      await seedActivityRollups(db, day.map((message, i) => ({ id: `bench-${d}-${c}-${i}`, message })));
      messages += day.length;
      events += day.reduce((n, m) => n + m.events.length, 0);
    }
    if (d % 15 === 0) console.log(`  seeded ${DAYS - d + 1} of ${DAYS} days (${events} events, ${Math.round((performance.now() - t0) / 1000)} s)`);
  }
  const iso = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  return { messages, events, ms: performance.now() - t0, from: iso(today - DAYS * DAY), to: iso(today - DAY) };
}

interface Shape {
  name: string;
  /** Part of the dashboard's Team activity (else: an API question the dashboard does not ask). */
  dashboard: boolean;
  run(): Promise<unknown>;
}

function shapes(deps: ActivityReadDeps, team: Team, last: string): Shape[] {
  const back = (days: number) => new Date(Date.parse(`${last}T00:00:00Z`) - days * DAY).toISOString().slice(0, 10);
  const d30: [string, string] = [back(29), last];
  const d90: [string, string] = [back(89), last];
  const agencyUser = team.users[0]!;
  const someone = team.users[AGENCY_USERS + 7]!;
  const agency: Principal = { userId: agencyUser.id, tenantId: team.tenantId, role: "agency", email: agencyUser.email, locationIds: team.locations.map((l) => l.id), siteIds: [] };
  const narrowed: Principal = { ...agency, locationIds: [team.locations[0]!.id], sessionLocationId: team.locations[0]!.id };
  const self: Principal = { userId: someone.id, tenantId: team.tenantId, role: "location", email: someone.email, locationIds: [someone.locationId], siteIds: [] };
  const query = (name: string, p: Principal, body: Record<string, unknown>, dashboard = true): Shape => {
    const q = activityQuerySchema.parse({ timezone: "UTC", ...body });
    return { name, dashboard, run: () => runActivityQuery(deps, p, q) };
  };
  const rows = ["last_seen", "active_days", "sessions", "page_views", "time_spent"];
  return [
    query("headline figures, 30 d", agency, { metrics: ["active_users", "sessions", "page_views", "time_spent"], date_range: d30 }),
    query("active users + time spent by day, 30 d", agency, { metrics: ["active_users", "time_spent"], dimensions: ["time:day"], date_range: d30, pagination: { limit: 1000 } }),
    query("users table, 30 d (200 rows, all metrics)", agency, { metrics: rows, dimensions: ["activity:user"], date_range: d30, order_by: [["time_spent", "desc"]], pagination: { limit: 200 } }),
    query("users × locations, 30 d", agency, { metrics: ["time_spent"], dimensions: ["activity:user", "activity:location"], date_range: d30, order_by: [["time_spent", "desc"]], pagination: { limit: 1000 } }),
    query("active users + time spent by day, 90 d", agency, { metrics: ["active_users", "time_spent"], dimensions: ["time:day"], date_range: d90, pagination: { limit: 1000 } }),
    query("active users + time spent by week, 90 d", agency, { metrics: ["active_users", "time_spent"], dimensions: ["time:week"], date_range: d90, pagination: { limit: 1000 } }),
    query("users table narrowed to one location, 30 d", narrowed, { metrics: rows, dimensions: ["activity:user"], date_range: d30, order_by: [["time_spent", "desc"]], pagination: { limit: 200 } }),
    { name: "one user's page (totals, top pages, sessions), 30 d", dashboard: true, run: () => userActivity(deps, agency, someone.id, { from: d30[0], to: d30[1] }) },
    query("one user's page views + time by day, 30 d", agency, { metrics: ["page_views", "time_spent"], dimensions: ["time:day"], date_range: d30, filters: [["is", "activity:user", [someone.id]]], pagination: { limit: 1000 } }),
    { name: "a location user's own page, 30 d", dashboard: true, run: () => userActivity(deps, self, someone.id, { from: d30[0], to: d30[1] }) },
    query("team's pages, 30 d (per-page documents)", agency, { metrics: ["page_views", "time_spent", "active_users"], dimensions: ["activity:page"], date_range: d30 }, false),
  ];
}

/** Every shape once (warm-up), then `runs` rounds of all shapes; each shape's times sorted. */
async function timeShapes(list: Shape[], runs: number): Promise<number[][]> {
  for (const s of list) await s.run();
  const times = list.map(() => [] as number[]);
  for (let r = 0; r < runs; r++) {
    for (const [i, s] of list.entries()) {
      const t = performance.now();
      await s.run();
      times[i]!.push(performance.now() - t);
    }
  }
  return times.map((t) => t.sort((a, b) => a - b));
}

export async function teamQueries(ports: QueryPorts, runs = 50): Promise<string[]> {
  const mongoServer = await ensureMongo({ port: ports.mongo, dataDir: join(DATA_DIR, "bench", "mongo-activity"), memory: true });
  const mariaServer = await ensureMariadb({ port: ports.mariadb, dataDir: join(DATA_DIR, "bench-activity", "mariadb") });
  const dbName = uniqueDbName("bench_activity");
  const mongo = await connectMongo(mongoServer.url, dbName);
  const mariaUrl = await createDatabase(mariaServer.url, dbName);
  await migrateMariadb(mariaUrl);
  const maria = connectMariadb(mariaUrl, { connectionLimit: 4 });
  try {
    await ensureIndexes(mongo.db);
    const team = makeTeam();
    await seedMariadb(maria, team);
    console.log(`  seeding ${team.users.length} users × ${DAYS} days of activity…`);
    const seeded = await seedActivity(mongo.db, team);
    const count = (c: string) => mongo.db.collection(c).estimatedDocumentCount();
    const [userDays, teamDays] = [await count(COLLECTIONS.activityDays), await count(COLLECTIONS.activityTeam)];
    const list = shapes({ db: mongo.db, configDb: maria.db }, team, seeded.to);
    const times = await timeShapes(list, runs);
    const fmt = (x: number) => x.toFixed(1);
    const dashboard = times.filter((_, i) => list[i]!.dashboard).flat().sort((a, b) => a - b);
    const over = list.filter((s, i) => s.dashboard && percentile(times[i]!, 95) > QUERY_P95_BUDGET_MS).map((s) => s.name);
    return [
      `${team.users.length} users (${AGENCY_USERS} agency, ${USERS_PER_LOCATION} in each of ${team.locations.length} locations, ${ZONES.length} time zones) × ${DAYS} days (${seeded.from} – ${seeded.to}): ` +
        `${seeded.events} events in ${seeded.messages} messages (one per session) → ${userDays} user-day and ${teamDays} team-day documents, seeded through seedActivityRollups in ${(seeded.ms / 1000).toFixed(0)} s (${Math.round(seeded.events / (seeded.ms / 1000))} events/s)`,
      `${runs} runs of each question after a warm-up, interleaved; p50 / p95 / max in ms:`,
      ...list.map((s, i) => `  ${s.name}${s.dashboard ? "" : " [API only, not on the dashboard]"}: ${fmt(percentile(times[i]!, 50))} / ${fmt(percentile(times[i]!, 95))} / ${fmt(times[i]!.at(-1)!)}`),
      `the dashboard's questions together (${dashboard.length} runs): p50 ${fmt(percentile(dashboard, 50))} ms, p95 ${fmt(percentile(dashboard, 95))} ms (goal p95 ≤ ${QUERY_P95_BUDGET_MS} ms per question): ` +
        (over.length ? `MISSED by ${over.join("; ")}` : "met by every question"),
    ];
  } finally {
    await mongo.db.dropDatabase().catch(() => {});
    await mongo.close();
    await maria.pool.query(`DROP DATABASE IF EXISTS \`${dbName}\``).catch(() => {});
    await maria.close();
    await mongoServer.stop();
    await mariaServer.stop();
  }
}
