/**
 * Helpers for the SDK's DOM unit tests: remove the listeners a test's modules added to `document` and `window`
 * (module instances are fresh per test, the document is not), and read what reached the outbox.
 */
import { vi } from "vitest";
import type { TrackerEvent } from "#contracts";

type Added = [EventTarget, string, EventListenerOrEventListenerObject, boolean | AddEventListenerOptions | undefined];

/** Records listeners added from now on; call the returned function to remove them. */
export function trackListeners(): () => void {
  const added: Added[] = [];
  for (const target of [document, window] as EventTarget[]) {
    const real = target.addEventListener.bind(target);
    vi.spyOn(target, "addEventListener").mockImplementation((type, listener, options) => {
      added.push([target, type, listener!, options]);
      real(type, listener, options);
    });
  }
  return () => {
    vi.restoreAllMocks();
    for (const [target, type, listener, options] of added) target.removeEventListener(type, listener, options);
  };
}

export const ofType = (events: readonly TrackerEvent[], type: TrackerEvent["type"]): TrackerEvent[] => events.filter((e) => e.type == type);

/** Dispatches a cancelable submit on `form`, as a click on its submit button would. */
export function submit(form: HTMLFormElement, pageHandler?: (e: Event) => void): Event {
  if (pageHandler) form.addEventListener("submit", pageHandler, { once: true });
  const event = new Event("submit", { bubbles: true, cancelable: true });
  form.dispatchEvent(event);
  return event;
}

/** Moves the test page to `url` (happy-dom's own API: `location` cannot leave the origin). */
export function setUrl(url: string): void {
  (window as unknown as { happyDOM: { setURL(url: string): void } }).happyDOM.setURL(url);
}
