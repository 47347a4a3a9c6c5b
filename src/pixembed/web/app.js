// pixembed's web page: plain JavaScript against the native /v1 API, no framework and no build step.
"use strict";

const $ = (selector, root = document) => root.querySelector(selector);
const KEY_STORAGE = "pixembed.apiKey";

// ---- the API: every call sends the key (if any) as a Bearer token; errors carry the body's message ----
class ApiError extends Error {
  constructor(status, body, message) {
    super(message || (body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.error;
  }
}

// A 401 or 403 is about the key field at the top, whatever header names the server's message mentions.
function authMessage(status, body) {
  const said = (body && body.message) || "";
  if (status === 403) return `The key in the API key field (top right) may not do this: ${said}`;
  if (!$("#api-key").value.trim()) {
    return "This server wants an API key: type it in the API key field (top right), then try again.";
  }
  return `The server refused the key in the API key field (top right): ${said || "invalid API key"}. ` +
    "Check it, or ask for one made with `pixembed keys create`.";
}

// The banner under the header says what is wrong with the key; the next answered request clears it.
let authBannerShown = false;
function showAuthProblem(message) {
  showGlobalError({ message });
  $("#api-key").closest("label").classList.add("wanted");
  authBannerShown = true;
}
function clearAuthProblem() {
  if (!authBannerShown) return;
  authBannerShown = false;
  showGlobalError(null);
  $("#api-key").closest("label").classList.remove("wanted");
}

function authHeaders() {
  const key = $("#api-key").value.trim();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

async function api(method, path, { json, form } = {}) {
  const headers = authHeaders();
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form;
  }
  const response = await fetch(path, { method, headers, body });
  if (response.status !== 401 && response.status !== 403) clearAuthProblem();
  if (response.status === 204) return null;
  const text = await response.text();
  let parsed = null;
  try { parsed = text ? JSON.parse(text) : null; } catch (_) { parsed = { message: text }; }
  if (response.status === 401 || response.status === 403) {
    const message = authMessage(response.status, parsed);
    showAuthProblem(message);
    throw new ApiError(response.status, parsed, message);
  }
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

const seg = (value) => encodeURIComponent(value);

// Thumbnails need the key too, so they are fetched (not linked) and shown from blob URLs.
const thumbnailCache = new Map();
async function thumbnailUrl(collection, id) {
  const cacheKey = `${collection}\u0000${id}`;
  if (!thumbnailCache.has(cacheKey)) {
    thumbnailCache.set(cacheKey, (async () => {
      const response = await fetch(`/v1/collections/${seg(collection)}/items/${seg(id)}/thumbnail`,
        { headers: authHeaders() });
      if (response.ok) return URL.createObjectURL(await response.blob());
      // A region ("<parent>#<n>") stored before regions had thumbnails of their own: show its parent's.
      const hash = id.lastIndexOf("#");
      return hash > 0 ? thumbnailUrl(collection, id.slice(0, hash)) : null;
    })());
  }
  return thumbnailCache.get(cacheKey);
}

// ---- small UI helpers ----
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function svg(tag, attrs = {}) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  return node;
}

function panelError(panel, error) {
  const box = $(".error", panel);
  if (!error) { box.hidden = true; box.textContent = ""; return; }
  box.textContent = error.message || String(error);
  box.hidden = false;
}

// Run an action for a panel: clear its error and its previous result (so nothing stale stays under a new
// request), mark it busy, and show the API's message if it fails.
async function run(panel, action, clear = () => {}) {
  panelError(panel, null);
  clear();
  const buttons = panel.querySelectorAll("button");
  buttons.forEach((b) => { b.disabled = true; });
  panel.setAttribute("aria-busy", "true");
  try { await action(); } catch (error) { panelError(panel, error); } finally {
    panel.removeAttribute("aria-busy");
    buttons.forEach((b) => { b.disabled = false; });
  }
}

// An empty-state line: shown with its text, or hidden when text is empty.
function say(node, text) {
  node.textContent = text || "";
  node.hidden = !text;
}

// A file input fires change only when its value changes, so picking the same file twice would send
// nothing: clearing the value as the picker opens makes every pick count.
function repickable(input) {
  input.addEventListener("click", () => { input.value = ""; });
}

function need(condition, message) { if (!condition) throw new Error(message); }

function fileToDataUrl(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

// Drag-and-drop onto any .drop label fills its file input and fires change.
function enableDrop(label) {
  const input = $("input[type=file]", label);
  label.addEventListener("dragover", (event) => { event.preventDefault(); label.classList.add("over"); });
  label.addEventListener("dragleave", () => label.classList.remove("over"));
  label.addEventListener("drop", (event) => {
    event.preventDefault();
    label.classList.remove("over");
    input.files = event.dataTransfer.files;
    input.dispatchEvent(new Event("change"));
  });
}

// A file name or id that may break only after _ - . / (not mid-word): a <wbr> after each.
function breakable(text) {
  const node = el("div", { class: "id" });
  for (const part of text.split(/(?<=[_\-./#])/)) node.append(part, el("wbr"));
  return node;
}

function card(imageSrc, caption, score, extraClass = "") {
  const image = el("img", { alt: caption });
  if (imageSrc) image.src = imageSrc;
  const node = el("figure", { class: `card ${extraClass}`.trim(), "data-id": caption }, image,
    breakable(caption));
  if (score !== undefined && score !== null) node.append(el("div", { class: "score", text: score.toFixed(3) }));
  return node;
}

async function collectionCard(collection, id, score, extraClass) {
  return card(await thumbnailUrl(collection, id), id, score, extraClass);
}

// ---- embed ----
function plotVector(target, vector) {
  target.replaceChildren();
  const width = 512, height = 120, mid = height / 2;
  const peak = Math.max(...vector.map(Math.abs)) || 1;
  const step = width / vector.length;
  vector.forEach((value, i) => {
    const h = (Math.abs(value) / peak) * (mid - 2);
    target.append(svg("rect", { x: i * step, width: Math.max(step * 0.9, 0.5), y: value >= 0 ? mid - h : mid,
      height: h, class: value >= 0 ? "pos" : "neg" }));
  });
  target.append(svg("line", { x1: 0, x2: width, y1: mid, y2: mid, stroke: "#999", "stroke-width": 0.5 }));
}

function clearEmbed() {
  $("#embed-result").hidden = true;
  delete $("#embed-result").dataset.file;
  $("#embed-preview").removeAttribute("src");
  $("#embed-plot").replaceChildren();
  for (const id of ["#embed-model", "#embed-dims", "#embed-norm"]) $(id).textContent = "";
}

function setupEmbed() {
  const panel = $("#embed-panel");
  $("#embed-file").addEventListener("change", () => run(panel, async () => {
    const file = $("#embed-file").files[0];
    need(file, "pick an image first");
    const form = new FormData();
    form.append("image", file, file.name);
    const result = await api("POST", "/v1/embed", { form });
    const vector = result.vector;
    $("#embed-model").textContent = result.model;
    $("#embed-dims").textContent = String(result.dimensions);
    $("#embed-norm").textContent = Math.hypot(...vector).toFixed(3);
    $("#embed-preview").src = URL.createObjectURL(file);
    plotVector($("#embed-plot"), vector);
    $("#embed-result").dataset.file = file.name;
    $("#embed-result").hidden = false;
  }, clearEmbed));
}

// ---- compare ----
function setupCompare() {
  const panel = $("#compare-panel");
  $("#compare-run").addEventListener("click", () => run(panel, async () => {
    const file = $("#compare-file").files[0];
    need(file, "pick an image to compare");
    const form = new FormData();
    form.append("image", file, file.name);
    $("#compare-labels").value.split("\n").map((s) => s.trim()).filter(Boolean)
      .forEach((label) => form.append("prompts", label));
    const result = await api("POST", "/v1/compare", { form });
    const rows = result.ranking.map((r) => el("div", { class: "bar", "data-label": r.prompt },
      el("span", { class: "label", text: r.prompt }),
      el("div", { class: "track" }, el("div", { class: "fill", style: `width:${(r.probability * 100).toFixed(1)}%` })),
      el("span", { class: "cosine", title: "cosine similarity", text: `cos ${r.similarity.toFixed(3)}` }),
      el("span", { class: "prob", title: "share among these labels", text: `${(r.probability * 100).toFixed(1)}%` })));
    $("#compare-result").replaceChildren(...rows);
    $("#compare-note").hidden = false;
  }, () => { $("#compare-result").replaceChildren(); $("#compare-note").hidden = true; }));
}

// ---- collections ----
const knownCollections = new Map();  // name -> the listing's entry, for empty-state messages

async function refreshCollections() {
  const list = await api("GET", "/v1/collections");
  knownCollections.clear();
  list.data.forEach((c) => knownCollections.set(c.name, c));
  const rows = list.data.map((c) => {
    const remove = el("button", { class: "delete", text: "Delete" });
    remove.addEventListener("click", () => run($("#collections-panel"), async () => {
      if (!window.confirm(`Delete ${c.name} and its ${c.count} items?`)) return;
      await api("DELETE", `/v1/collections/${seg(c.name)}`);
      await refreshCollections();
    }));
    return el("tr", { "data-name": c.name }, el("td", { text: c.name }), el("td", { text: c.model }),
      el("td", { text: String(c.dimensions) }), el("td", { class: "count", text: String(c.count) }),
      el("td", {}, remove));
  });
  $("#collections-table tbody").replaceChildren(...rows);
  $("#collections-table").hidden = !rows.length;
  $("#collections-empty").hidden = Boolean(rows.length);
  for (const select of document.querySelectorAll(".collection-select")) {
    const chosen = select.value;
    const options = list.data.map((c) => el("option", { value: c.name, text: c.name }));
    select.replaceChildren(...(options.length ? options : [el("option", { value: "", text: "no collections yet" })]));
    select.disabled = !options.length;
    if (list.data.some((c) => c.name === chosen)) select.value = chosen;
  }
}

function setupCollections() {
  const panel = $("#collections-panel");
  $("#collections-refresh").addEventListener("click", () => run(panel, refreshCollections));
  $("#collection-create").addEventListener("click", () => run(panel, async () => {
    const name = $("#collection-name").value.trim();
    need(name, "type a name for the new collection");
    await api("POST", "/v1/collections", { json: { name } });
    await refreshCollections();
    document.querySelectorAll(".collection-select").forEach((s) => { s.value = name; });
  }));
  $("#add-run").addEventListener("click", () => run(panel, async () => {
    const name = $("#add-collection").value;
    const files = [...$("#add-files").files];
    need(name, "create a collection first");
    need(files.length, "pick images to add");
    const form = new FormData();
    for (const file of files) {
      form.append("image", file, file.name);
      form.append("id", file.name);
      form.append("metadata", JSON.stringify({ filename: file.name }));
    }
    const result = await api("POST", `/v1/collections/${seg(name)}/items`, { form });
    thumbnailCache.clear();  // a re-added id has a new picture
    const failed = result.data.filter((d) => d.error);
    $("#add-status").textContent = `added ${result.written} of ${files.length} to ${name}` +
      (failed.length ? `; failed: ${failed.map((d) => `${files[d.index].name} (${d.error.message})`).join(", ")}` : "");
    await refreshCollections();
  }));
}

// ---- search ----
function setupSearch() {
  const panel = $("#search-panel");
  $("#search-run").addEventListener("click", () => run(panel, async () => {
    const target = $("input[name=search-target]:checked").value;
    const text = $("#search-text").value.trim();
    const image = $("#search-image").files[0];
    const topK = Number($("#search-top-k").value) || 6;
    need(Boolean(text) !== Boolean(image), "give a text query or a query image (one of them)");
    let cards;
    if (target === "posted") {
      const files = [...$("#search-set").files];
      need(files.length, "pick the images to search among");
      const form = new FormData();
      if (text) form.append("query_text", text); else form.append("query", image, image.name);
      files.forEach((file) => form.append("dataset", file, file.name));
      form.append("top_k", String(topK));
      const result = await api("POST", "/v1/embed/search", { form });
      cards = result.results.map((hit) =>
        card(URL.createObjectURL(files[hit.index]), hit.filename || `#${hit.index}`, hit.similarity));
    } else {
      const name = $("#search-collection").value;
      need(name, "create or pick a collection first");
      const path = `/v1/collections/${seg(name)}/search`;
      let result;
      if (text) {
        result = await api("POST", path, { json: { text, top_k: topK } });
      } else {
        const form = new FormData();
        form.append("image", image, image.name);
        form.append("top_k", String(topK));
        result = await api("POST", path, { form });
      }
      cards = await Promise.all(result.results.map((m) => collectionCard(name, m.id, m.score)));
      if (!cards.length) {
        const known = knownCollections.get(name);
        say($("#search-empty"), known && known.count === 0
          ? `Nothing found: the collection "${name}" has no items yet. Add images to it under Collections.`
          : "Nothing found: no item matches (check the filter or the query).");
      }
    }
    if (target === "posted" && !cards.length) say($("#search-empty"), "Nothing found among the posted images.");
    $("#search-results").replaceChildren(...cards);
  }, () => { $("#search-results").replaceChildren(); say($("#search-empty"), ""); }));
}

// ---- page ----
// The tiny test model knows only generated shapes: "fashion" would find nothing, so Detect starts with its
// shapes and says why.
const TINY_MODEL = "pixembed-tiny";
const TINY_CLASSES = "a red circle, a blue square, a green triangle, a yellow star";

function fitDetectToModel(model) {
  if (model !== TINY_MODEL) return;
  const classes = $("#detect-classes");
  if (classes.value.trim() === "fashion") classes.value = TINY_CLASSES;
  $("#detect-hint").textContent = "The server runs pixembed-tiny, which knows only generated shapes and " +
    "colours, so the classes start as its shapes; \"fashion\" needs a photo model.";
}

async function showModel() {
  try {
    const models = await api("GET", "/v1/models");
    $("#model-info").textContent = models.loaded
      ? `model: ${models.loaded.model} (${models.loaded.dimensions}-d)` : "model: loading…";
    if (models.loaded) fitDetectToModel(models.loaded.model);
  } catch (error) {
    $("#model-info").textContent = `model: ${error.message}`;
  }
}

function setupKey() {
  const input = $("#api-key");
  input.value = window.localStorage.getItem(KEY_STORAGE) || "";
  input.addEventListener("change", () => {
    window.localStorage.setItem(KEY_STORAGE, input.value.trim());
    thumbnailCache.clear();
    refreshCollections().catch(showGlobalError);
  });
}

function showGlobalError(error) {
  const box = $("#global-error");
  box.textContent = error ? error.message : "";
  box.hidden = !error;
}

window.pixembed = {
  api, run, el, svg, seg, need, say, card, collectionCard, fileToDataUrl, refreshCollections,
};

document.addEventListener("DOMContentLoaded", () => {
  setupKey();
  document.querySelectorAll("input[type=file]").forEach(repickable);
  document.querySelectorAll(".drop").forEach(enableDrop);
  setupEmbed();
  setupCompare();
  setupCollections();
  setupSearch();
  showModel();
  refreshCollections().then(() => showGlobalError(null), showGlobalError);
});
