// The playground: one photo (file, drop, paste or URL) and the API's options in, the result
// beside the original and under a before/after slider, with credits, job id and stage times.

import { ApiError, call, describe, output, upload } from "./api.js";
import { bindCompare, showResult } from "./result.js";
import { bindKeyForm, bytes, showError } from "./ui.js";

const $ = (id) => document.getElementById(id);
const ENDPOINT = "/api/v1/image/remove-background";
const POLL_MS = 2000;
let picked = null; // the File to upload, or null for the URL field

async function refreshCredits() {
  try {
    $("credits").textContent = (await call("/api/v1/user/credits")).credits;
  } catch (err) {
    $("credits").textContent = "–";
    if (err.code !== "no_key") showError($("error"), describe(err));
  }
}

function modelLabel(m) {
  // e.g. "birefnet-general-lite · birefnet, 1024 px · MIT · 2 workers (default)"
  const workers = m.live_workers === 1 ? "1 worker" : `${m.live_workers} workers`;
  const label = `${m.name} · ${m.family}, ${m.input_size} px · ${m.licence} · ${workers}`;
  return m.default ? `${label} (default)` : label;
}

async function loadModels() {
  // GET /api/v1/models (with the key's token) names each served model with its family, side,
  // licence and live workers; before a key is given, /readyz (public) has the names only.
  const select = $("model");
  try {
    const { models } = await call("/api/v1/models");
    select.replaceChildren(...models.map((m) => new Option(modelLabel(m), m.name, false,
                                                           m.default)));
    return;
  } catch {
    // No key yet, or the call failed: fall back to the public readiness document.
  }
  try {
    const ready = await (await fetch("/readyz")).json();
    select.replaceChildren();
    for (const name of Object.keys(ready.models || {})) {
      const label = name === ready.default_model ? `${name} (default)` : name;
      select.append(new Option(label, name, false, name === ready.default_model));
    }
  } catch {
    // Keep the "default" entry: the API picks its default model.
  }
}

function pick(file) {
  picked = file;
  $("file-name").textContent = file ? `${file.name || "pasted image"} · ${bytes(file.size)}` : "";
  if (file) $("url").value = "";
}

function bindSources() {
  const drop = $("drop");
  $("file").addEventListener("change", () => pick($("file").files[0] || null));
  $("url").addEventListener("input", () => {
    if ($("url").value) {
      picked = null;
      $("file").value = "";
      $("file-name").textContent = "";
    }
  });
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files.length) pick(e.dataTransfer.files[0]);
  });
  document.addEventListener("paste", (e) => {
    const item = [...(e.clipboardData?.files || [])].find((f) => f.type.startsWith("image/"));
    if (item) pick(item);
  });
  for (const radio of document.querySelectorAll("input[name=bg]")) {
    radio.addEventListener("change", () => {
      for (const block of document.querySelectorAll("[data-bg]")) {
        block.hidden = block.dataset.bg !== radio.value;
      }
    });
  }
}

/** The request's fields: only what the person set, so the API's defaults stay the defaults. */
function buildForm() {
  const form = new FormData();
  if (picked) form.append("input_image", picked, picked.name || "pasted.png");
  else form.append("input_image", $("url").value.trim());
  const add = (name, value) => { if (value) form.append(name, value); };
  add("output_format", $("output_format").value);
  add("model", $("model").value);
  add("size", $("size").value);
  add("channels", $("channels").value);
  const bg = document.querySelector("input[name=bg]:checked").value;
  if (bg === "color") add("bg_color", $("bg_color").value);
  if (bg === "gradient") {
    add("bg_gradient", `${$("grad_from").value}:${$("grad_to").value}`);
    add("gradient_direction", $("gradient_direction").value);
  }
  if (bg === "image") add("bg_image_url", $("bg_image_url").value.trim());
  if ($("crop").checked) add("crop", "true");
  for (const name of ["crop_margin", "scale", "position", "roi"]) add(name, $(name).value.trim());
  return form;
}

/** A job that outlived the request (504): its status until it ends. */
async function poll(jobId, started, status) {
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    const job = await call(`/api/v1/jobs/${jobId}`);
    if (job.status === "succeeded") return job;
    if (job.status === "failed") {
      throw new ApiError(job.error.status, { message: job.error.message,
                                             error: { code: job.error.code } });
    }
    status(`Still working on job ${jobId}… ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
}

async function submit(event) {
  event.preventDefault();
  const go = $("go");
  showError($("error"), "");
  if (!picked && !$("url").value.trim()) {
    showError($("error"), "Choose a photo (or drop or paste one), or enter its URL.");
    return;
  }
  go.disabled = true;
  const started = performance.now();
  const status = (text) => { $("status").textContent = text; };
  let phase = "Uploading";
  const showPhase = () => {
    if (phase !== "Uploading") status(`${phase}… ${((performance.now() - started) / 1000).toFixed(1)} s`);
  };
  const tick = setInterval(showPhase, 100);
  $("progress").hidden = !picked;
  $("upload-bar").value = 0;
  let processed = false; // a credit was spent: say so if showing the result fails after it
  try {
    status(picked ? "Uploading…" : "Sending…");
    const answer = await upload(ENDPOINT, buildForm(), {
      onProgress: (sent, total) => {
        $("upload-bar").value = Math.round((sent / total) * 100);
        $("upload-text").textContent = `${bytes(sent)} of ${bytes(total)}`;
        status(`Uploading… ${Math.round((sent / total) * 100)}%`);
      },
      onSent: () => { phase = "Removing the background"; showPhase(); }, // at once, not on the next tick
    });
    phase = "Removing the background";
    let jobId = answer.jobId;
    let credits = answer.body?.credits_remaining;
    if (answer.status === 504 && answer.body?.data?.job_id) {
      jobId = answer.body.data.job_id;
      phase = "Waiting for the job";
      await poll(jobId, started, status);
      credits = (await call("/api/v1/user/credits")).credits;
    } else if (answer.status !== 200) {
      throw new ApiError(answer.status, answer.body);
    }
    processed = true;
    phase = "Fetching the result";
    const [blob, job] = await Promise.all([output(jobId), call(`/api/v1/jobs/${jobId}`)]);
    const elapsed = (performance.now() - started) / 1000;
    await showResult({ blob, job, jobId, credits, elapsed, original: picked,
                       url: picked ? "" : $("url").value.trim() });
    $("credits").textContent = credits;
    status(`Done in ${elapsed.toFixed(1)} s.`);
  } catch (err) {
    showError($("error"), describe(err));
    status(processed ? "The image was processed, but this page could not show it."
                     : "Nothing was charged for this request.");
    refreshCredits();
  } finally {
    clearInterval(tick);
    $("progress").hidden = true;
    go.disabled = false;
  }
}

bindKeyForm($("key-form"), () => { showError($("error"), ""); refreshCredits(); loadModels(); });
bindSources();
bindCompare();
$("job-form").addEventListener("submit", submit);
loadModels();
refreshCredits();
