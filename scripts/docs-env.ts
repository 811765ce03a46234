/** `npm run docs:env`: writes the backend configuration table (from ops/config.ts) into the README. */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { configTable } from "../backend-consumer/src/ops/config.ts";
import { ROOT } from "./lib/paths.ts";

const file = join(ROOT, "README.md");
const readme = readFileSync(file, "utf8");
const markers = /(<!-- backend-config:start -->\n)[\s\S]*?\n?(<!-- backend-config:end -->)/;
if (!markers.test(readme)) throw new Error("README.md has no backend-config markers");
writeFileSync(file, readme.replace(markers, `$1${configTable()}\n$2`));
console.log("README.md: backend configuration table written");
