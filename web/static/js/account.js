// /account: credits, usage per day, recent jobs with thumbnails and charges, API keys.

import { call, describe, output } from "./api.js";
import { drawUsage } from "./chart.js";
import { bindKeyForm, el, showError, when } from "./ui.js";

const $ = (id) => document.getElementById(id);
const JOBS_PER_PAGE = 10;
let nextCursor = null;
let thumbs = []; // blob: URLs of the thumbnails shown, released on reload

function fail(err) {
  showError($("error"), describe(err));
}

async function credits() {
  $("credits").textContent = (await call("/api/v1/user/credits")).credits;
}

async function usage() {
  const report = await call("/api/v1/user/usage");
  $("images-30").textContent = report.totals.images_succeeded;
  $("charged-30").textContent = report.totals.credits_charged - report.totals.credits_refunded;
  drawUsage($("chart"), report);
  const rows = report.data.map((d) => el("tr", {},
    el("td", {}, d.date), el("td", { class: "num" }, d.images_succeeded),
    el("td", { class: "num" }, d.images_failed), el("td", { class: "num" }, d.credits_charged),
    el("td", { class: "num" }, d.credits_refunded)));
  $("usage-table").replaceChildren(el("table", {},
    el("thead", {}, el("tr", {}, ["Day (UTC)", "Succeeded", "Failed", "Charged", "Refunded"]
      .map((h, i) => el("th", { scope: "col", class: i ? "num" : "" }, h)))),
    el("tbody", {}, rows.length ? rows : el("tr", {}, el("td", { colspan: 5 }, "No images yet.")))));
}

/** A thumbnail of a succeeded job's output, fetched with the token (an img cannot send it). */
async function thumbnail(job, cell) {
  try {
    const url = URL.createObjectURL(await output(job.job_id));
    thumbs.push(url);
    cell.replaceChildren(el("img", { class: "thumb checker", src: url,
                                     alt: `Output of job ${job.job_id.slice(0, 8)}` }));
  } catch {
    cell.replaceChildren(el("span", { class: "hint" }, "expired"));
  }
}

function jobRow(job) {
  const thumb = el("td", {}, "");
  if (job.status === "succeeded") thumbnail(job, thumb);
  const detail = job.error ? job.error.message : (job.input_image || "upload");
  return el("tr", { "data-job": job.job_id },
    thumb,
    el("td", {}, el("code", { title: job.job_id }, job.job_id.slice(0, 8))),
    el("td", {}, when(job.created_at)),
    el("td", {}, el("span", { class: `badge ${job.status}` }, job.status)),
    el("td", { class: "num", "data-charge": job.credits_charged }, job.credits_charged),
    el("td", {}, job.output_format || ""),
    el("td", {}, detail));
}

async function jobs(more = false) {
  const query = new URLSearchParams({ limit: JOBS_PER_PAGE });
  if (more && nextCursor) query.set("cursor", nextCursor);
  const page = await call(`/api/v1/jobs?${query}`);
  nextCursor = page.next_cursor;
  $("more-jobs").hidden = !nextCursor;
  let body = $("jobs").querySelector("tbody");
  if (!more || !body) {
    body = el("tbody");
    $("jobs").replaceChildren(el("table", { "aria-labelledby": "jobs-title" },
      el("thead", {}, el("tr", {}, ["Output", "Job", "Created", "Status", "Credits", "Format",
                                    "Input or error"]
        .map((h) => el("th", { scope: "col", class: h === "Credits" ? "num" : "" }, h)))),
      body));
  }
  body.append(...page.data.map(jobRow));
  if (!body.children.length) {
    body.append(el("tr", {}, el("td", { colspan: 7 }, "No jobs yet: try the playground.")));
  }
}

async function revoke(key, activeCount) {
  const last = activeCount === 1;
  const warning = last ? "This is your last active key: without one you cannot sign in until "
    + "an operator issues a new key. Revoke it anyway?" : `Revoke ${key.key_prefix}?`;
  if (!window.confirm(warning)) return;
  try {
    const query = last ? "?confirm=true" : "";
    await call(`/api/v1/user/keys/${encodeURIComponent(key.key_prefix)}${query}`,
               { method: "DELETE" });
    if (key.current) {
      showError($("error"), "You revoked the key this page was using: enter another key.");
      $("account").hidden = true;
      return;
    }
    await keys();
  } catch (err) {
    fail(err);
  }
}

async function keys() {
  const list = (await call("/api/v1/user/keys")).data;
  const active = list.filter((k) => !k.revoked_at);
  $("keys").replaceChildren(el("table", { "aria-labelledby": "keys-title" },
    el("thead", {}, el("tr", {}, ["Prefix", "Created", "Last used", "State", ""]
      .map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, list.map((key) => el("tr", { "data-key": key.key_prefix },
      el("td", {}, el("code", {}, key.key_prefix), key.current ? " (this page)" : ""),
      el("td", {}, when(key.created_at)),
      el("td", {}, key.last_used_at ? when(key.last_used_at) : "never"),
      el("td", {}, key.revoked_at ? `revoked ${when(key.revoked_at)}` : "active"),
      el("td", {}, key.revoked_at ? "" : el("button", {
        type: "button", class: "small danger", "aria-label": `Revoke ${key.key_prefix}`,
        onclick: () => revoke(key, active.length) }, "Revoke")))))));
}

async function issue() {
  try {
    const made = (await call("/api/v1/user/keys", { method: "POST" })).data;
    const box = $("new-key");
    box.replaceChildren(el("p", {}, "New key (copy it now: it is not shown again):"),
                        el("p", {}, el("code", { id: "new-key-value" }, made.api_key)));
    box.hidden = false;
    await keys();
  } catch (err) {
    fail(err);
  }
}

async function load() {
  showError($("error"), "");
  for (const url of thumbs) URL.revokeObjectURL(url);
  thumbs = [];
  try {
    await credits();
    $("account").hidden = false;
    await Promise.all([usage(), jobs(), keys()]);
  } catch (err) {
    $("account").hidden = true;
    if (err.code !== "no_key") fail(err);
    else showError($("error"), "Enter your API key to see your account.");
  }
}

$("issue-key").addEventListener("click", issue);
$("more-jobs").addEventListener("click", () => jobs(true).catch(fail));
bindKeyForm($("key-form"), () => { $("new-key").hidden = true; load(); });
load();
