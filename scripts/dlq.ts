/**
 * `npm run dlq -- <command>`: the dead-letter store for operators.
 *   list [--all]                     letters waiting (with --all, replayed ones too)
 *   show <id>                        one letter, its body pretty-printed when it is JSON
 *   replay <id> [--body <file>]      through the normal drain (exactly once); --body replays a repaired body
 *   replay --all                     every letter waiting, oldest first
 *   drop <id> | drop --all           delete
 * MongoDB: MONGODB_URI (default: the local server `npm start` runs) and MONGODB_DB (default `tracker`).
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { dropDeadLetters, getDeadLetter, listDeadLetters, replayAll, replayDeadLetter } from "../backend-consumer/src/drain/replay.ts";
import { connectMongo } from "../backend-consumer/src/store/mongo.ts";
import { PORTS } from "./services.ts";

const USAGE = "usage: npm run dlq -- list [--all] | show <id> | replay <id> [--body <file>] | replay --all | drop <id> | drop --all";

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { all: { type: "boolean", default: false }, body: { type: "string" } },
});
const [command, id] = positionals;
if (!command || !["list", "show", "replay", "drop"].includes(command) || (command !== "list" && !id && !values.all)) {
  console.error(USAGE);
  process.exit(2);
}

const uri = process.env.MONGODB_URI ?? `mongodb://127.0.0.1:${PORTS.mongo}/`;
const mongo = await connectMongo(uri, process.env.MONGODB_DB ?? "tracker", { serverSelectionTimeoutMS: 5000 });
let code = 0;
try {
  if (command === "list") {
    const list = await listDeadLetters(mongo.db, { includeReplayed: values.all });
    for (const l of list) {
      const state = l.replayedAt ? `replayed ${l.replayedAt.toISOString()}` : l.lastReplayError ? `replay failed: ${l.lastReplayError}` : "waiting";
      console.log(`${l._id}  ${l.deadAt.toISOString()}  ${l.queue}  ${l.reason}  attempts=${l.attempts}  ${state}\n    ${l.error.slice(0, 200)}`);
    }
    console.log(`${list.length} dead letter(s)`);
  } else if (command === "show") {
    const letter = await getDeadLetter(mongo.db, id!);
    if (!letter) {
      console.error(`no dead letter ${id}`);
      code = 1;
    } else {
      let body: unknown = letter.body;
      if (letter.encoding === "text") {
        try {
          body = JSON.parse(letter.body);
        } catch {
          // not JSON: shown as the text it is
        }
      }
      console.log(JSON.stringify({ ...letter, body }, null, 2));
    }
  } else if (command === "replay") {
    const results = values.all && !id ? await replayAll(mongo.db) : [await replayDeadLetter(mongo.db, id!, { body: values.body ? readFileSync(values.body, "utf8") : undefined })];
    for (const r of results) console.log(`${r.id}: ${r.result}${"reason" in r ? ` (${r.reason})` : ""}`);
    if (results.some((r) => r.result !== "stored")) code = 1;
  } else {
    const n = await dropDeadLetters(mongo.db, values.all && !id ? { all: true } : { id: id! });
    console.log(`dropped ${n}`);
  }
} finally {
  await mongo.close();
}
process.exit(code);
