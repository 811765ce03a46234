// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { SiteConfig, TrackerEvent } from "#contracts";
import type * as FormsModule from "./forms.ts";
import type * as QueueModule from "./queue.ts";
import { ofType, setUrl, submit, trackListeners } from "./test-dom.ts";

const EDGE = "https://edge.example";
let forms: typeof FormsModule;
let queue: typeof QueueModule;
let untrack: () => void;

const CONTACT: SiteConfig["forms"][number] = {
  id: "form-contact",
  name: "Contact",
  selector: "#contact",
  alternativeSelectors: ["form.contact-form", "[invalid selector"],
  pageUrlPattern: "",
  fields: [
    { selector: "input[name=name]", name: "name", type: "text", required: false, sensitive: false },
    { selector: "input[name=email]", name: "email", type: "email", required: true, sensitive: false },
    { selector: "input[name=dob]", name: "dob", type: "text", required: false, sensitive: true },
    { selector: "textarea", name: "message", type: "textarea", required: false, sensitive: false },
  ],
};

async function start(config: Partial<SiteConfig> = { forms: [CONTACT] }): Promise<void> {
  vi.resetModules();
  (await import("./config.ts")).configure(config, EDGE);
  queue = await import("./queue.ts");
  // opt-in without consent: events are kept, never sent
  (await import("./consent.ts")).initConsent({ mode: "opt-in" });
  queue.startQueue(`${EDGE}/v1/events`, { siteKey: "demo-site" });
  forms = await import("./forms.ts");
  forms.startForms();
}

const events = (type: TrackerEvent["type"]): TrackerEvent[] => ofType(queue.pending(), type);
const form = (selector = "form"): HTMLFormElement => document.querySelector(selector)!;

function page(html: string): void {
  document.body.innerHTML = html;
}

const CONTACT_HTML = `<form id="contact"><input name="name" value="Ada"><input name="email" type="email" value="ada@example.com">
  <input name="dob" value="1815-12-10"><textarea>Leaking pipe</textarea><input name="extra" value="not configured"></form>`;

beforeEach(async () => {
  vi.useFakeTimers();
  localStorage.clear();
  untrack = trackListeners();
  await start();
});

afterEach(() => {
  untrack();
  vi.useRealTimers();
  setUrl("http://localhost:3000/");
});

describe("forms: which submits are leads", () => {
  it("captures a configured form by its selector, with its configured fields only", async () => {
    page(CONTACT_HTML);
    submit(form());
    await vi.advanceTimersByTimeAsync(0);
    const [lead] = events("form_submission");
    expect(lead!.form).toEqual({
      formId: "form-contact",
      name: "Contact",
      fields: { name: "Ada", email: "ada@example.com", message: "Leaking pipe" },
      trigger: "submit",
      progress: { completed: ["name", "email", "message"], total: 3, percent: 100 },
    });
  });

  it("matches a configured form by an alternative selector, skipping an invalid one", async () => {
    page('<form class="contact-form"><input name="name" value="Ada"></form>');
    submit(form());
    await vi.advanceTimersByTimeAsync(0);
    expect(events("form_submission")[0]!.form!.formId).toBe("form-contact");
  });

  it("matches a configured form only on pages that match its pageUrlPattern", async () => {
    await start({ forms: [{ ...CONTACT, pageUrlPattern: "/contact*" }] });
    page(CONTACT_HTML.replace('id="contact"', 'id="contact" name="other"'));
    setUrl("http://localhost:3000/about");
    submit(form());
    await vi.advanceTimersByTimeAsync(0);
    // not the configured form here, but still a form with an email field
    expect(events("form_submission").map((e) => e.form!.formId)).toEqual(["contact"]);
    setUrl("http://localhost:3000/contact/thanks?x=1");
    submit(form());
    await vi.advanceTimersByTimeAsync(0);
    expect(events("form_submission").map((e) => e.form!.formId)).toEqual(["contact", "form-contact"]);
  });

  it("captures an unconfigured form with an email field, with every capturable field", async () => {
    page(`<form id="newsletter"><input name="first_name" value="Grace"><input type="email" name="mail" value="grace@example.com">
      <input type="password" name="pw" value="secret"><input type="hidden" name="csrf" value="t"><input name="cc" value="4111111111111111">
      <input type="radio" name="plan" value="a"><input type="radio" name="plan" value="b" checked><button>Go</button></form>`);
    submit(form());
    await vi.advanceTimersByTimeAsync(0);
    expect(events("form_submission")[0]!.form).toMatchObject({
      formId: "newsletter",
      fields: { first_name: "Grace", mail: "grace@example.com", plan: "b" },
      progress: { total: 3, percent: 100 },
    });
  });

  it("leaves unconfigured forms without an email field alone, and all of them when heuristicForms is off", async () => {
    page('<form id="search"><input name="q" value="pipes"></form><form id="signup"><input type="email" name="e" value="a@b.co"></form>');
    submit(form("#search"));
    await start({ forms: [], features: { heuristicForms: false } });
    submit(form("#signup"));
    await vi.advanceTimersByTimeAsync(0);
    expect(events("form_submission")).toEqual([]);
  });

  it("ignores forms marked lt-ignore", async () => {
    page(CONTACT_HTML.replace("<form ", '<form class="lt-ignore" '));
    submit(form());
    await vi.advanceTimersByTimeAsync(0);
    expect(events("form_submission")).toEqual([]);
  });

  it("a submit that fails checkValidity() is not a lead", async () => {
    page('<form id="contact" novalidate><input name="email" type="email" required value=""></form>');
    submit(form());
    await vi.advanceTimersByTimeAsync(0);
    expect(events("form_submission")).toEqual([]);
  });

  it("a submit the page cancels is not a lead", async () => {
    page(CONTACT_HTML);
    submit(form(), (e) => e.preventDefault());
    await vi.advanceTimersByTimeAsync(0);
    forms.confirmAjax([]);
    forms.formsLeaving();
    expect(events("form_submission")).toEqual([]);
  });

  it("a submit already cancelled before it reaches us is not a lead", async () => {
    page(CONTACT_HTML);
    const cancel = (e: Event) => e.preventDefault();
    window.addEventListener("submit", cancel, true);
    try {
      submit(form());
      await vi.advanceTimersByTimeAsync(0);
      expect(events("form_submission")).toEqual([]);
    } finally {
      window.removeEventListener("submit", cancel, true);
    }
  });

  it("a cancelled submit is a lead once the page sends it itself (AJAX), with the fields as they were at submit", async () => {
    page(CONTACT_HTML);
    submit(form(), (e) => {
      e.preventDefault();
      form().reset();
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(events("form_submission")).toEqual([]);
    const now = performance.now();
    const entry = (over: object) => ({ initiatorType: "fetch", startTime: now + 10, name: "https://site.example/api/lead", responseStatus: 200, ...over }) as unknown as PerformanceEntry;
    forms.confirmAjax([
      entry({ initiatorType: "img" }),
      entry({ name: `${EDGE}/v1/events` }),
      entry({ responseStatus: 422 }),
      entry({ startTime: now + 5000 }),
    ]);
    expect(events("form_submission")).toEqual([]);
    forms.confirmAjax([entry({ initiatorType: "xmlhttprequest" })]);
    const [lead] = events("form_submission");
    expect(lead!.form).toMatchObject({ trigger: "ajax", fields: { email: "ada@example.com" } });
    forms.confirmAjax([entry({})]);
    expect(events("form_submission")).toHaveLength(1);
  });

  it("stores a lead whose page leaves before the decision timer ran", async () => {
    page(CONTACT_HTML);
    submit(form());
    forms.formsLeaving(); // pagehide
    expect(events("form_submission")).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(0);
    expect(events("form_submission")).toHaveLength(1);
  });

  it("captures forms rendered after load", async () => {
    page("<div id=app></div>");
    await vi.advanceTimersByTimeAsync(3000);
    document.getElementById("app")!.innerHTML = CONTACT_HTML;
    submit(form());
    await vi.advanceTimersByTimeAsync(0);
    expect(events("form_submission")).toHaveLength(1);
  });
});

describe("forms: partial leads and multi-step forms", () => {
  const type = (selector: string, value: string, event = "change") => {
    const el = document.querySelector<HTMLInputElement>(selector)!;
    el.value = value;
    el.dispatchEvent(new Event(event, { bubbles: true }));
  };

  it("reports the fields so far and the progress a second after an email is entered, once per change", async () => {
    page('<form id="contact"><input name="name"><input name="email" type="email"><textarea></textarea></form>');
    type("input[name=name]", "Ada");
    await vi.advanceTimersByTimeAsync(2000);
    expect(events("form_interaction")).toEqual([]); // no email yet: not a lead
    type("input[name=email]", "ada@example", "focusout");
    await vi.advanceTimersByTimeAsync(2000);
    expect(events("form_interaction")).toEqual([]); // not an email yet
    type("input[name=email]", "ada@example.com", "focusout");
    type("input[name=email]", "ada@example.com", "change");
    await vi.advanceTimersByTimeAsync(999);
    expect(events("form_interaction")).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    const [partial] = events("form_interaction");
    expect(partial!.form).toEqual({
      formId: "form-contact",
      name: "Contact",
      fields: { name: "Ada", email: "ada@example.com" },
      trigger: "change",
      progress: { completed: ["name", "email"], total: 3, percent: 67 },
    });
    type("input[name=email]", "ada@example.com", "focusout"); // nothing new
    await vi.advanceTimersByTimeAsync(2000);
    expect(events("form_interaction")).toHaveLength(1);
    type("textarea", "Leak");
    await vi.advanceTimersByTimeAsync(1000);
    expect(events("form_interaction")[1]!.form!.progress).toEqual({ completed: ["name", "email", "message"], total: 3, percent: 100 });
  });

  it("reports no partial leads when partialLeads is off", async () => {
    await start({ forms: [CONTACT], features: { partialLeads: false } });
    page('<form id="contact"><input name="email" type="email"></form>');
    type("input[name=email]", "ada@example.com");
    await vi.advanceTimersByTimeAsync(5000);
    expect(events("form_interaction")).toEqual([]);
  });

  it("submits the fields of earlier steps that have left the DOM", async () => {
    page('<form id="quote"><input name="email" type="email"><button type="button">Next</button></form>');
    type("input[name=email]", "lin@example.com");
    form().innerHTML = '<input name="phone"><input name="zip"><button>Send</button>'; // step 2 replaces step 1
    type("input[name=phone]", "+1 555 0100");
    submit(form());
    await vi.advanceTimersByTimeAsync(0);
    expect(events("form_submission")[0]!.form).toMatchObject({
      formId: "quote",
      fields: { email: "lin@example.com", phone: "+1 555 0100" },
      progress: { completed: ["email", "phone"], total: 3, percent: 67 },
    });
    // the submit reported the lead: no partial lead after it
    await vi.advanceTimersByTimeAsync(5000);
    expect(events("form_interaction")).toEqual([]);
  });

  it("sends a partial lead still inside its debounce at once when the page goes, and only once", async () => {
    page('<form id="contact"><input name="name"><input name="email" type="email"></form>');
    type("input[name=name]", "Quick");
    type("input[name=email]", "quick@example.com");
    await vi.advanceTimersByTimeAsync(100);
    expect(events("form_interaction")).toEqual([]);
    forms.formsLeaving(); // what pagehide runs
    expect(events("form_interaction").map((e) => e.form!.fields)).toEqual([{ name: "Quick", email: "quick@example.com" }]);
    await vi.advanceTimersByTimeAsync(5000); // its timer finds nothing left to report
    expect(events("form_interaction")).toHaveLength(1);
  });

  it("sends another form's pending partial lead at once when a form is submitted, but not the submitted form's own", async () => {
    page(`<form id="newsletter"><input name="email" type="email"></form>${CONTACT_HTML}`);
    type("#newsletter input[name=email]", "news@example.com");
    type("#contact input[name=email]", "ada@example.com");
    submit(form("#contact"));
    expect(events("form_interaction").map((e) => e.form!.formId)).toEqual(["newsletter"]);
    await vi.advanceTimersByTimeAsync(5000);
    expect(events("form_submission").map((e) => e.form!.formId)).toEqual(["form-contact"]);
    expect(events("form_interaction")).toHaveLength(1);
  });
});

describe("glob", () => {
  it.each([
    ["", "", true],
    ["*", "", true],
    ["*", "https://a.example/x", true],
    ["/contact", "/contact", true],
    ["/contact", "/contact/", false],
    ["/blog/*", "/blog/post-1", true],
    ["/blog/*", "/blog", false],
    ["*/checkout/*/done", "https://shop.example/checkout/42/done", true],
    ["*/checkout/*/done", "https://shop.example/checkout/42/donex", false],
    ["a*b*c", "abc", true],
    ["a*b*c", "aXbYcZ", false],
    ["*.html", "/page.html", true],
    ["(x)[y]?+", "(x)[y]?+", true], // no character but * is special
  ])("%s ~ %s → %s", (pattern, text, expected) => {
    expect(forms.glob(pattern, text)).toBe(expected);
  });

  it("answers the pattern that made a regular expression backtrack for 45 s, over a long URL, many times over", () => {
    const url = `https://shop.example/${"a".repeat(4000)}`;
    for (let i = 0; i < 100; i++) expect(forms.glob("*a*a*a*a*a*a*a*b", url)).toBe(false);
  });
});
