// @vitest-environment happy-dom
import { describe, expect, it } from "vitest";
import { type Field, fieldValue, isEmailField, looksLikeCard } from "./fields.ts";

function field(html: string): Field {
  document.body.innerHTML = html;
  return document.querySelector("input,select,textarea") as Field;
}

describe("fields: what never leaves the browser", () => {
  it.each([
    ['<input type="password" name="pw" value="hunter2">', "password inputs"],
    ['<input type="hidden" name="token" value="abc">', "hidden inputs"],
    ['<input type="file" name="cv">', "file inputs"],
    ['<input name="user_password" value="x">', "names with password"],
    ['<input name="card_number" value="x">', "names with card"],
    ['<input name="cvv" value="123">', "cvv"],
    ['<input id="cvc2" value="123">', "cvc in the id"],
    ['<input name="ssn" value="x">', "ssn"],
    ['<input name="pin" value="1234">', "pin"],
    ['<input name="account-pin" value="1234">', "pin as a word in the name"],
    ['<input name="security_code" value="x">', "security code"],
    ['<input name="x" autocomplete="cc-number" value="x">', "card autocomplete"],
    ['<input name="x" autocomplete="new-password" value="x">', "password autocomplete"],
    ['<input name="note" value="4111 1111 1111 1111">', "values that look like card numbers"],
    ['<input name="note" value="378282246310005">', "American Express numbers"],
    ['<input name="note" value="123-45-6789">', "values that look like SSNs"],
    ['<input name="note" data-lt-ignore value="private">', "fields marked data-lt-ignore"],
    ['<form class="lt-ignore"><input name="note" value="private"></form>', "fields in a form marked lt-ignore"],
  ])("%s is never captured (%s)", (html) => {
    expect(fieldValue(field(html))).toBeUndefined();
  });

  it("never captures a field the site config marks sensitive", () => {
    expect(fieldValue(field('<input name="dob" value="1990-01-01">'), true)).toBeUndefined();
  });

  it("never captures anything on a page marked data-lt-ignore", () => {
    document.body.innerHTML = '<input name="note" value="hello">';
    document.body.setAttribute("data-lt-ignore", "");
    try {
      expect(fieldValue(document.querySelector("input")!)).toBeUndefined();
    } finally {
      document.body.removeAttribute("data-lt-ignore");
    }
  });
});

describe("fields: what is captured", () => {
  it.each([
    ['<input name="email" value=" ada@example.com ">', "ada@example.com"],
    ['<input name="shipping_method" value="express">', "express"],
    ['<input name="phone" value="+49 1512 3456789">', "+49 1512 3456789"],
    ['<input name="order" value="4111 1111 1111 1112">', "4111 1111 1111 1112"],
    ['<textarea name="message">Leaking pipe</textarea>', "Leaking pipe"],
    ['<select name="size"><option>S</option><option selected>M</option></select>', "M"],
    ['<input type="checkbox" name="news" value="yes" checked>', "yes"],
    ['<input type="checkbox" name="news" value="yes">', ""],
    ['<input name="empty">', ""],
  ])("%s gives %j", (html, expected) => {
    expect(fieldValue(field(html))).toBe(expected);
  });

  it("cuts values at 8192 characters", () => {
    const el = field('<textarea name="m"></textarea>');
    el.value = "z".repeat(10_000);
    expect(fieldValue(el)).toHaveLength(8192);
  });

  it("knows email fields by type, name, id or autocomplete", () => {
    expect(isEmailField(field('<input type="email" name="x">'))).toBe(true);
    expect(isEmailField(field('<input name="e-mail">'))).toBe(true);
    expect(isEmailField(field('<input id="contactEmail">'))).toBe(true);
    expect(isEmailField(field('<input name="x" autocomplete="email">'))).toBe(true);
    expect(isEmailField(field('<input name="name">'))).toBe(false);
  });

  it("recognises card numbers by length and Luhn checksum", () => {
    expect(looksLikeCard("4111111111111111")).toBe(true);
    expect(looksLikeCard("5500-0000-0000-0004")).toBe(true);
    expect(looksLikeCard("4111111111111112")).toBe(false);
    expect(looksLikeCard("411111111111")).toBe(false);
    expect(looksLikeCard("41111111111111111111")).toBe(false);
    expect(looksLikeCard("4111 1111 abcd 1111")).toBe(false);
  });
});
