import { describe, expect, it } from "vitest";
import { DEFAULT_PAGE_NAMES, normalisePath, pageName, routeKey } from "./activity-path.ts";

const LOC = "ve9EPM428h8vShlRW1KT";

describe("normalisePath", () => {
  it.each([
    // [case, pathname, hash, normalised]
    ["contact detail", `/v2/location/${LOC}/contacts/detail/Hj2kL9mN0pQ4rS6tU8vW`, "", "/v2/location/:locationId/contacts/detail/:id"],
    ["contacts list", `/v2/location/${LOC}/contacts/smart_list/All`, "", "/v2/location/:locationId/contacts/smart_list/All"],
    ["conversation", `/v2/location/${LOC}/conversations/conversations/Kq0Zt7yXw3VbN5mLp2Rs`, "", "/v2/location/:locationId/conversations/conversations/:id"],
    ["opportunities list", `/v2/location/${LOC}/opportunities/list`, "", "/v2/location/:locationId/opportunities/list"],
    ["settings sub-page", `/v2/location/${LOC}/settings/integrations/`, "", "/v2/location/:locationId/settings/integrations"],
    ["old location route", `/location/${LOC}/dashboard`, "", "/location/:locationId/dashboard"],
    ["workflow by uuid", `/v2/location/${LOC}/automation/workflows/3f1c9a52-7b2e-4d8a-9c61-0e5f2b7a4d13`, "", "/v2/location/:locationId/automation/workflows/:id"],
    ["mongo object id", `/v2/location/${LOC}/payments/invoices/65a1f0c2e4b0a1b2c3d4e5f6`, "", "/v2/location/:locationId/payments/invoices/:id"],
    ["short mixed id", `/v2/location/${LOC}/funnels-websites/funnels/ab12cd34/steps`, "", "/v2/location/:locationId/funnels-websites/funnels/:id/steps"],
    ["numeric id", `/v2/location/${LOC}/reporting/reports/1234`, "", "/v2/location/:locationId/reporting/reports/:id"],
    ["agency page", "/agency_dashboard/", "", "/agency_dashboard"],
    ["agency settings", "/settings/company", "", "/settings/company"],
    ["root", "/", "", "/"],
    ["empty", "", "", "/"],
    ["email in a segment (encoded)", `/v2/location/${LOC}/contacts/search/jane.doe%40example.com`, "", "/v2/location/:locationId/contacts/search/:id"],
    ["email in a segment (raw)", "/contacts/jane.doe@example.com/notes", "", "/contacts/:id/notes"],
    ["phone with separators", "/contacts/+1-555-123-4567", "", "/contacts/:id"],
    ["phone encoded with spaces", "/contacts/%2B1%20(555)%20123-4567", "", "/contacts/:id"],
    ["phone, digits only", "/contacts/5551234567", "", "/contacts/:id"],
    ["a name as free text", "/contacts/search/Jane%20Doe", "", "/contacts/search/:id"],
    ["broken percent-encoding", "/contacts/%E0%A4%A", "", "/contacts/:id"],
    ["query string with an email dropped", "/contacts?email=jane.doe@example.com&phone=5551234567", "", "/contacts"],
    ["hash route", "/", "#/location/abc123def456ghi789jk/contacts?email=jane@example.com", "/location/:locationId/contacts"],
    ["hashbang route", "/app", "#!/settings/profile", "/settings/profile"],
    ["a plain fragment is not a route", "/v2/location/x1/settings", "#top", "/v2/location/:locationId/settings"],
  ])("%s", (_case, pathname, hash, expected) => {
    expect(normalisePath(pathname, hash)).toBe(expected);
  });

  it.each(["settings", "opportunities", "conversations", "v2", "smart_list", "custom-page-link", "funnels-websites", "agency_dashboard", "integrations", "emails", "internationalization"])(
    "keeps the route word %s",
    (word) => {
      expect(normalisePath(`/${word}`)).toBe(`/${word}`);
    },
  );

  it("never lets an email or a phone number through, whatever the shape", () => {
    const leaks = [
      "/x/jane.doe%40example.com/y",
      "/x/JANE%2EDOE%40EXAMPLE%2ECOM",
      "/x/%2B15551234567",
      "/x/555.123.4567",
      "/x/(555)123-4567",
      "/x/mailto:jane@example.com",
    ];
    for (const path of leaks) {
      const out = normalisePath(path);
      expect(out).not.toMatch(/@|%40|555|jane/i);
    }
  });

  it("cuts to 512 characters", () => {
    const out = normalisePath("/" + Array.from({ length: 200 }, () => "segment").join("/"));
    expect(out).toHaveLength(512);
    expect(out.startsWith("/segment/")).toBe(true);
  });
});

describe("pageName", () => {
  it.each([
    [`/v2/location/:locationId/contacts/detail/:id`, "Contacts"],
    [`/v2/location/:locationId/conversations/conversations/:id`, "Conversations"],
    [`/v2/location/:locationId/opportunities/list`, "Opportunities"],
    [`/v2/location/:locationId/settings/integrations`, "Settings"],
    [`/v2/location/:locationId/automation/workflows/:id`, "Automation"],
    [`/v2/location/:locationId/workflows`, "Automation"],
    [`/v2/location/:locationId/funnels-websites/funnels`, "Sites"],
    [`/v2/location/:locationId/custom-page-link/:id`, "Custom pages"],
    [`/location/:locationId/dashboard`, "Dashboard"],
    [`/agency_dashboard`, "Agency dashboard"],
    [`/v2/agency_dashboard`, "Agency dashboard"],
    [`/settings/company`, "Settings"],
  ])("%s → %s", (path, name) => {
    expect(pageName(path)).toBe(name);
  });

  it("falls back to the normalised path, cut to 64 characters", () => {
    expect(pageName("/v2/location/:locationId/unknown-area/x")).toBe("/v2/location/:locationId/unknown-area/x");
    expect(pageName("/" + "a".repeat(100))).toHaveLength(64);
  });

  it("matches whole segments only: contactsx is not contacts", () => {
    expect(pageName("/v2/location/:locationId/contactsx")).toBe("/v2/location/:locationId/contactsx");
  });

  it("takes a configured map over the defaults, the longest matching key first", () => {
    const names = { "settings/integrations": "Integrations", contacts: "People", "custom-page-link/:id": "Our app" };
    expect(pageName("/v2/location/:locationId/settings/integrations/x", names)).toBe("Integrations");
    expect(pageName("/v2/location/:locationId/settings/profile", names)).toBe("Settings");
    expect(pageName("/v2/location/:locationId/contacts", names)).toBe("People");
    expect(pageName("/v2/location/:locationId/custom-page-link/:id", names)).toBe("Our app");
  });

  it("lets an empty name in a configured map switch a default off (the path names the page)", () => {
    expect(pageName("/v2/location/:locationId/contacts", { contacts: "" })).toBe("/v2/location/:locationId/contacts");
  });

  it("keys the defaults by route key", () => {
    expect(routeKey("/v2/location/:locationId/contacts/detail/:id")).toBe("contacts/detail/:id");
    expect(routeKey("/v2/location/:locationId")).toBe("");
    expect(routeKey("/agency_dashboard")).toBe("agency_dashboard");
    expect(Object.values(DEFAULT_PAGE_NAMES).every((n) => n.length > 0 && n.length <= 64)).toBe(true);
  });
});
