/** Form names for ids (the stats API and leads name forms by id): each site's forms, fetched once per session. */
import { api, pool } from "./api.ts";
import { useLoad } from "./hooks.ts";
import type { Form, Site } from "./types.ts";

const cache = new Map<string, Promise<Form[]>>();

/** Forgets the forms fetched so far (at sign-out: the next user sees other sites). */
export const forgetForms = (): void => cache.clear();

function formsOf(siteId: string): Promise<Form[]> {
  let hit = cache.get(siteId);
  if (!hit) {
    hit = api<{ items: Form[] }>(`/v1/sites/${encodeURIComponent(siteId)}/forms`).then((r) => r.items);
    hit.catch(() => cache.delete(siteId));
    cache.set(siteId, hit);
  }
  return hit;
}

/** Forms of `sites` by id (empty while loading; a site whose forms fail to load is left out). */
export function useForms(sites: Site[]): { forms: Map<string, Form>; loading: boolean } {
  const key = JSON.stringify(["forms", sites.map((s) => s.id)]);
  const res = useLoad(key, async () => {
    const settled = await pool(sites.map((s) => () => formsOf(s.id)), 4);
    const out = new Map<string, Form>();
    for (const s of settled) if (s.status === "fulfilled") for (const f of s.value) out.set(f.id, f);
    return out;
  });
  return { forms: res.data ?? new Map(), loading: res.loading };
}
