/**
 * The backend process: connects to MongoDB, creates indexes, and serves the HTTP API (which includes the local
 * queue push path). Configuration comes from the environment; see README "Environment".
 */
import { serve } from "@hono/node-server";
import { createApi } from "./api/app.ts";
import { connectMongo, ensureIndexes } from "./store/mongo.ts";

function log(msg: string, fields: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ t: new Date().toISOString(), msg, ...fields }));
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

export async function startBackend(env: NodeJS.ProcessEnv = process.env) {
  const mongo = await connectMongo(required("MONGODB_URI"), env.MONGODB_DB);
  await ensureIndexes(mongo.db);
  const app = createApi({ db: mongo.db, internalToken: required("INTERNAL_TOKEN"), log });
  const port = Number(env.BACKEND_PORT ?? 8790);
  const server = serve({ fetch: app.fetch, port, hostname: "127.0.0.1" });
  log("backend listening", { port });
  return {
    port,
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await mongo.close();
    },
  };
}

if (process.argv[1] === import.meta.filename) {
  const backend = await startBackend();
  const shutdown = async (): Promise<void> => {
    await backend.stop();
    process.exit(0);
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
}
