// The playground's result panel: original and result side by side, the before/after slider,
// the download link and the facts (credits, job id, output, stage timings).

import { bytes, el, seconds } from "./ui.js";

const $ = (id) => document.getElementById(id);
const EXTENSIONS = { "image/png": "png", "image/jpeg": "jpg", "image/webp": "webp",
                     "image/avif": "avif", "application/zip": "zip" };
let urls = []; // blob: URLs of the shown result, released when the next one replaces it

/** The slider: its value moves the clip edge of the result over the original. */
export function bindCompare() {
  const range = $("compare-range");
  range.addEventListener("input", () => {
    $("compare").style.setProperty("--pos", `${range.value}%`);
    range.setAttribute("aria-valuetext", `${range.value}% original`);
  });
}

function loaded(img) {
  return img.complete && img.naturalWidth ? Promise.resolve()
    : new Promise((resolve) => {
      img.addEventListener("load", resolve, { once: true });
      img.addEventListener("error", resolve, { once: true });
    });
}

// The worker's stages in the order they run (PostgreSQL's jsonb does not keep key order).
const STAGE_ORDER = ["fetch", "decode", "segment", "refine", "composite", "encode", "upload"];

function stageList(timings) {
  const rank = (stage) => (STAGE_ORDER.includes(stage) ? STAGE_ORDER.indexOf(stage) : 99);
  const entries = Object.entries(timings || {}).sort(([a], [b]) => rank(a) - rank(b));
  if (!entries.length) return "–";
  return el("ul", { class: "stages" },
            entries.map(([stage, value]) => el("li", {}, `${stage}: ${seconds(value)}`)));
}

/** Show one finished job: { blob, job, jobId, credits, elapsed, original (File) | url }. */
export async function showResult({ blob, job, jobId, credits, elapsed, original, url }) {
  for (const old of urls) URL.revokeObjectURL(old);
  const resultUrl = URL.createObjectURL(blob);
  const originalUrl = original ? URL.createObjectURL(original) : "";
  urls = [resultUrl, originalUrl].filter(Boolean);
  const extension = EXTENSIONS[blob.type] || "bin";
  const viewable = extension !== "zip";

  const frame = $("original-frame");
  if (originalUrl) {
    const img = el("img", { id: "original", src: originalUrl, alt: "The original" });
    // HEIC (and AVIF in older browsers) may not display here; the API read it all the same.
    img.addEventListener("error", () => {
      $("compare-block").hidden = true;
      frame.replaceChildren(el("p", { class: "placeholder", id: "no-preview" },
                               `This browser cannot show ${original.name || "this file"}; it `
                               + "was sent as it is and the API read it."));
    }, { once: true });
    frame.replaceChildren(img);
  } else {
    frame.replaceChildren(el("p", { class: "placeholder" },
                             "Fetched by the API from ", el("code", {}, url),
                             "; this page loads nothing from other sites."));
  }
  const cutout = $("cutout");
  cutout.src = viewable ? resultUrl : "";
  $("compare-block").hidden = !(originalUrl && viewable);
  if (originalUrl && viewable) {
    $("compare-before").src = originalUrl;
    $("compare-after").src = resultUrl;
  }
  const base = (original?.name || "image").replace(/\.[^.]*$/, "");
  const link = $("download");
  link.href = resultUrl;
  link.download = `${base}-no-bg.${extension}`;
  link.textContent = `Download ${extension.toUpperCase()} (${bytes(blob.size)})`;

  $("result").hidden = false;
  if (viewable) await loaded(cutout);
  const size = viewable && cutout.naturalWidth ? `${cutout.naturalWidth} × ${cutout.naturalHeight} px, ` : "";
  $("fact-credits").textContent = credits ?? "–";
  $("fact-job").textContent = jobId;
  $("fact-output").textContent = `${size}${blob.type}, ${bytes(blob.size)}`;
  $("fact-elapsed").textContent = seconds(elapsed);
  $("fact-stages").replaceChildren(stageList(job.timings));
  $("cutout-caption").textContent = viewable ? "Result" : "Result (a ZIP: download it)";
}
