import { describe, expect, it } from "vitest";
import { Hono } from "hono";
import type { ConfigDb } from "../config/db.ts";
import { createAdminApi } from "./admin.ts";
import { ADMIN_OPERATIONS, buildOpenApiDocument, mountOpenApi } from "./openapi.ts";

describe("OpenAPI document", () => {
  it("documents exactly the routes the admin app serves", () => {
    // The app only keeps the db handle; building it touches no database.
    const crm = { box: {} as never, connectors: new Map(), directory: {} as never };
    const app = createAdminApi({ db: {} as ConfigDb, mongo: { collection: () => ({}) } as never, auth: { hs256Secret: "s".repeat(32) }, crm });
    const served = app.routes
      .filter((r) => r.method !== "ALL")
      .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`)
      .sort();
    const documented = ADMIN_OPERATIONS.map((op) => `${op.method.toUpperCase()} ${op.path}`).sort();
    expect(documented).toEqual(served);
  });

  it("is OpenAPI 3.1 with bearer JWT security and resolvable schema references", () => {
    const doc = buildOpenApiDocument({ serverUrl: "/v1" });
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.servers).toEqual([{ url: "/v1" }]);
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
    const components = doc.components as { securitySchemes: Record<string, unknown>; schemas: Record<string, unknown>; responses: Record<string, unknown> };
    expect(components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer", bearerFormat: "JWT" });
    const refs = [...JSON.stringify(doc.paths).matchAll(/"\$ref":"#\/components\/(schemas|responses)\/(\w+)"/g)];
    expect(refs.length).toBeGreaterThan(50);
    for (const [, kind, name] of refs) expect(components[kind as "schemas" | "responses"][name!], `${kind}/${name}`).toBeDefined();
  });

  it("derives bodies from the zod schemas: strict, with defaults and patterns", () => {
    const schemas = (buildOpenApiDocument().components as { schemas: Record<string, Record<string, unknown>> }).schemas;
    expect(schemas.SiteCreate).toMatchObject({
      type: "object",
      additionalProperties: false,
      required: ["name", "domain"],
      properties: { siteKey: { pattern: "^[A-Za-z0-9_-]{3,64}$" }, active: { default: true } },
    });
    expect(schemas.SitePatch?.required).toBeUndefined();
    expect(schemas.Site).toMatchObject({ properties: { createdAt: { format: "date-time" } } });
  });

  it("serves the document and a self-contained docs page listing every operation", async () => {
    const app = mountOpenApi(new Hono());
    const json = await app.request("/openapi.json");
    expect(json.status).toBe(200);
    expect(((await json.json()) as { openapi: string }).openapi).toBe("3.1.0");
    const docs = await app.request("/docs");
    expect(docs.headers.get("content-type")).toMatch(/text\/html/);
    const html = await docs.text();
    expect(html).not.toMatch(/<script|<link|src=|href="https?:/);
    for (const op of ADMIN_OPERATIONS) expect(html).toContain(`<span class="m ${op.method}">${op.method.toUpperCase()}</span> <code>/v1${op.path}</code>`);
  });
});
