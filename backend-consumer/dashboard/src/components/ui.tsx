/** Shared pieces: panels, loading and empty states, the error banner, the screen-reader announcer, the interval switch. */
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { usePage } from "../context.ts";
import { dismissError, useErrors } from "../hooks.ts";
import type { Interval } from "../dates.ts";

export function Panel(props: { title: string; id?: string; actions?: ComponentChildren; children: ComponentChildren; busy?: boolean; class?: string; testid?: string }) {
  const headingId = `${props.id ?? props.title.toLowerCase().replace(/[^a-z0-9]+/g, "-")}-title`;
  return (
    <section class={`panel ${props.class ?? ""}`} aria-labelledby={headingId} aria-busy={props.busy ? "true" : "false"} data-testid={props.testid}>
      <header class="panel-head">
        <h2 id={headingId}>{props.title}</h2>
        {props.actions ? <div class="panel-actions">{props.actions}</div> : null}
      </header>
      {props.children}
    </section>
  );
}

export function Loading(props: { label?: string; rows?: number }) {
  return (
    <div class="loading" role="status">
      <span class="sr-only">{props.label ?? "Loading…"}</span>
      {props.rows === 0 ? <span class="spinner" aria-hidden="true" /> : null}
      {Array.from({ length: props.rows ?? 3 }, (_, i) => (
        <div key={i} class="skeleton" aria-hidden="true" />
      ))}
    </div>
  );
}

export function Empty(props: { title: string; children?: ComponentChildren; icon?: "chart" | "inbox" | "form" | "check" }) {
  return (
    <div class="empty">
      <EmptyIcon kind={props.icon ?? "chart"} />
      <p class="empty-title">{props.title}</p>
      {props.children ? <div class="empty-text">{props.children}</div> : null}
    </div>
  );
}

function EmptyIcon({ kind }: { kind: "chart" | "inbox" | "form" | "check" }) {
  const paths = {
    chart: "M4 19h16M7 15v-3m5 3V8m5 7v-5",
    inbox: "M4 13h4l2 3h4l2-3h4M5 13l2-7h10l2 7v5H5z",
    form: "M7 4h10v16H7zM10 8h4m-4 4h4m-4 4h2",
    check: "M5 12l4 4 10-10",
  } as const;
  return (
    <svg class="empty-icon" viewBox="0 0 24 24" width="28" height="28" aria-hidden="true" focusable="false">
      <path d={paths[kind]} fill="none" stroke="currentColor" stroke-width="1.6" stroke-linecap="round" stroke-linejoin="round" />
    </svg>
  );
}

/** A note where a panel cannot apply the page's filter (instead of numbers that would ignore it). */
/** A part of the page that failed to load: what failed, and a button that asks again. */
export function LoadFailed(props: { title: string; onRetry: () => void; icon?: "chart" | "inbox" | "form" | "check" }) {
  return (
    <Empty title={props.title} {...(props.icon ? { icon: props.icon } : {})}>
      <button type="button" class="link-button" onClick={props.onRetry}>
        Try again
      </button>
    </Empty>
  );
}

export function NotFilterable(props: { by: string; onClear: () => void }) {
  return (
    <p class="not-filterable" data-testid="not-filterable">
      <span>
        Not filterable by <strong>{props.by.toLowerCase()}</strong>.
      </span>{" "}
      <button type="button" class="link-button" onClick={props.onClear}>
        Remove the filter
      </button>
    </p>
  );
}

export function ErrorBanner() {
  const errors = useErrors();
  if (errors.length === 0) return null;
  return (
    <div class="error-banner" role="alert" data-testid="error-banner">
      <svg viewBox="0 0 20 20" width="18" height="18" aria-hidden="true" focusable="false">
        <path fill="currentColor" d="M10 2a8 8 0 1 0 0 16 8 8 0 0 0 0-16zm-.9 4h1.8v5.2H9.1zm0 6.6h1.8v1.8H9.1z" />
      </svg>
      <ul>
        {errors.map((e) => (
          <li key={e.id}>
            <span data-testid="error-message">{e.message}</span>
            <button type="button" class="icon-button" aria-label="Dismiss this message" onClick={() => dismissError(e.id)}>
              ×
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}

// ---- aria-live announcements ------------------------------------------------------------------------------

let announceListener: ((msg: string) => void) | null = null;
/** Says `msg` to screen readers (and shows it briefly in the corner toast). */
export function announce(msg: string): void {
  announceListener?.(msg);
}

export function Announcer() {
  const [msg, setMsg] = useState("");
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    announceListener = (m) => {
      // clear first so the same message twice is announced twice
      setMsg("");
      clearTimeout(timer);
      setTimeout(() => setMsg(m), 30);
      timer = setTimeout(() => setMsg(""), 2_500);
    };
    return () => {
      announceListener = null;
      clearTimeout(timer);
    };
  }, []);
  return (
    <div class={`toast ${msg ? "toast-shown" : ""}`} aria-live="polite" role="status" data-testid="announcer">
      {msg}
    </div>
  );
}

/** A small ↑12% / ↓8% / — badge. */
export function ChangeBadge(props: { value: number | null; invert?: boolean }) {
  if (props.value === null) return <span class="change change-none" title="No previous value to compare with">—</span>;
  const up = props.value > 0;
  const good = props.invert ? !up : up;
  if (props.value === 0) return <span class="change change-flat">0%</span>;
  return (
    <span class={`change ${good ? "change-good" : "change-bad"}`}>
      <span aria-hidden="true">{up ? "↑" : "↓"}</span>
      <span class="sr-only">{up ? "up" : "down"} </span>
      {Math.abs(props.value)}%
    </span>
  );
}

const INTERVALS = [
  { value: "day", label: "Day" },
  { value: "week", label: "Week" },
  { value: "month", label: "Month" },
] as const;

/** Day / week / month for a chart: the current one pressed, a click puts another in the URL. */
export function IntervalSwitch(props: { interval: Interval }) {
  const page = usePage();
  return (
    <div class="segmented" role="group" aria-label="Interval">
      {INTERVALS.map((i) => (
        <button
          key={i.value}
          type="button"
          class="segment"
          aria-pressed={props.interval === i.value ? "true" : "false"}
          data-testid={`interval-${i.value}`}
          onClick={() => page.navigate({ interval: i.value })}
        >
          {i.label}
        </button>
      ))}
    </div>
  );
}
