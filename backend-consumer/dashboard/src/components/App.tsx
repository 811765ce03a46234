/** The root: signs in, loads who the user is, keeps the page's state in the URL and shows the chosen view. */
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api } from "../api.ts";
import { auth, type AuthState } from "../auth.ts";
import { derivePage, normalise, PageContext } from "../context.ts";
import { forgetForms } from "../forms.ts";
import { answeredRange, clearErrors, useLoad } from "../hooks.ts";
import { applyPatch, parseState, serializeState, type UrlState } from "../state.ts";
import type { Me } from "../types.ts";
import { ActivityUser } from "./ActivityUser.tsx";
import { Forms } from "./Forms.tsx";
import { activityTitle, Header } from "./Header.tsx";
import { Install } from "./Install.tsx";
import { LeadPage } from "./LeadPage.tsx";
import { Leads } from "./Leads.tsx";
import { Overview } from "./Overview.tsx";
import { SignIn } from "./SignIn.tsx";
import { TeamActivity } from "./TeamActivity.tsx";
import { Announcer, ErrorBanner, Loading } from "./ui.tsx";

function useAuth(): AuthState {
  const [state, setState] = useState(auth.state);
  useEffect(
    () =>
      auth.subscribe((next) => {
        // nothing of one session is shown in the next
        if (next.status === "signed-out") {
          clearErrors();
          forgetForms();
          answeredRange.set(null);
        }
        setState(next);
      }),
    [],
  );
  return state;
}

export function App() {
  const state = useAuth();
  useEffect(() => {
    void auth.start();
  }, []);
  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      {state.status === "checking" ? (
        <div class="center-screen" role="status">
          <span class="spinner" aria-hidden="true" />
          <p class="muted">{state.message}</p>
        </div>
      ) : state.status === "signed-out" ? (
        <SignIn note={state.note} error={state.error} embedded={auth.embedded} />
      ) : (
        <Dashboard canSignOut={state.source === "token"} />
      )}
      <Announcer />
    </>
  );
}

function Dashboard(props: { canSignOut: boolean }) {
  const me = useLoad<Me>("me", (signal) => api<Me>("/v1/me", { signal }));
  const [url, setUrl] = useState<UrlState>(() => parseState(location.search));

  useEffect(() => {
    const onPop = (): void => setUrl(parseState(location.search));
    window.addEventListener("popstate", onPop);
    return () => window.removeEventListener("popstate", onPop);
  }, []);

  const urlRef = useRef(url);
  urlRef.current = url;
  const href = useCallback((patch: Partial<UrlState>) => `${location.pathname}${serializeState(applyPatch(url, patch))}`, [url]);
  const navigate = useCallback((patch: Partial<UrlState>, opts: { replace?: boolean } = {}) => {
    const next = applyPatch(urlRef.current, patch);
    const target = `${location.pathname}${serializeState(next)}`;
    if (target !== `${location.pathname}${location.search}`) {
      if (opts.replace) history.replaceState(null, "", target);
      else history.pushState(null, "", target);
    }
    urlRef.current = next;
    setUrl(next);
    if (!opts.replace) clearErrors();
  }, []);

  // the URL may name a location or site the user cannot see: drop it (without a history entry)
  const normalised = me.data ? normalise(url, me.data) : url;
  useEffect(() => {
    if (me.data && normalised !== url) navigate({ loc: normalised.loc, site: normalised.site }, { replace: true });
  }, [me.data, normalised, url, navigate]);

  const page = useMemo(() => (me.data ? derivePage(me.data, normalised, navigate, href) : null), [me.data, normalised, navigate, href]);

  // a new view starts at the top; a title says where the user is (history, tabs)
  const viewKey = url.view.name === "lead" || url.view.name === "activity-user" ? `${url.view.name}/${url.view.id}` : url.view.name;
  const role = me.data?.role;
  useEffect(() => {
    const activity = activityTitle(role ?? "agency");
    const titles: Record<string, string> = { overview: "Overview", leads: "Leads", forms: "Forms", install: "Install", lead: "Lead", activity, "activity-user": activity };
    document.title = `${titles[url.view.name] ?? "Dashboard"} · Lead Tracker`;
    window.scrollTo(0, 0);
  }, [viewKey, url.view.name, role]);

  if (!page) {
    return (
      <div class="shell">
        <header class="topbar">
          <div class="topbar-inner">
            <span class="brand">
              <span class="brand-mark" aria-hidden="true" />
              Lead Tracker
            </span>
          </div>
        </header>
        <ErrorBanner />
        <main id="main" class="content">
          {me.error ? (
            <div class="panel">
              <p>Could not load your account.</p>
              <button type="button" class="button" onClick={me.reload}>
                Try again
              </button>
            </div>
          ) : (
            <Loading label="Loading your account…" rows={4} />
          )}
        </main>
      </div>
    );
  }

  const view = page.state.view;
  return (
    <PageContext.Provider value={page}>
      <div class="shell">
        <Header canSignOut={props.canSignOut} />
        <main id="main" class="content" tabIndex={-1}>
          <ErrorBanner />
          {view.name === "lead" ? (
            <LeadPage key={view.id} id={view.id} />
          ) : view.name === "leads" ? (
            <Leads />
          ) : view.name === "forms" ? (
            <Forms />
          ) : view.name === "install" ? (
            <Install />
          ) : view.name === "activity-user" ? (
            <ActivityUser key={view.id} id={view.id} />
          ) : view.name === "activity" ? (
            // a location user's section is their own page: no colleagues to list
            page.me.role === "agency" ? <TeamActivity /> : <ActivityUser key={page.me.userId} id={page.me.userId} />
          ) : (
            <Overview />
          )}
        </main>
      </div>
    </PageContext.Provider>
  );
}
