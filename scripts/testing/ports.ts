/**
 * Ports and data dir used by the tests, apart from `npm start`'s so both can run at once. `TEST_PORT_OFFSET`
 * shifts every port and the data dir, so two test runs can share a machine.
 */
import { join } from "node:path";
import { DATA_DIR } from "../lib/paths.ts";
import type { StackPorts } from "../lib/stack.ts";

const OFFSET = Number(process.env.TEST_PORT_OFFSET ?? 0);

export const TEST_DATA_DIR = join(DATA_DIR, OFFSET ? `test-${OFFSET}` : "test");

export const TEST_PORTS: StackPorts = {
  worker: 18787 + OFFSET,
  demo: 18788 + OFFSET,
  backend: 18790 + OFFSET,
  mariadb: 13307 + OFFSET,
  mongo: 27028 + OFFSET,
};

/** A spare port for tests that start a server of their own (e.g. a second MongoDB), shifted like the rest. */
export const testPort = (n: number): number => 28000 + OFFSET + n;
