/* "Try the models": draw a digit, and every model of the book classifies it in the browser.
 *
 * The build (tools/export.py) exports each model to ONNX and writes models/manifest.json
 * beside this file: the models, the pixel scaling each was trained with, and a few test
 * images with PyTorch's probabilities for them. onnxruntime-web (the global `ort`, loaded
 * before this script from ort/) runs the models on the CPU through WebAssembly, in one
 * thread, so the page needs no cross-origin isolation and no other host.
 *
 * For the site's tests the page publishes its state in data attributes: #try-app has
 * data-state (loading, ready, error), data-runs (classifications done) and data-source
 * (drawing, example:<test index>, empty); each model's card has data-probs (its ten
 * probabilities, JSON) and data-prediction.
 */
(() => {
  'use strict';
  const base = new URL('./', document.currentScript.src);
  const $ = (id) => document.getElementById(id);
  const app = $('try-app');
  const canvas = $('try-canvas');
  const seen = $('try-seen');
  const status = $('try-status');
  const pen = canvas.getContext('2d', {willReadFrequently: true});
  const SIZE = 28;
  const BOX = 20; // MNIST: the ink's bounding box scaled to fit 20 x 20, in a 28 x 28 image

  let manifest = null;
  const sessions = [];
  let pending = null; // the latest input waiting for the models: {pixels, source}
  let running = false;

  function say(text, state) {
    status.textContent = text;
    if (state) app.dataset.state = state;
  }

  // ---------- the drawing -> an MNIST image (uint8, 28 x 28) ----------

  function clearCanvas() {
    pen.fillStyle = '#000';
    pen.fillRect(0, 0, canvas.width, canvas.height);
  }

  /* Area-average resampling of the ink's bounding box [x0, x0 + w) x [y0, y0 + h) of `ink`
   * (width `stride`) to `ow` x `oh`: each output pixel is the mean of the ink it covers. */
  function resample(ink, stride, x0, y0, w, h, ow, oh) {
    const out = new Float64Array(ow * oh);
    const sx = w / ow, sy = h / oh;
    for (let oy = 0; oy < oh; oy++) {
      const ya = oy * sy, yb = ya + sy;
      for (let ox = 0; ox < ow; ox++) {
        const xa = ox * sx, xb = xa + sx;
        let sum = 0;
        for (let y = Math.floor(ya); y < Math.ceil(yb); y++) {
          const wy = Math.min(yb, y + 1) - Math.max(ya, y);
          const row = (y0 + y) * stride + x0;
          for (let x = Math.floor(xa); x < Math.ceil(xb); x++) {
            sum += wy * (Math.min(xb, x + 1) - Math.max(xa, x)) * ink[row + x];
          }
        }
        out[oy * ow + ox] = sum / (sx * sy);
      }
    }
    return out;
  }

  /* The canvas as MNIST made its images: bounding box of the ink scaled (aspect ratio kept,
   * anti-aliased) to fit 20 x 20, placed in 28 x 28 with its centre of mass on the centre
   * (pixel 14, as in MNIST, moved by whole pixels). null when there is no ink. */
  function mnistImage() {
    const {width: W, height: H} = canvas;
    const rgba = pen.getImageData(0, 0, W, H).data;
    const ink = new Float64Array(W * H);
    let x0 = W, y0 = H, x1 = -1, y1 = -1;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const v = rgba[4 * (y * W + x)] / 255;
        if (v > 0) {
          ink[y * W + x] = v;
          if (x < x0) x0 = x;
          if (x > x1) x1 = x;
          if (y < y0) y0 = y;
          if (y > y1) y1 = y;
        }
      }
    }
    if (x1 < 0) return null;
    const w = x1 - x0 + 1, h = y1 - y0 + 1;
    const scale = BOX / Math.max(w, h);
    const ow = Math.max(1, Math.round(w * scale)), oh = Math.max(1, Math.round(h * scale));
    const small = resample(ink, W, x0, y0, w, h, ow, oh);
    let mass = 0, cx = 0, cy = 0;
    for (let y = 0; y < oh; y++) {
      for (let x = 0; x < ow; x++) {
        const v = small[y * ow + x];
        mass += v; cx += v * x; cy += v * y;
      }
    }
    const dx = Math.round(SIZE / 2 - cx / mass), dy = Math.round(SIZE / 2 - cy / mass);
    const pixels = new Uint8Array(SIZE * SIZE);
    for (let y = 0; y < oh; y++) {
      for (let x = 0; x < ow; x++) {
        const tx = x + dx, ty = y + dy;
        if (tx >= 0 && tx < SIZE && ty >= 0 && ty < SIZE) {
          pixels[ty * SIZE + tx] = Math.round(255 * Math.min(1, small[y * ow + x]));
        }
      }
    }
    return pixels;
  }

  /* uint8 pixels -> the model's input, in float32 steps as mnist_utils.data.scale_images. */
  function modelInput(pixels, scaling) {
    const f = Math.fround;
    const {mean, std} = manifest.scalings[scaling];
    const unit = f(1 / 255);
    const data = new Float32Array(SIZE * SIZE);
    for (let i = 0; i < data.length; i++) {
      const v = f(pixels[i] * unit);
      data[i] = scaling === 'unit' ? v : f(f(v - f(mean)) / f(std));
    }
    return new ort.Tensor('float32', data, [1, 1, SIZE, SIZE]);
  }

  function paint(target, pixels) {
    const small = document.createElement('canvas');
    small.width = small.height = SIZE;
    const ctx = small.getContext('2d');
    const image = ctx.createImageData(SIZE, SIZE);
    for (let i = 0; i < SIZE * SIZE; i++) {
      image.data.set([pixels[i], pixels[i], pixels[i], 255], 4 * i);
    }
    ctx.putImageData(image, 0, 0);
    const out = target.getContext('2d');
    out.imageSmoothingEnabled = target.width > SIZE;
    out.drawImage(small, 0, 0, target.width, target.height);
  }

  // ---------- the models ----------

  function softmax(logits) {
    const top = Math.max(...logits);
    const e = Array.from(logits, (v) => Math.exp(v - top));
    const sum = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / sum);
  }

  function percent(p) {
    return p >= 0.995 || p < 0.005 ? `${Math.round(100 * p)}%` : `${(100 * p).toFixed(1)}%`;
  }

  function showProbabilities(card, probs) {
    const best = probs.indexOf(Math.max(...probs));
    card.dataset.probs = JSON.stringify(probs);
    card.dataset.prediction = String(best);
    card.querySelectorAll('.try-bar').forEach((bar, digit) => {
      bar.querySelector('.try-fill').style.height = `${100 * probs[digit]}%`;
      bar.classList.toggle('try-top', digit === best);
      bar.title = `${digit}: ${percent(probs[digit])}`;
    });
    card.querySelector('.try-verdict').textContent = `says ${best}, with probability ${percent(probs[best])}`;
  }

  function resetCards() {
    for (const {card} of sessions) {
      delete card.dataset.probs;
      delete card.dataset.prediction;
      card.querySelectorAll('.try-fill').forEach((fill) => { fill.style.height = '0'; });
      card.querySelectorAll('.try-bar').forEach((bar) => bar.classList.remove('try-top'));
      card.querySelector('.try-verdict').textContent = 'waiting for a digit';
    }
  }

  async function classifyLoop() {
    if (running) return;
    running = true;
    try {
      while (pending) {
        const {pixels, source} = pending;
        pending = null;
        paint(seen, pixels);
        for (const {session, model, card} of sessions) {
          const result = await session.run({image: modelInput(pixels, model.scaling)});
          showProbabilities(card, softmax(result.logits.data));
        }
        app.dataset.source = source;
        app.dataset.runs = String(Number(app.dataset.runs) + 1);
      }
    } catch (error) {
      say(`The models could not run: ${error}`, 'error');
    } finally {
      running = false;
    }
  }

  function classify(pixels, source) {
    pending = {pixels, source};
    classifyLoop();
  }

  function card(model) {
    const section = document.createElement('section');
    section.className = 'try-model';
    section.dataset.model = model.id;
    const title = document.createElement('h3');
    title.textContent = model.name;
    const meta = document.createElement('p');
    meta.className = 'try-meta';
    const chapter = model.chapter.split('_')[0].replace(/^0/, '');
    meta.textContent = `chapter ${chapter}` + (model.accuracy == null ? '' :
      `; test accuracy in this build ${percent(model.accuracy)}`) + (model.note ? ` (${model.note})` : '');
    const bars = document.createElement('div');
    bars.className = 'try-bars';
    bars.setAttribute('role', 'img');
    bars.setAttribute('aria-label', `${model.name}: probability of each digit`);
    for (let digit = 0; digit < 10; digit++) {
      const bar = document.createElement('div');
      bar.className = 'try-bar';
      bar.innerHTML = `<span class="try-track"><span class="try-fill"></span></span><span class="try-digit">${digit}</span>`;
      bars.append(bar);
    }
    const verdict = document.createElement('p');
    verdict.className = 'try-verdict';
    section.append(title, meta, bars, verdict);
    return section;
  }

  function exampleButton(example) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'try-example';
    button.dataset.index = String(example.index);
    // the keyboard's way to use the page (the canvas needs a pointer): the name says what it does
    // the visible text is part of the name (WCAG 2.5.3, label in name)
    const shown = example.hard ? `a ${example.label}, hard` : `a ${example.label}`;
    const label = `Classify test image ${example.index}: ${shown}`;
    button.title = label;
    button.setAttribute('aria-label', label);
    const thumb = document.createElement('canvas');
    thumb.width = thumb.height = SIZE;
    paint(thumb, example.pixels);
    const text = document.createElement('span');
    text.textContent = shown;
    button.append(thumb, text);
    button.addEventListener('click', () => {
      paint(canvas, example.pixels);
      classify(Uint8Array.from(example.pixels), `example:${example.index}`);
    });
    return button;
  }

  // ---------- drawing with a mouse, a pen or a finger ----------

  let last = null;
  function point(event) {
    const r = canvas.getBoundingClientRect();
    return [(event.clientX - r.left) * canvas.width / r.width, (event.clientY - r.top) * canvas.height / r.height];
  }
  function stroke(to) {
    pen.strokeStyle = '#fff';
    pen.lineWidth = canvas.width / 13;
    pen.lineCap = pen.lineJoin = 'round';
    pen.beginPath();
    pen.moveTo(...(last || to));
    pen.lineTo(...to);
    pen.stroke();
    last = to;
  }
  let frame = 0;
  function drawn() {
    if (frame || !sessions.length) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      const pixels = mnistImage();
      if (pixels) classify(pixels, 'drawing');
    });
  }
  canvas.addEventListener('pointerdown', (event) => {
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    last = null;
    stroke(point(event));
    drawn();
  });
  canvas.addEventListener('pointermove', (event) => {
    if (last === null || !canvas.hasPointerCapture(event.pointerId)) return;
    stroke(point(event));
    drawn();
  });
  const lift = () => { last = null; };
  canvas.addEventListener('pointerup', lift);
  canvas.addEventListener('pointercancel', lift);
  $('try-clear').addEventListener('click', () => {
    clearCanvas();
    seen.getContext('2d').clearRect(0, 0, SIZE, SIZE);
    pending = null;
    resetCards();
    app.dataset.source = 'empty';
  });

  // ---------- start: the runtime, the manifest, the models ----------

  async function fetchOk(url) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return response;
  }

  /* The WebAssembly binary is stored gzipped; a server that sends it with
   * Content-Encoding: gzip has inflated it already. */
  async function wasmBinary() {
    const bytes = new Uint8Array(await (await fetchOk(new URL('ort/ort-wasm-simd-threaded.wasm.gz', base))).arrayBuffer());
    if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes.buffer;
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
    return new Response(stream).arrayBuffer();
  }

  async function start() {
    clearCanvas();
    if (location.protocol === 'file:') {
      throw new Error('this page loads its models over HTTP: open it from a web server ' +
                      '(the published site, or `python -m http.server` in the built html folder)');
    }
    if (typeof ort === 'undefined' || typeof DecompressionStream === 'undefined') {
      throw new Error('this browser cannot run the models here (it lacks WebAssembly support or ' +
                      'DecompressionStream); a recent Chrome, Edge, Firefox or Safari can');
    }
    try {
      manifest = await (await fetchOk(new URL('models/manifest.json', base))).json();
    } catch (error) {
      throw new Error('this build of the book exported no models (tools/export.py needs the Python ' +
                      'packages onnx and onnxruntime)');
    }
    if (!manifest.models.length) throw new Error('this build of the book saved no models');
    ort.env.logLevel = 'error';
    ort.env.wasm.numThreads = 1; // no SharedArrayBuffer: no cross-origin isolation needed
    ort.env.wasm.proxy = false;
    ort.env.wasm.wasmPaths = new URL('ort/', base).href;
    ort.env.wasm.wasmBinary = await wasmBinary();
    const list = $('try-models');
    for (const model of manifest.models) {
      say(`Loading ${model.name}…`);
      const session = await ort.InferenceSession.create(new URL(`models/${model.file}`, base).href,
                                                        {executionProviders: ['wasm']});
      const section = card(model);
      list.append(section);
      sessions.push({session, model, card: section});
    }
    resetCards();
    const examples = $('try-examples');
    manifest.examples.forEach((example) => examples.append(exampleButton(example)));
    const left = manifest.omitted.map((m) => `${m.name}: ${m.reason}`);
    say(`${sessions.length} models ready: draw a digit, or pick a test image.` +
        (left.length ? ` Left off this page: ${left.join('; ')}.` : ''), 'ready');
    app.dataset.source = 'empty';
  }

  start().catch((error) => say(`The models cannot run here: ${error.message || error}`, 'error'));
})();
