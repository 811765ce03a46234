/** Ports and data dir used by the tests, apart from `npm start`'s so both can run at once. */
import { join } from "node:path";
import { DATA_DIR } from "../lib/paths.ts";
import type { StackPorts } from "../lib/stack.ts";

export const TEST_DATA_DIR = join(DATA_DIR, "test");

export const TEST_PORTS: StackPorts = {
  worker: 18787,
  demo: 18788,
  backend: 18790,
  mariadb: 13307,
  mongo: 27028,
};
