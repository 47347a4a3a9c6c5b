// Duplicates, clusters and the 2-D map of a collection, and detection with boxes drawn.
"use strict";

(() => {
  const { api, run, el, svg, seg, need, say, collectionCard, fileToDataUrl } = window.pixembed;
  const $ = (selector, root = document) => root.querySelector(selector);
  const PALETTE = ["#2f6fde", "#e07b39", "#1a7f37", "#b42318", "#7c3aed", "#0e7490", "#a16207", "#db2777"];

  // A collection's dedup or cluster answers 200 with the result, or 202 with a job to poll.
  async function resultOrJob(path, body) {
    const reply = await api("POST", path, { json: body });
    if (!reply || reply.job_id === undefined) return reply;
    const progress = $("#analysis-progress");
    progress.hidden = false;
    try {
      for (;;) {
        const job = await api("GET", `/v1/jobs/${seg(String(reply.job_id))}`);
        progress.value = job.progress || 0;
        if (job.status === "done") return job.result;
        if (job.status === "failed") throw new Error((job.error && job.error.message) || "the job failed");
        await new Promise((resolve) => { setTimeout(resolve, 400); });
      }
    } finally {
      progress.hidden = true;
    }
  }

  async function sheet(title, collection, ids, classFor = () => "") {
    const cards = await Promise.all(ids.map((id) => collectionCard(collection, id, null, classFor(id))));
    return el("div", { class: "sheet" }, el("h3", { text: title }), el("div", { class: "grid" }, ...cards));
  }

  async function showDedup(collection, result) {
    const sheets = [];
    for (const [i, group] of result.groups.entries()) {
      const borderline = group.borderline || [];
      const title = `group ${i + 1}: keep ${group.keep}, ${group.drop.length} copies to drop`
        + (borderline.length ? `, ${borderline.length} borderline (not dropped)` : "");
      sheets.push(await sheet(title, collection, group.members,
        (id) => (id === group.keep ? "keep" : borderline.includes(id) ? "borderline" : "drop-me")));
    }
    const summary = el("p", { class: "summary", text: result.groups.length
      ? `${result.groups.length} duplicate groups (every member within the threshold of the item kept); `
        + `${result.drop.length} items could be dropped; ${(result.borderline || []).length} borderline`
      : "No duplicates found with this method." });
    $("#dedup-result").replaceChildren(summary, ...sheets);
  }

  const colourOf = (cluster) => (cluster === null || cluster === undefined
    ? "#999" : PALETTE[cluster % PALETTE.length]);

  // Axes (the projection's two components; their units mean nothing on their own) and a legend of colours.
  function drawAxes(map) {
    map.append(svg("line", { class: "axis", x1: 20, y1: 300, x2: 390, y2: 300 }),
      svg("line", { class: "axis", x1: 20, y1: 300, x2: 20, y2: 10 }));
    const across = svg("text", { x: 390, y: 314, "text-anchor": "end" });
    across.textContent = "component 1 →";
    const up = svg("text", { x: 6, y: 300, transform: "rotate(-90 6 300)" });
    up.textContent = "component 2 →";
    map.append(across, up);
  }

  function drawLegend(clusters, noise) {
    const entries = clusters.map((c) => [colourOf(c.id), `cluster ${c.id}${c.label ? ` "${c.label}"` : ""}`]);
    if (noise) entries.push([colourOf(null), "noise"]);
    $("#cluster-legend").replaceChildren(...entries.map(([colour, text]) =>
      el("li", {}, el("span", { class: "swatch", style: `background:${colour}` }), text)));
    $("#cluster-legend").hidden = !entries.length;
  }

  function drawMap(items) {
    const map = $("#cluster-map");
    map.replaceChildren();
    // An SVG element has no .hidden property: the attribute itself is toggled.
    map.toggleAttribute("hidden", !items.length);
    if (!items.length) return;
    drawAxes(map);
    const xs = items.map((i) => i.x), ys = items.map((i) => i.y);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    const scale = (v, lo, hi, size) => 30 + ((v - lo) / ((hi - lo) || 1)) * (size - 50);
    for (const item of items) {
      const colour = colourOf(item.cluster);
      const dot = svg("circle", { cx: scale(item.x, x0, x1, 400), cy: 310 - scale(item.y, y0, y1, 310), r: 6,
        fill: colour, class: "point", "data-id": item.id, "data-cluster": String(item.cluster) });
      const title = svg("title");
      const named = item.label ? ` (${item.label}, ${Number(item.label_confidence).toFixed(2)})` : "";
      title.textContent = `${item.name || item.id}${named}`;
      dot.append(title);
      map.append(dot);
    }
  }

  async function showClusters(collection, result) {
    const sheets = [];
    for (const cluster of result.clusters) {
      const label = cluster.label
        ? ` "${cluster.label}" (confidence ${Number(cluster.label_confidence).toFixed(2)})` : "";
      const title = `cluster ${cluster.id}${label}: ${cluster.members.length} items`;
      const node = await sheet(title, collection, cluster.members);
      node.dataset.cluster = String(cluster.id);
      node.style.borderLeft = `4px solid ${PALETTE[cluster.id % PALETTE.length]}`;
      sheets.push(node);
    }
    if (result.noise && result.noise.length) sheets.push(await sheet("noise", collection, result.noise));
    $("#cluster-sheets").replaceChildren(...sheets);
    drawMap(result.items || []);
    drawLegend(result.items && result.items.length ? result.clusters : [], Boolean(result.noise && result.noise.length));
  }

  function clearClusters() {
    $("#cluster-sheets").replaceChildren();
    drawMap([]);
    drawLegend([], false);
  }

  function setupAnalysis() {
    const panel = $("#analysis-panel");
    $("#dedup-run").addEventListener("click", () => run(panel, async () => {
      const name = $("#analysis-collection").value;
      need(name, "create or pick a collection first");
      const result = await resultOrJob(`/v1/collections/${seg(name)}/dedup`, { method: $("#dedup-method").value });
      await showDedup(name, result);
    }, () => $("#dedup-result").replaceChildren()));
    $("#cluster-run").addEventListener("click", () => run(panel, async () => {
      const name = $("#analysis-collection").value;
      need(name, "create or pick a collection first");
      const body = { method: $("#cluster-method").value };
      const k = Number($("#cluster-k").value);
      if (k) body.k = k;
      const labels = $("#cluster-labels").value.split(",").map((s) => s.trim()).filter(Boolean);
      if (labels.length) body.labels = labels;
      const threshold = $("#cluster-label-threshold").value;
      if (labels.length && threshold !== "") body.label_threshold = Number(threshold);
      await showClusters(name, await resultOrJob(`/v1/collections/${seg(name)}/cluster`, body));
    }, clearClusters));
  }

  function drawDetections(image, result) {
    const canvas = $("#detect-canvas");
    canvas.width = result.width;
    canvas.height = result.height;
    const context = canvas.getContext("2d");
    context.drawImage(image, 0, 0, result.width, result.height);
    const line = Math.max(2, Math.round(Math.max(result.width, result.height) / 200));
    context.lineWidth = line;
    context.font = `${Math.max(12, line * 6)}px sans-serif`;
    result.detections.forEach((d, i) => {
      const [x1, y1, x2, y2] = d.box;
      context.strokeStyle = PALETTE[i % PALETTE.length];
      context.strokeRect(x1, y1, x2 - x1, y2 - y1);
      const text = `${d.label} ${d.score.toFixed(2)}`;
      context.fillStyle = PALETTE[i % PALETTE.length];
      context.fillRect(x1, Math.max(0, y1 - line * 8), context.measureText(text).width + 8, line * 8);
      context.fillStyle = "#fff";
      context.fillText(text, x1 + 4, Math.max(line * 6, y1 - line * 2));
    });
    canvas.hidden = false;
    $("#detect-list").replaceChildren(...result.detections.map((d) => el("li", { "data-label": d.label,
      "data-box": JSON.stringify(d.box),
      text: `${d.label}: ${d.score.toFixed(3)} at [${d.box.map((v) => Math.round(v)).join(", ")}]` })));
    say($("#detect-empty"), result.detections.length ? "" : "Nothing detected for these classes. Try " +
      "other classes (the tiny model knows only generated shapes, a photo model finds real objects).");
  }

  function clearDetections() {
    $("#detect-canvas").hidden = true;
    $("#detect-list").replaceChildren();
    say($("#detect-empty"), "");
  }

  function setupDetect() {
    const panel = $("#detect-panel");
    $("#detect-run").addEventListener("click", () => run(panel, async () => {
      const file = $("#detect-file").files[0];
      need(file, "pick an image to detect in");
      const raw = $("#detect-classes").value.trim();
      const classes = raw === "fashion" || !raw ? "fashion" : raw.split(",").map((s) => s.trim()).filter(Boolean);
      const body = { image: await fileToDataUrl(file), classes, top_k: Number($("#detect-top-k").value) || 10 };
      const result = await api("POST", "/v1/detect", { json: body });
      const image = new Image();
      image.src = URL.createObjectURL(file);
      await image.decode();
      drawDetections(image, result);
    }, clearDetections));
  }

  document.addEventListener("DOMContentLoaded", () => {
    setupAnalysis();
    setupDetect();
  });
})();
