/** Entry point of the edge Worker (see wrangler.toml). */
import { app } from "./app.ts";

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
