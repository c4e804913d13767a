// Small DOM helpers the pages share: the API key form, element building, formatting.

import { storeKey, storedKey } from "./api.js";

/** el("td", { class: "num" }, "3"): an element with attributes and text or element children. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/**
 * The key form: prefilled from this tab's sessionStorage; "Use key" stores it and calls
 * onChange(key), "Forget" clears it. The key is never put anywhere else.
 */
export function bindKeyForm(form, onChange) {
  const input = form.querySelector("input[name=api_key]");
  input.value = storedKey();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    storeKey(input.value.trim());
    onChange(storedKey());
  });
  form.querySelector("[data-forget]").addEventListener("click", () => {
    input.value = "";
    storeKey("");
    onChange("");
  });
  return storedKey();
}

/** A short local date and time for an ISO 8601 string. */
export function when(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** Seconds as "0.42 s" or "512 ms". */
export function seconds(value) {
  return value < 1 ? `${Math.round(value * 1000)} ms` : `${value.toFixed(2)} s`;
}

export function bytes(count) {
  if (count < 1024) return `${count} B`;
  if (count < 1024 * 1024) return `${(count / 1024).toFixed(1)} KB`;
  return `${(count / 1024 / 1024).toFixed(1)} MB`;
}

/** Show text in an alert region (role=alert announces it); empty text hides it. */
export function showError(region, text) {
  region.textContent = text || "";
  region.hidden = !text;
}
