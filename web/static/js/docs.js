// /docs: the code examples with this deployment's base URL, and Swagger UI over our OpenAPI.

import { el } from "./ui.js";

const BASE = window.location.origin;
// [tab label, file under /web/examples/, what it shows]
const EXAMPLES = [
  ["curl", "curl.sh", "The documentation's curl session: a token, then three requests."],
  ["Python", "python.py", "requests, as in the HeySwap documentation."],
  ["JavaScript", "javascript.js", "fetch(), as in the HeySwap documentation."],
  ["PHP", "php.php", "PHP's curl extension, as in the HeySwap documentation."],
  ["Upload a file", "upload.sh", "An extension: the image itself instead of a URL."],
  ["remove.bg API", "removebg.sh", "remove.bg's own sample, only the host changed."],
];

function selectTab(tabs, index) {
  tabs.forEach(({ tab, panel }, i) => {
    tab.setAttribute("aria-selected", String(i === index));
    tab.tabIndex = i === index ? 0 : -1;
    panel.hidden = i !== index;
  });
}

async function examples() {
  const box = document.getElementById("examples-tabs");
  const list = box.querySelector("[role=tablist]");
  // All at once, then the tabs in their order: the page never shows half a tab list.
  const texts = await Promise.all(EXAMPLES.map(async ([, file]) =>
    (await (await fetch(`/web/examples/${file}`)).text()).replaceAll("{{BASE_URL}}", BASE)));
  const tabs = EXAMPLES.map(([label, file, about], index) => {
    const code = texts[index];
    const tab = el("button", { role: "tab", id: `tab-${index}`, type: "button",
                               "aria-controls": `panel-${index}` }, label);
    const copy = el("button", { type: "button", class: "small secondary copy",
                                "aria-label": `Copy the ${label} example` }, "Copy");
    copy.addEventListener("click", async () => {
      await navigator.clipboard.writeText(code);
      copy.textContent = "Copied";
      setTimeout(() => { copy.textContent = "Copy"; }, 1500);
    });
    const panel = el("div", { role: "tabpanel", id: `panel-${index}`,
                              "aria-labelledby": `tab-${index}`, tabindex: 0 },
                     el("p", { class: "hint" }, about),
                     el("div", { class: "code-box" }, copy,
                        el("pre", { class: "code" }, el("code", { "data-example": file }, code))));
    list.append(tab);
    box.append(panel);
    tab.addEventListener("click", () => selectTab(tabs, index));
    return { tab, panel };
  });
  // Arrow keys move between tabs (the WAI-ARIA tabs pattern); Tab goes into the panel.
  list.addEventListener("keydown", (event) => {
    const current = tabs.findIndex(({ tab }) => tab === document.activeElement);
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (current < 0 || !step) return;
    const next = (current + step + tabs.length) % tabs.length;
    selectTab(tabs, next);
    tabs[next].tab.focus();
  });
  selectTab(tabs, 0);
}

function reference() {
  if (!window.SwaggerUIBundle) {
    document.getElementById("swagger-loading").textContent =
      "The reference viewer is not installed on this server (run `make setup`); the document " +
      "itself is at /api/v1/openapi.json.";
    return;
  }
  window.SwaggerUIBundle({
    url: "/api/v1/openapi.json",
    dom_id: "#swagger-ui",
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    deepLinking: true,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    validatorUrl: null, // the default validator is a third-party site
  });
}

document.getElementById("base-url").textContent = BASE;
examples();
// A module runs after deferred classic scripts, so the bundle is already there.
reference();
