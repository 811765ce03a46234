/**
 * Leads. A capture-phase `submit` listener on the document sees every form, including those rendered after
 * load (delegation needs no MutationObserver), before the page's own handlers can stop the event. Forms count
 * when they match the site config (selector or alternative selectors, on a page matching `pageUrlPattern`) or,
 * if `heuristicForms` is on, when they contain an email field.
 *
 * A submit is a lead unless it fails `checkValidity()` or is cancelled. The page's handlers run after ours, so
 * the fields are read at once and the rest is decided after dispatch (in a zero-delay timer, or on `pagehide`
 * if the page goes first): not cancelled → stored and sent before the page navigates, and kept in storage until
 * the edge confirms it. Cancelled → a lead only if the page then sends it itself (an AJAX form): a fetch/XHR
 * starting within a second of the submit and answered without error.
 *
 * Partial leads: field values are remembered per form on every change (so a multi-step form whose earlier steps
 * left the DOM still submits every step's fields); once a value looks like an email, a `form_interaction`
 * debounced by a second reports the fields so far and the form's progress. A partial lead still waiting out its
 * second goes at once when the page goes (`pagehide`) or another form is submitted: the visitors who leave
 * quickly are the ones it exists for.
 */
import type { ConfigForm, TrackerEvent } from "#contracts";
import { config, edge, feature } from "./config.ts";
import { emit, makeEvent } from "./events.ts";
import { type Field, fieldsOf, fieldValue, IGNORE, isEmailField } from "./fields.ts";
import { add, flush } from "./queue.ts";
import { attempt, later, on, safe } from "./util.ts";

type FormData = NonNullable<TrackerEvent["form"]>;
interface Match {
  id: string;
  name?: string;
  config?: ConfigForm;
}


/** Field values seen so far, per form id. */
const memory: Record<string, Record<string, string>> = {};
const reported: Record<string, string> = {};
/** Partial leads waiting out their debounce, per form id (a timer whose report was replaced does nothing). */
const partials: Record<string, () => void> = {};
/** Submits not yet decided: [event, the submit event, performance.now() at submit]. */
let deciding: [TrackerEvent, Event, number][] = [];
/** Cancelled submits waiting for the page's own request: [event, performance.now() at submit]. */
let awaiting: [TrackerEvent, number][] = [];

/**
 * `*` matches any run of characters, against the whole string. One resume point, no backtracking: at most
 * pattern × text steps, whatever the pattern (a RegExp of `*a*a*a…b` backtracks exponentially).
 */
export function glob(p: string, s: string): boolean {
  let i = 0;
  let j = 0;
  let star = -1;
  let mark = 0;
  while (j < s.length) {
    if (p[i] == "*") {
      star = i++;
      mark = j;
    } else if (p[i] == s[j]) {
      i++;
      j++;
    } else if (star < 0) return false;
    else {
      i = star + 1;
      j = ++mark;
    }
  }
  while (p[i] == "*") i++;
  return i == p.length;
}

/** The pattern applies to the whole URL or the path; empty matches every page. */
const urlMatches = (pattern: string): boolean => !pattern || glob(pattern, location.href) || glob(pattern, location.pathname);

/** The form's id and name for events, or undefined when it is not tracked. */
export function matchForm(form: HTMLFormElement): Match | undefined {
  if (form.closest(IGNORE)) return;
  for (const f of config.forms || []) {
    if (urlMatches(f.pageUrlPattern) && [f.selector, ...f.alternativeSelectors].some((s) => attempt(() => form.closest(s)))) {
      return { id: f.id, name: f.name, config: f };
    }
  }
  const id = form.getAttribute("id") || form.getAttribute("name") || `form${[].indexOf.call(document.forms, form as never)}`;
  if (feature("heuristicForms") && (memory[id] || fieldsOf(form).some(isEmailField))) return { id };
}

/** The fields filled so far (values remembered, overlaid with the current ones) and the form's progress. */
export function readForm(form: HTMLFormElement, match: Match): FormData {
  const seen = (memory[match.id] = memory[match.id] || {});
  const current: Record<string, string> = {};
  const config = match.config && match.config.fields.length && match.config.fields;
  const put = (name: string, el: Field | null | undefined, sensitive?: boolean): void => {
    const value = el && fieldValue(el, sensitive);
    // A radio group is several fields of one name: the checked one wins.
    if (name && value != null) current[name] = current[name] || value;
  };
  if (config) for (const f of config) put(f.name, attempt(() => form.querySelector<Field>(f.selector)), f.sensitive);
  else for (const el of fieldsOf(form)) put(el.name || el.id, el);
  Object.assign(seen, current);
  const fields = Object.fromEntries(Object.entries(seen).filter((e) => e[1]));
  const completed = Object.keys(fields);
  const total = config ? config.filter((f) => !f.sensitive).length : Object.keys(seen).length;
  return { formId: match.id, name: match.name, fields, progress: { completed, total, percent: total && Math.round((completed.length * 100) / total) } };
}

function onSubmit(event: Event): void {
  const form = event.target as HTMLFormElement;
  const match = matchForm(form);
  if (!match || event.defaultPrevented || !form.checkValidity()) return;
  const lead = makeEvent("form_submission", { form: { ...readForm(form, match), trigger: "submit" } });
  if (!lead) return;
  deciding.push([lead, event, performance.now()]);
  // this form's own partial lead is superseded by the submission; every other form's goes now
  delete partials[match.id];
  delete memory[match.id];
  delete reported[match.id];
  later(decide);
  sendPartials();
}

function decide(): void {
  for (const [lead, event, at] of deciding) {
    if (event.defaultPrevented) awaiting.push([lead, at]);
    else add(lead);
  }
  deciding = [];
}

/** Confirms cancelled submits whose page then sent a request of its own that did not fail. */
export function confirmAjax(entries: PerformanceEntryList): void {
  awaiting = awaiting.filter(([lead, at]) => {
    const sent = entries.some((entry) => {
      const r = entry as PerformanceResourceTiming;
      return (
        /^(fe|x)/.test(r.initiatorType) &&
        r.startTime >= at &&
        r.startTime < at + 1e3 && // the page's own request starts within a second
        
        !!r.name.indexOf(edge) &&
        !(r.responseStatus >= 400)
      );
    });
    if (sent) {
      lead.form!.trigger = "ajax";
      add(lead);
    }
    return !sent;
  });
}

function onField(event: Event): void {
  const form = (event.target as Field).form;
  const match = form && matchForm(form);
  if (!match) return;
  const { fields } = readForm(form, match);
  if (!feature("partialLeads") || !/\S@\S+\.\S/.test(Object.values(fields).join(" "))) return;
  const report = (partials[match.id] = (): void => {
    delete partials[match.id];
    const data = readForm(form, match);
    const key = JSON.stringify(data.fields);
    if (key != reported[match.id]) emit("form_interaction", { form: { ...data, trigger: event.type } });
    reported[match.id] = key;
  });
  later(() => partials[match.id] == report && report(), 1e3);
}

/** Emits every partial lead still waiting out its debounce, at once. */
function sendPartials(): void {
  for (const id in partials) attempt(partials[id]!);
}

export function startForms(): void {
  on(document, "submit", onSubmit, true);
  on(document, "change", onField, true);
  on(document, "focusout", onField, true);
  try {
    new PerformanceObserver(safe((list: PerformanceObserverEntryList) => confirmAjax(list.getEntries()))).observe({ type: "resource" });
  } catch {
    // no PerformanceObserver: a cancelled submit is never a lead
  }
}

/** Before the page goes: pending partial leads and a last look for answered AJAX submits, then send what is ready. */
export function formsLeaving(): void {
  sendPartials();
  decide();
  confirmAjax(performance.getEntriesByType("resource"));
  flush();
}
