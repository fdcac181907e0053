// spritegan studio: plain JS over the JSON API (no build step, no external assets).
"use strict";

const $ = (id) => document.getElementById(id);
const state = { models: [], model: null, sprites: [], picked: [], urls: [] };

function setStatus(text, isError = false) {
  const el = $("status");
  el.textContent = text;
  el.classList.toggle("error", isError);
}

async function api(path, body) {
  const res = await fetch(path, {
    method: body ? "POST" : "GET",
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) {
    let detail = res.statusText;
    try { detail = (await res.json()).detail || detail; } catch (e) { /* not JSON */ }
    throw new Error(`${res.status}: ${detail}`);
  }
  return res;
}

function currentTraits() {
  if (!state.model || !state.model.conditional) return null;
  const traits = {};
  // "(any)" leaves a trait unasked: the server draws it from the training data, given the asked ones
  for (const el of $("traits").querySelectorAll("[data-trait]")) {
    if (el.value === "") continue;
    traits[el.dataset.trait] = el.dataset.kind === "binary" ? Number(el.value) : el.value;
  }
  return traits;
}

function baseRequest() {
  return {
    model: state.model.name,
    traits: currentTraits(),
    truncation: parseFloat($("truncation").value),
    palette: $("palette-toggle").checked,
  };
}

// tileable runs: each tile is shown repeated 3x3, so a seam would show as a grid of lines
function tileRepeat() {
  return state.model && state.model.tileable && $("tile-toggle").checked ? 3 : 1;
}

// runs with a trained sheet reader or refiner: each seed keeps the best of K latents (1: off)
function bestOf() {
  return state.model && state.model.best_of_rank ? parseInt($("best-of").value, 10) || 1 : 1;
}

function seedRange() {
  const start = Math.max(0, parseInt($("seed-start").value, 10) || 0);
  const count = Math.max(1, parseInt($("seed-count").value, 10) || 1);
  return { start, count };
}

function renderInfo(m) {
  const info = $("model-info");
  info.replaceChildren();
  const rows = [
    ["size", `${m.size[0]}×${m.size[1]}, ${m.channels} ch`],
    ["step", m.step ?? "?"],
    ["preset", m.preset ?? "?"],
    ["FID", m.metrics && m.metrics.fid !== undefined ? Number(m.metrics.fid).toFixed(2) : "not measured"],
  ];
  for (const [k, v] of rows) {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = v;
    dd.dataset.testid = `info-${k.toLowerCase()}`;
    info.append(dt, dd);
  }
  const sheet = $("model-sheet");
  sheet.hidden = !m.sheet_url;
  if (m.sheet_url) sheet.src = m.sheet_url;
}

function renderTraits(m) {
  const box = $("traits");
  box.querySelectorAll(".row").forEach((el) => el.remove());
  box.hidden = !m.conditional;
  for (const t of m.traits) {
    const row = document.createElement("div");
    const label = document.createElement("label");
    label.htmlFor = `trait-${t.name}`;
    label.textContent = t.name;
    row.className = "row";
    const input = document.createElement("select");
    input.add(new Option("(any)", ""));
    if (t.kind === "categorical") {
      for (const c of t.classes) input.add(new Option(c, c));
    } else {
      input.add(new Option("yes", "1"));
      input.add(new Option("no", "0"));
    }
    input.id = `trait-${t.name}`;
    input.dataset.trait = t.name;
    input.dataset.kind = t.kind;
    input.dataset.testid = `trait-${t.name}`;
    input.addEventListener("change", generate);
    row.append(label, input);
    box.append(row);
  }
}

function renderDirections(m) {
  const box = $("directions");
  box.replaceChildren();
  $("edit-panel").hidden = !m.directions.length;
  for (const name of m.directions) {
    const row = document.createElement("div");
    row.className = "direction";
    const label = document.createElement("label");
    label.htmlFor = `direction-${name}`;
    label.textContent = name;
    const input = document.createElement("input");
    Object.assign(input, { type: "range", min: -5, max: 5, step: 0.25, value: 0, id: `direction-${name}` });
    input.dataset.direction = name;
    input.dataset.testid = `direction-${name}`;
    input.addEventListener("change", edit);
    row.append(label, input);
    box.append(row);
  }
}

function selectModel(name) {
  state.model = state.models.find((m) => m.name === name) || null;
  state.picked = [];
  if (!state.model) return;
  // large sprites start small enough that a screen holds many of them: 4x up to 32 px, about 128 px above
  $("zoom").value = Math.min(4, Math.max(1, Math.floor(128 / Math.max(...state.model.size))));
  $("zoom-value").textContent = `${$("zoom").value}x`;
  $("tile-row").hidden = !state.model.tileable;
  $("best-row").hidden = !state.model.best_of_rank;
  $("best-label").title = state.model.best_of_rank === "reader"
    ? "keeps the latent whose frames the sheet reader reads surest as one character"
    : "keeps the latent the refiner changes least";
  renderInfo(state.model);
  renderTraits(state.model);
  renderDirections(state.model);
  updateMorphPanel();
  generate();
}

function applyZoom() {
  const zoom = parseInt($("zoom").value, 10);
  $("zoom-value").textContent = `${zoom}x`;
  if (!state.model) return;
  const [h, w] = state.model.size;
  const repeat = parseInt($("sprite-grid").dataset.repeat || "1", 10);
  for (const img of $("sprite-grid").querySelectorAll("img")) {
    img.style.width = `${w * repeat * zoom}px`;
    img.style.height = `${h * repeat * zoom}px`;
  }
  for (const id of ["morph-result", "edit-result"]) {
    const img = $(id);
    if (img.naturalWidth) img.style.width = `${(img.naturalWidth * zoom) / Math.max(1, img.dataset.scale || 1)}px`;
  }
}

async function generate() {
  if (!state.model) return;
  const { start, count } = seedRange();
  setStatus(`generating ${count} sprites…`);
  try {
    const repeat = tileRepeat();
    const request = { ...baseRequest(), seed: start, count, repeat, best_of: bestOf(), format: "json" };
    const res = await api("/api/generate", request);
    const data = await res.json();
    state.urls.forEach((u) => URL.revokeObjectURL(u));
    state.urls = [];
    state.sprites = data.sprites;
    state.picked = state.picked.filter((s) => data.sprites.some((x) => x.seed === s));
    const grid = $("sprite-grid");
    grid.replaceChildren();
    grid.dataset.repeat = String(repeat);
    for (const s of data.sprites) {
      const fig = document.createElement("figure");
      fig.className = "sprite";
      fig.dataset.seed = s.seed;
      fig.dataset.testid = `sprite-${s.seed}`;
      const img = document.createElement("img");
      img.className = "pixel checker";
      img.alt = `seed ${s.seed}`;
      img.src = `data:image/png;base64,${s.png}`;
      const cap = document.createElement("figcaption");
      cap.textContent = s.seed;
      fig.append(img, cap);
      fig.addEventListener("click", () => pick(s.seed));
      grid.append(fig);
    }
    grid.dataset.generation = String((parseInt(grid.dataset.generation || "0", 10) || 0) + 1);
    applyZoom();
    updateMorphPanel();
    setStatus(`seeds ${start}–${start + count - 1}`);
  } catch (err) {
    setStatus(err.message, true);
  }
}

function pick(seed) {
  const i = state.picked.indexOf(seed);
  if (i >= 0) state.picked.splice(i, 1);
  else {
    state.picked.push(seed);
    if (state.picked.length > 2) state.picked.shift();
  }
  updateMorphPanel();
  if (state.picked.length === 2) morph("png");
  else if (state.model.directions.length) edit();
}

function updateMorphPanel() {
  for (const fig of $("sprite-grid").children) {
    fig.classList.toggle("picked", state.picked.includes(parseInt(fig.dataset.seed, 10)));
  }
  const ready = state.picked.length === 2;
  $("morph-pair").textContent = ready ? `seed ${state.picked[0]} → seed ${state.picked[1]}` : "pick two sprites";
  $("morph-btn").disabled = !ready;
  $("morph-gif").disabled = !ready;
}

async function morph(format) {
  if (state.picked.length !== 2) return;
  const frames = parseInt($("morph-frames").value, 10) || 8;
  const body = { ...baseRequest(), seed_a: state.picked[0], seed_b: state.picked[1], frames,
    mode: $("morph-mode").value, format };
  setStatus("morphing…");
  try {
    const blob = await (await api("/api/morph", body)).blob();
    if (format === "gif") {
      saveBlob(blob, `${state.model.name}-morph-${state.picked[0]}-${state.picked[1]}.gif`);
    } else {
      const img = $("morph-result");
      img.onload = applyZoom;
      img.src = URL.createObjectURL(blob);
      img.hidden = false;
    }
    setStatus(`morph ${state.picked[0]} → ${state.picked[1]}, ${frames} frames`);
  } catch (err) {
    setStatus(err.message, true);
  }
}

async function edit() {
  const seed = state.picked[state.picked.length - 1];
  if (seed === undefined || !state.model.directions.length) return;
  const directions = {};
  for (const el of $("directions").querySelectorAll("[data-direction]")) directions[el.dataset.direction] = parseFloat(el.value);
  try {
    const blob = await (await api("/api/edit", { ...baseRequest(), seed, directions })).blob();
    const img = $("edit-result");
    img.onload = applyZoom;
    img.src = URL.createObjectURL(blob);
    img.hidden = false;
  } catch (err) {
    setStatus(err.message, true);
  }
}

function saveBlob(blob, filename) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

async function download(kind) {
  if (!state.model) return;
  const scale = Math.max(1, parseInt($("download-scale").value, 10) || 1);
  const { start, count } = seedRange();
  const body = { ...baseRequest(), scale, best_of: bestOf() };  // what the grid shows
  let name;
  if (kind === "png") {
    const seed = state.picked.length ? state.picked[state.picked.length - 1] : start;
    Object.assign(body, { seeds: [seed], format: "png" });
    name = `${state.model.name}-seed${seed}.png`;
  } else {
    Object.assign(body, { seed: start, count, format: kind === "zip" ? "zip" : "sheet" });
    name = `${state.model.name}-seeds${start}-${start + count - 1}.${kind === "zip" ? "zip" : "png"}`;
  }
  try {
    const blob = await (await api("/api/generate", body)).blob();
    const status = $("status");
    status.dataset.lastDownload = `${blob.type} ${blob.size}`;
    saveBlob(blob, name);
    setStatus(`downloaded ${name} (${blob.size} bytes)`);
  } catch (err) {
    setStatus(err.message, true);
  }
}

async function init() {
  $("truncation").addEventListener("input", () => {
    $("truncation-value").textContent = parseFloat($("truncation").value).toFixed(2);
  });
  $("truncation").addEventListener("change", generate);
  $("zoom").addEventListener("input", applyZoom);
  $("palette-toggle").addEventListener("change", generate);
  $("tile-toggle").addEventListener("change", generate);
  $("best-of").addEventListener("change", generate);
  $("generate-btn").addEventListener("click", generate);
  $("seed-start").addEventListener("change", generate);
  $("seed-count").addEventListener("change", generate);
  const step = (sign) => {
    const { start, count } = seedRange();
    $("seed-start").value = Math.max(0, start + sign * count);
    generate();
  };
  $("prev-btn").addEventListener("click", () => step(-1));
  $("next-btn").addEventListener("click", () => step(1));
  $("morph-btn").addEventListener("click", () => morph("png"));
  $("morph-gif").addEventListener("click", () => morph("gif"));
  $("download-png").addEventListener("click", () => download("png"));
  $("download-sheet").addEventListener("click", () => download("sheet"));
  $("download-zip").addEventListener("click", () => download("zip"));
  $("model-select").addEventListener("change", (e) => selectModel(e.target.value));
  try {
    const data = await (await api("/api/models")).json();
    state.models = data.models;
    $("seed-count").max = data.limits.max_count;
    $("morph-frames").max = data.limits.max_frames;
    for (const m of data.models) $("model-select").add(new Option(`${m.name} (${m.size[0]}×${m.size[1]})`, m.name));
    if (!data.models.length) setStatus("no models: put run folders (with generator.safetensors) in RUNS_DIR", true);
    else selectModel(data.models[0].name);
  } catch (err) {
    setStatus(err.message, true);
  }
}

init();
