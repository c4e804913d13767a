// A small bar chart in SVG (no library): images per UTC day, failures stacked on top.

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  return node;
}

/** Every UTC day from `from` (inclusive) to `to` (exclusive), as YYYY-MM-DD. */
export function days(from, to) {
  const out = [];
  for (let t = Date.parse(from.slice(0, 10)); t < Date.parse(to); t += 86400000) {
    out.push(new Date(t).toISOString().slice(0, 10));
  }
  return out;
}

/** Draw usage.data (days with activity) over every day of its range into `box`. */
export function drawUsage(box, usage) {
  const byDay = new Map(usage.data.map((d) => [d.date, d]));
  const all = days(usage.from, usage.to);
  const width = 600;
  const height = 160;
  const bottom = height - 18;
  const peak = Math.max(1, ...usage.data.map((d) => d.images_succeeded + d.images_failed));
  const step = width / Math.max(all.length, 1);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`,
                             "aria-hidden": "true" });
  chart.append(svg("line", { class: "axis", x1: 0, y1: bottom, x2: width, y2: bottom }));
  all.forEach((day, i) => {
    const d = byDay.get(day) || { images_succeeded: 0, images_failed: 0 };
    const ok = (d.images_succeeded / peak) * (bottom - 12);
    const failed = (d.images_failed / peak) * (bottom - 12);
    const x = i * step + step * 0.15;
    const w = step * 0.7;
    const bar = svg("rect", { class: "bar", x, y: bottom - ok, width: w, height: ok });
    const title = svg("title", {});
    title.textContent = `${day}: ${d.images_succeeded} succeeded, ${d.images_failed} failed`;
    bar.append(title);
    chart.append(bar);
    if (failed) {
      chart.append(svg("rect", { class: "bar failed", x, y: bottom - ok - failed, width: w,
                                 height: failed }));
    }
    if (i % 7 === 0 || i === all.length - 1) {
      const label = svg("text", { x: x + w / 2, y: height - 4, "text-anchor": "middle" });
      label.textContent = day.slice(5);
      chart.append(label);
    }
  });
  const top = svg("text", { x: 2, y: 10 });
  top.textContent = `${peak}`;
  chart.append(top);
  box.replaceChildren(chart);
  const total = usage.totals.images_succeeded + usage.totals.images_failed;
  box.setAttribute("aria-label", `Images per day, ${all.length} days: ${total} in all, at most `
                   + `${peak} in one day.`);
}
