// SAM2 playground: one image, points and boxes, masks from POST /api/v1/images/{id}/segment (docs/api.md).
// Plain script, no build step, no network but this server. Events for scripts and tests on document:
//   sam2:ready {imageId, width, height, cached}   the embedding exists, clicks can start
//   sam2:mask  {seq, score, decodeMs, shownMs, area, bbox}  a mask was drawn on #overlay (shownMs: prompt → drawn)
//   sam2:download {name}                          a file download was started
//   sam2:error {message}
// window.sam2 holds counters (readyCount, maskCount, downloadCount) so a waiter that arrives late does not miss an event,
// and lastMask (the last sam2:mask detail).
"use strict";

(() => {
  const api = new URL("../api/v1/", document.baseURI);
  const $ = (id) => document.getElementById(id);
  const imageCanvas = $("image"), overlay = $("overlay"), marks = $("marks");
  const colours = [[30, 144, 255], [255, 99, 71], [50, 205, 50], [238, 130, 238], [255, 215, 0], [0, 206, 209]];
  const DRAG_PIXELS = 5; // screen pixels of movement that turn a click into a box

  const sam2 = { readyCount: 0, maskCount: 0, downloadCount: 0, imageId: null, info: null };
  window.sam2 = sam2;

  let image = null;          // {id, width, height, name}
  let objects = [];          // committed: {prompt, result, layer, colour}
  let current = null;        // the object being edited
  let seq = 0;               // last segment request sent; older answers are dropped
  let drag = null;           // {x0, y0, sx, sy, box}

  const newObject = () => ({ points: [], labels: [], box: null, undo: [], result: null, layer: null, colour: colours[objects.length % colours.length] });

  function emit(name, detail) {
    document.dispatchEvent(new CustomEvent("sam2:" + name, { detail }));
  }

  function status(text, state, progress) {
    $("status-text").textContent = text;
    if (state) document.body.dataset.state = state;
    const bar = $("progress");
    bar.hidden = progress === undefined;
    if (progress === null) bar.removeAttribute("value");
    else if (progress !== undefined) bar.value = progress;
  }

  function fail(message) {
    status(message, "error");
    emit("error", { message });
  }

  async function errorText(response) {
    try {
      const body = await response.json();
      return body.detail || response.statusText;
    } catch {
      return response.status + " " + response.statusText;
    }
  }

  // ---- limits and outputs the server offers ----
  const info = fetch(new URL("info", api)).then((r) => (r.ok ? r.json() : null)).catch(() => null).then((i) => {
    sam2.info = i;
    $("outline-toggle").hidden = !(i && i.outputs.includes("polygons"));
    return i;
  });

  // ---- opening an image ----
  $("file").addEventListener("change", (e) => {
    if (e.target.files.length) open(e.target.files[0]);
    e.target.value = "";
  });
  document.addEventListener("dragover", (e) => { e.preventDefault(); document.body.classList.add("dragging"); });
  document.addEventListener("dragleave", (e) => { if (e.target === document.documentElement || !e.relatedTarget) document.body.classList.remove("dragging"); });
  document.addEventListener("drop", (e) => {
    e.preventDefault();
    document.body.classList.remove("dragging");
    const file = [...(e.dataTransfer?.files || [])].find((f) => f.type.startsWith("image/")) || e.dataTransfer?.files[0];
    if (file) open(file);
  });

  async function open(file) {
    status("Reading " + file.name + "…", "uploading", null);
    let bitmap;
    try {
      // EXIF orientation applied, as the server's frame is (prompts are in pixels of the oriented image).
      bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
    } catch {
      fail(file.name + " is not an image this browser can show.");
      return;
    }
    image = null;
    objects = [];
    current = newObject();
    for (const c of [imageCanvas, overlay, marks]) { c.width = bitmap.width; c.height = bitmap.height; }
    imageCanvas.getContext("2d").drawImage(bitmap, 0, 0);
    bitmap.close();
    overlay.getContext("2d").clearRect(0, 0, overlay.width, overlay.height);
    marks.getContext("2d").clearRect(0, 0, marks.width, marks.height);
    $("stage").hidden = false;
    updateButtons();

    const form = new FormData();
    form.append("image", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", new URL("images", api));
    xhr.responseType = "json";
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) status(`Uploading ${file.name}: ${Math.round((100 * e.loaded) / e.total)}%`, "uploading", e.loaded / e.total);
    };
    xhr.upload.onload = () => status("Encoding the image (the encoder runs once per image)…", "encoding", null);
    xhr.onerror = () => fail("The upload failed: the server cannot be reached.");
    xhr.onload = () => {
      const body = xhr.response;
      if (xhr.status !== 200) {
        fail((body && body.detail) || `The upload failed (HTTP ${xhr.status}).`);
        return;
      }
      image = { id: body.image_id, width: body.width, height: body.height, name: file.name };
      sam2.imageId = image.id;
      status(`Ready: ${body.width}×${body.height}${body.cached ? " (embedding was cached)" : ""}. Click on an object.`, "ready");
      sam2.readyCount++;
      emit("ready", { imageId: image.id, width: image.width, height: image.height, cached: body.cached });
    };
    xhr.send(form);
  }

  // ---- prompts ----
  function toImage(e) {
    const r = marks.getBoundingClientRect();
    return [((e.clientX - r.left) * marks.width) / r.width, ((e.clientY - r.top) * marks.height) / r.height];
  }

  marks.addEventListener("contextmenu", (e) => e.preventDefault());
  marks.addEventListener("pointerdown", (e) => {
    if (!image) return;
    e.preventDefault();
    marks.setPointerCapture(e.pointerId);
    const [x, y] = toImage(e);
    drag = { x0: x, y0: y, sx: e.clientX, sy: e.clientY, box: null, negative: e.button === 2 || e.altKey };
  });
  marks.addEventListener("pointermove", (e) => {
    if (!drag) return;
    if (!drag.box && Math.hypot(e.clientX - drag.sx, e.clientY - drag.sy) < DRAG_PIXELS) return;
    const [x, y] = toImage(e);
    drag.box = [Math.min(drag.x0, x), Math.min(drag.y0, y), Math.max(drag.x0, x), Math.max(drag.y0, y)];
    drawMarks();
  });
  marks.addEventListener("pointerup", (e) => {
    if (!drag) return;
    const d = drag;
    drag = null;
    if (d.box) {
      current.undo.push({ kind: "box", previous: current.box });
      current.box = d.box.map((v, i) => clamp(v, i % 2 === 0 ? image.width : image.height));
    } else {
      current.points.push([clamp(d.x0, image.width), clamp(d.y0, image.height)]);
      current.labels.push(d.negative ? 0 : 1);
      current.undo.push({ kind: "point" });
    }
    changed();
  });
  marks.addEventListener("pointercancel", () => { drag = null; drawMarks(); });

  const clamp = (v, max) => Math.min(Math.max(v, 0), max);

  function changed() {
    drawMarks();
    updateButtons();
    segment();
  }

  async function segment() {
    const object = current;
    const mine = ++seq;
    const started = performance.now();
    if (!object.points.length && !object.box) {
      object.result = null;
      object.layer = null;
      drawOverlay();
      updateButtons();
      return;
    }
    // Only what is drawn at once: the PNG, and the outline when it is shown. The downloads ask for their own encodings.
    const outputs = ["png"];
    if ($("outline").checked && (await info)?.outputs.includes("polygons")) outputs.push("polygons");
    status("Segmenting…", "busy");
    let response;
    try {
      response = await request(object, outputs);
    } catch {
      fail("The server cannot be reached.");
      return;
    }
    if (mine !== seq || object !== current) return; // a newer prompt is on its way
    if (!response.ok) {
      fail(await errorText(response));
      return;
    }
    const answer = await response.json();
    const result = answer.objects[0];
    object.result = result;
    object.layer = await tint(result.png, object.colour);
    if (mine !== seq || object !== current) return;
    drawOverlay();
    updateButtons();
    const shownMs = performance.now() - started;
    status(`Score ${result.score.toFixed(3)} · decode ${answer.timings_ms.decode.toFixed(1)} ms · shown after ${shownMs.toFixed(0)} ms · ${result.area} px`, "ready");
    sam2.lastMask = { seq: mine, score: result.score, decodeMs: answer.timings_ms.decode, shownMs, area: result.area, bbox: result.bbox };
    sam2.maskCount++;
    emit("mask", sam2.lastMask);
  }

  function request(object, outputs) {
    const body = { output: outputs };
    if (object.points.length) { body.points = object.points; body.labels = object.labels; }
    if (object.box) body.boxes = [object.box];
    return fetch(new URL(`images/${image.id}/segment`, api), {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
  }

  // The 8-bit PNG mask → a canvas in the object's colour (alpha 50%), drawn over the image as is.
  async function tint(pngBase64, [r, g, b]) {
    const bytes = Uint8Array.from(atob(pngBase64), (c) => c.charCodeAt(0));
    const bitmap = await createImageBitmap(new Blob([bytes], { type: "image/png" }));
    const layer = document.createElement("canvas");
    layer.width = bitmap.width;
    layer.height = bitmap.height;
    const ctx = layer.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(bitmap, 0, 0);
    bitmap.close();
    const data = ctx.getImageData(0, 0, layer.width, layer.height);
    const px = data.data;
    for (let i = 0; i < px.length; i += 4) {
      const on = px[i] > 127;
      px[i] = r; px[i + 1] = g; px[i + 2] = b; px[i + 3] = on ? 128 : 0;
    }
    ctx.putImageData(data, 0, 0);
    return layer;
  }

  function drawOverlay() {
    const ctx = overlay.getContext("2d");
    ctx.clearRect(0, 0, overlay.width, overlay.height);
    for (const o of [...objects, current]) {
      if (o && o.layer) ctx.drawImage(o.layer, 0, 0);
    }
    drawMarks();
  }

  function drawMarks() {
    const ctx = marks.getContext("2d");
    ctx.clearRect(0, 0, marks.width, marks.height);
    if (!image) return;
    const unit = Math.max(marks.width, marks.height) / 300;
    ctx.lineWidth = Math.max(1.5, unit / 2);
    if ($("outline").checked) {
      for (const o of [...objects, current]) {
        const polygons = o && o.result && o.result.polygons;
        if (!polygons) continue;
        ctx.strokeStyle = `rgb(${o.colour.join(",")})`;
        for (const polygon of polygons) {
          ctx.beginPath();
          polygon.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
          ctx.closePath();
          ctx.stroke();
        }
      }
    }
    const box = (drag && drag.box) || (current && current.box);
    if (box) {
      ctx.strokeStyle = "#facc15";
      ctx.setLineDash([unit * 2, unit]);
      ctx.strokeRect(box[0], box[1], box[2] - box[0], box[3] - box[1]);
      ctx.setLineDash([]);
    }
    if (!current) return;
    current.points.forEach(([x, y], i) => {
      ctx.beginPath();
      ctx.arc(x, y, unit * 1.5, 0, 2 * Math.PI);
      ctx.fillStyle = current.labels[i] ? "#22c55e" : "#ef4444";
      ctx.fill();
      ctx.strokeStyle = "#fff";
      ctx.stroke();
    });
  }

  function updateButtons() {
    const hasPrompt = !!current && (current.points.length > 0 || !!current.box);
    $("undo").disabled = !image || (!hasPrompt && objects.length === 0);
    $("clear").disabled = !image || (!hasPrompt && objects.length === 0);
    $("new-object").disabled = !current || !current.result;
    $("download-png").disabled = !current || !current.result;
    $("download-ls").disabled = !current || !current.result;
  }

  // ---- buttons ----
  function undo() {
    if (!image) return;
    const step = current.undo.pop();
    if (!step) {
      if (!objects.length) return;
      current = objects.pop(); // back to editing the last kept object
      drawOverlay();
      updateButtons();
      return;
    }
    if (step.kind === "box") current.box = step.previous;
    else { current.points.pop(); current.labels.pop(); }
    changed();
  }
  $("undo").addEventListener("click", undo);
  $("clear").addEventListener("click", () => {
    objects = [];
    current = newObject();
    seq++;
    drawOverlay();
    updateButtons();
    status("Cleared. Click on an object.", "ready");
  });
  $("new-object").addEventListener("click", () => {
    if (!current.result) return;
    objects.push(current);
    current = newObject();
    seq++;
    drawOverlay();
    updateButtons();
    status(`${objects.length} object(s) kept. Click on the next one.`, "ready");
  });
  // Turning the outline on asks the server for the current object's polygons.
  $("outline").addEventListener("change", () => (($("outline").checked && current && current.result && !current.result.polygons) ? segment() : drawMarks()));
  document.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === "z") { e.preventDefault(); undo(); }
    else if (e.key === "n" && !e.ctrlKey && !e.metaKey && !$("new-object").disabled) $("new-object").click();
  });

  function download(name, blob) {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
    sam2.downloadCount++;
    emit("download", { name });
  }
  const baseName = () => (image ? image.name.replace(/\.[^.]+$/, "") : "image");

  $("download-png").addEventListener("click", () => {
    const bytes = Uint8Array.from(atob(current.result.png), (c) => c.charCodeAt(0));
    download(`${baseName()}-mask.png`, new Blob([bytes], { type: "image/png" }));
  });

  // The current object as a Label Studio prediction (its prompts segmented once more for these encodings): a
  // BrushLabels item (brush RLE) and, when the server gives polygons, one PolygonLabels item per polygon (points in percent of the image), for <Image name="image"> with
  // <BrushLabels name="tag"> / <PolygonLabels name="polygon">.
  async function labelStudioPrediction() {
    const outputs = ["ls_brush"];
    if ((await info)?.outputs.includes("polygons")) outputs.push("polygons");
    const response = await request(current, outputs);
    if (!response.ok) throw new Error(await errorText(response));
    const r = (await response.json()).objects[0];
    const id = () => Math.random().toString(36).slice(2, 12);
    const common = { to_name: "image", original_width: image.width, original_height: image.height, image_rotation: 0, score: r.score };
    const items = [{ id: id(), type: "brushlabels", from_name: "tag", ...common,
      value: { format: "rle", rle: r.ls_brush, brushlabels: ["object"] } }];
    for (const polygon of r.polygons || []) {
      items.push({ id: id(), type: "polygonlabels", from_name: "polygon", ...common, value: {
        points: polygon.map(([x, y]) => [(100 * x) / image.width, (100 * y) / image.height]), closed: true, polygonlabels: ["object"] } });
    }
    return { model_version: sam2.info ? sam2.info.model : "sam2", score: r.score, result: items };
  }
  sam2.labelStudioPrediction = labelStudioPrediction;
  $("download-ls").addEventListener("click", async () => {
    let prediction;
    try {
      prediction = await labelStudioPrediction();
    } catch (e) {
      fail("The Label Studio JSON could not be made: " + e.message);
      return;
    }
    download(`${baseName()}-label-studio.json`, new Blob([JSON.stringify(prediction, null, 1)], { type: "application/json" }));
  });
})();
