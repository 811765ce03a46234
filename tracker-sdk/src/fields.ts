/**
 * What may leave the browser from a form field. Never: password, hidden and file inputs; fields whose name, id
 * or autocomplete says password, card, cvv/cvc, ssn, pin or security code; values that look like a card number
 * (13–19 digits passing Luhn) or a US SSN; fields marked sensitive in the site config; anything inside an
 * element, form or page marked `data-lt-ignore` or `class="lt-ignore"`.
 */
export type Field = HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;

/** The opt-out marker, on a field, a form, or the page (`<body>` / `<html>`). */
export const IGNORE = "[data-lt-ignore],.lt-ignore";
const SKIPPED_TYPES = /password|hidden|file|submit|button|reset|image/;
const SENSITIVE_NAME = /pass|card|cvv|cvc|ssn|secur|cc-|(^|[^a-z])pin([^a-z]|$)/i;
const SSN = /^\d{3}[- ]\d{2}[- ]\d{4}$/;

/** 13–19 digits (spaces and dashes allowed) with a valid Luhn checksum. */
export function looksLikeCard(value: string): boolean {
  const digits = value.replace(/[ -]/g, "");
  let sum = 0;
  let fromRight = digits.length;
  // Every second digit from the right is doubled; "0246813579"[d] is the digit sum of 2d.
  for (const d of digits) sum += +(fromRight-- % 2 ? d : "0246813579"[+d]!);
  return /^\d{13,19}$/.test(digits) && !(sum % 10);
}

const names = (el: Field): string => `${el.name} ${el.id} ${el.autocomplete}`;

export const isEmailField = (el: Field): boolean => el.type == "email" || /e-?mail/i.test(names(el));

/** The form's inputs, selects and textareas. */
export const fieldsOf = (form: HTMLFormElement): Field[] => [].slice.call(form.querySelectorAll("input,select,textarea"));

/** The field's value ("" when empty or unchecked), or undefined when the field must never be captured. */
export function fieldValue(el: Field, sensitive?: boolean): string | undefined {
  if (sensitive || SKIPPED_TYPES.test(el.type) || SENSITIVE_NAME.test(names(el)) || el.closest(IGNORE)) return;
  // checkbox and radio (the only types ending in x or io) count when checked
  const value = /x$|io$/.test(el.type) && !(el as HTMLInputElement).checked ? "" : el.value.trim();
  return SSN.test(value) || looksLikeCard(value) ? undefined : value.slice(0, 8192);
}
