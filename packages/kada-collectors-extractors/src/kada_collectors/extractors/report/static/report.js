/* The report page: decodes the embedded data (report/model.py describes its form) and renders
   each section. Data only ever reaches the page as text (textContent), never as markup. */
"use strict";
(function () {
  const started = performance.now();
  const DATA = JSON.parse(document.getElementById("report-data").textContent);
  const PAGE = 100;           // rows per page of the long tables
  const LEVEL_LIMIT = 30;     // objects per level of the lineage drawing; the rest are counted
  const COLOURS = 12;         // link-type colours in report.css (.c0 to .c11)
  const SVG = "http://www.w3.org/2000/svg";  // a namespace name, not a resource

  // -- decoding -------------------------------------------------------------------------------

  const VLQ = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const VLQ_VALUE = new Int8Array(128).fill(-1);
  for (let i = 0; i < VLQ.length; i++) VLQ_VALUE[VLQ.charCodeAt(i)] = i;

  /* model.py pack(): base64 VLQ, sign in the lowest bit. Arithmetic, not bit shifts: sizes exceed 2^31. */
  function unpack(text) {
    const out = [];
    let value = 0, scale = 1;
    for (let i = 0; i < text.length; i++) {
      const digit = VLQ_VALUE[text.charCodeAt(i)];
      value += (digit & 31) * scale;
      if (digit & 32) { scale *= 32; continue; }
      out.push(value % 2 ? -(value - 1) / 2 : value / 2);
      value = 0; scale = 1;
    }
    return out;
  }

  /* (position difference, ...rest) groups back to absolute positions: calls fn(position, ...rest). */
  function eachDelta(flat, width, fn) {
    let place = 0;
    for (let k = 0; k < flat.length; k += width) {
      place += flat[k];
      fn(place, ...flat.slice(k + 1, k + width));
    }
  }

  const O = decodeObjects(DATA.objects);
  const KINDS = DATA.kinds;
  const COLUMN = KINDS.indexOf("COLUMN");
  const EVENT = decodeEvents(DATA.events);

  function decodeObjects(o) {
    const n = o.count;
    const kind = new Uint8Array(n), parent = new Int32Array(n), base = new Int32Array(n);
    const lastAtDepth = [];
    for (let i = 0; i < n; i++) {
      kind[i] = o.kind.charCodeAt(i) - 48;
      const depth = o.depth.charCodeAt(i) - 48;
      parent[i] = depth > 0 ? lastAtDepth[depth - 1] : -1;
      lastAtDepth[depth] = i;
      base[i] = parent[i];
    }
    eachDelta(unpack(o.base), 2, (i, up) => {
      let b = up === 0 ? -1 : i;
      for (let k = 0; k < up && b >= 0; k++) b = parent[b];
      base[i] = b;
    });
    const size = new Map();
    eachDelta(unpack(o.size), 3, (i, rows, bytes) => size.set(i, [rows, bytes]));
    const description = new Map();
    let d = 0;
    eachDelta(unpack(o.described), 1, (i) => description.set(i, o.descriptions[d++]));
    return {
      n, metadata: o.metadata, kind, parent, base, size, description, descriptionsOmitted: o.descriptions_omitted,
      name: Int32Array.from(unpack(o.name)), names: o.names,
      detail: Int32Array.from(unpack(o.detail)), details: o.details,
      ids: new Array(n), lower: null,
    };
  }

  function decodeEvents(e) {
    const code = new Uint8Array(O.n);
    if (e.per_object.all) code.fill(e.per_object.all.charCodeAt(0), 0, O.metadata);
    else {
      let k = 0;
      eachDelta(unpack(e.per_object.places), 1, (i) => { code[i] = e.per_object.codes.charCodeAt(k++); });
    }
    const changed = new Map();
    eachDelta(unpack(e.changed), 2, (i, mask) => changed.set(i, mask));
    return { code, changed };
  }

  function idOf(i) {
    let id = O.ids[i];
    if (id === undefined) {
      const tail = O.names[O.name[i]];
      id = O.ids[i] = O.base[i] >= 0 ? idOf(O.base[i]) + "." + tail : tail;
    }
    return id;
  }

  /* Every ID in lower case, built on the first search (a few hundred ms at half a million objects). */
  function lowerIds() {
    if (!O.lower) {
      O.lower = new Array(O.n);
      for (let i = 0; i < O.n; i++) O.lower[i] = idOf(i).toLowerCase();
    }
    return O.lower;
  }

  function findObject(id, kindName) {
    const wanted = kindName ? KINDS.indexOf(kindName) : -1;
    let found = -1;
    for (let i = 0; i < O.n; i++) {
      if (idOf(i) === id) {
        if (wanted < 0 || O.kind[i] === wanted) return i;
        if (found < 0) found = i;
      }
    }
    return found;
  }

  const changedFields = (i) => DATA.events.fields.filter((_, bit) => (EVENT.changed.get(i) || 0) & (2 ** bit));
  const kindOf = (i) => KINDS[O.kind[i]];

  // -- DOM helpers ----------------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  const fmt = (n) => (n === null || n === undefined || n < 0 ? "" : Number(n).toLocaleString("en-US"));
  function bytes(n) {
    if (n === null || n === undefined || n < 0) return "";
    const units = ["B", "KB", "MB", "GB", "TB"];
    let u = 0;
    while (n >= 1024 && u < units.length - 1) { n /= 1024; u++; }
    return (u ? n.toFixed(1) : n) + " " + units[u];
  }
  const num = (value) => el("td", { class: "num" }, value);
  /* Fill a section's body; absent parts (null, false) are left out. */
  const fill = (section, ...parts) => document.querySelector(`#${section} .body`).replaceChildren(...parts.filter((p) => p));
  const lineageLink = (i) => el("a", { href: "#lineage=" + encodeURIComponent(idOf(i)) + "&kind=" + kindOf(i) }, "lineage");

  function table(headers, rows, attrs) {
    return el("table", attrs,
      el("thead", null, el("tr", null, headers.map((h) => el("th", { class: h.endsWith("#") ? "num" : null }, h.replace(/#$/, ""))))),
      el("tbody", null, rows));
  }

  /* A table of `count` rows shown a page at a time; rowAt(k) builds the k-th row. */
  function pagedTable(container, headers, count, rowAt, attrs) {
    let page = 0;
    const holder = el("div");
    container.replaceChildren(holder);
    function render() {
      const pages = Math.max(1, Math.ceil(count / PAGE));
      page = Math.min(page, pages - 1);
      const rows = [];
      for (let k = page * PAGE; k < Math.min(count, (page + 1) * PAGE); k++) rows.push(rowAt(k));
      const from = count ? page * PAGE + 1 : 0, to = Math.min(count, (page + 1) * PAGE);
      holder.replaceChildren(
        el("div", { class: "pager" },
          el("button", { type: "button", disabled: page === 0 ? "" : null, onclick: () => { page--; render(); } }, "‹ previous"),
          el("span", { class: "range" }, `${fmt(from)}–${fmt(to)} of ${fmt(count)}`),
          el("button", { type: "button", disabled: page >= pages - 1 ? "" : null, onclick: () => { page++; render(); } }, "next ›")),
        table(headers, rows, attrs));
    }
    render();
  }

  function debounce(fn, ms) {
    let timer;
    return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
  }

  function kindSelect(onchange, label) {
    return el("select", { "aria-label": label || "kind", onchange },
      el("option", { value: "" }, "every kind"), KINDS.map((k, code) => el("option", { value: code }, k)));
  }

  // -- sections -------------------------------------------------------------------------------

  function renderRun() {
    const r = DATA.run, failed = DATA.databases.filter((d) => d.status === "failed");
    const dl = el("dl", { class: "kv" });
    const add = (k, v) => dl.append(el("dt", null, k), el("dd", null, v));
    add("status", el("span", { class: "status " + r.status }, r.status));
    add("host", r.host);
    add("window (UTC)", r.window ? `${r.window.start_hwm} to ${r.window.end_hwm}` : "");
    add("manifest", r.manifest);
    add("folder", r.folder);
    if (r.collector) add("collector", `${r.collector.name} ${r.collector.version} (${r.collector.source})`);
    if (r.timings) add("extracted", `${r.timings.started_at} to ${r.timings.finished_at} UTC, ${r.timings.seconds} s`);
    const parts = [dl];
    parts.push(el("h3", null, "Databases"), table(["database", "status", "server", "seconds#", "rows", "error"],
      DATA.databases.map((d) => el("tr", null,
        el("td", null, d.name), el("td", null, el("span", { class: "status " + d.status }, d.status)),
        el("td", null, d.server_version || ""), num(d.seconds),
        el("td", null, Object.entries(d.rows || {}).map(([k, v]) => `${k} ${fmt(v)}`).join(", ")),
        el("td", { class: "problem" }, d.error || "")))));
    parts.push(el("h3", { id: "failed" }, `Failed databases (${failed.length})`),
      failed.length ? el("ul", { class: "plain problem" }, failed.map((d) => el("li", null, `${d.name}: ${d.error}`)))
        : el("p", null, "None: every database of the run succeeded."));
    parts.push(el("h3", { id: "warnings" }, `Warnings (${DATA.warnings.length})`),
      DATA.warnings.length ? el("ul", { class: "plain warning" }, DATA.warnings.map((w) => el("li", null, w)))
        : el("p", null, "None."));
    fill("run", ...parts);
  }

  function renderFiles() {
    const files = DATA.files;
    const total = files.reduce((s, f) => s + (f.bytes || 0), 0);
    fill("files", table(["file", "extract", "rows#", "size#", "SHA-256", "check"],
      files.map((f) => el("tr", null,
        el("td", { class: "mono" }, f.name), el("td", null, f.extract), num(fmt(f.rows)), num(bytes(f.bytes)),
        el("td", { class: "mono id" }, f.sha256),
        el("td", null, el("span", { class: "status " + (f.check === "ok" ? "ok" : "bad") }, f.check))))),
      el("p", null, `${files.length} files, ${bytes(total)} in all.`));
  }

  function renderCounts() {
    const used = [...new Set(DATA.counts.map((c) => c[2]))].sort((a, b) => KINDS[a].localeCompare(KINDS[b]));
    const rows = [], totals = new Map(), perDb = new Map();
    for (const [db, schema, kind, n] of DATA.counts) {
      if (!perDb.has(db)) perDb.set(db, new Map());
      const schemas = perDb.get(db);
      if (!schemas.has(schema)) schemas.set(schema, new Map());
      schemas.get(schema).set(kind, n);
    }
    const line = (cls, label1, label2, counts) => el("tr", { class: cls },
      el("td", { class: "nowrap" }, label1), el("td", { class: "nowrap" }, label2),
      used.map((k) => num(fmt(counts.get(k)))),  // blank, not 0: the kinds a schema has stand out
      num(fmt([...counts.values()].reduce((s, v) => s + v, 0))));
    for (const [db, schemas] of perDb) {
      const dbTotals = new Map();
      for (const [schema, counts] of schemas) {
        rows.push(line(null, db, schema || "(database level)", counts));
        for (const [k, v] of counts) {
          dbTotals.set(k, (dbTotals.get(k) || 0) + v);
          totals.set(k, (totals.get(k) || 0) + v);
        }
      }
      rows.push(line("subtotal", db, "all schemas", dbTotals));
    }
    if (perDb.size > 1) rows.push(line("subtotal", "every database", "", totals));
    fill("counts", el("div", { style: "overflow-x:auto" },
      table(["database", "schema", ...used.map((k) => KINDS[k] + "#"), "total#"], rows, { id: "counts-table" })));
  }

  function renderEvents() {
    const e = DATA.events, types = ["CREATED", "ALTERED", "DROPPED"];
    const byKind = new Map();
    for (const [event, kind, , n] of e.counts) {
      if (!byKind.has(kind)) byKind.set(kind, {});
      byKind.get(kind)[event] = (byKind.get(kind)[event] || 0) + n;
    }
    for (const [event] of e.counts) if (!types.includes(event)) types.push(event);
    const totals = types.map((t) => e.counts.filter((c) => c[0] === t).reduce((s, c) => s + c[3], 0));
    const summary = table(["kind", ...types.map((t) => t + "#")],
      [...[...byKind].sort((a, b) => KINDS[a[0]].localeCompare(KINDS[b[0]])).map(([kind, counts]) =>
        el("tr", null, el("td", null, KINDS[kind]), types.map((t) => num(fmt(counts[t] || 0))))),
      el("tr", { class: "subtotal" }, el("td", null, "all kinds"), totals.map((n) => num(fmt(n))))],
      { id: "events-summary" });
    const list = el("div");
    // Altered and dropped objects first: they are the news. A first run has only created ones.
    const news = totals[1] + totals[2] > 0;
    const filter = el("select", { "aria-label": "events shown", id: "events-filter", onchange: () => show(filter.value) },
      el("option", { value: "AD", selected: news ? "" : null }, "altered and dropped"),
      el("option", { value: "C", selected: news ? null : "" }, "created"),
      el("option", { value: "A" }, "altered"), el("option", { value: "D" }, "dropped"));
    function show(codes) {
      const places = [];
      for (let i = 0; i < O.n; i++) if (EVENT.code[i] && codes.includes(String.fromCharCode(EVENT.code[i]))) places.push(i);
      const gone = e.unmatched.filter((u) => codes.includes(u[0]));
      const name = { C: "CREATED", A: "ALTERED", D: "DROPPED" };
      pagedTable(list, ["event", "kind", "OBJECT_ID", "changed fields"], places.length + gone.length, (k) => {
        if (k < places.length) {
          const i = places[k];
          return el("tr", null, el("td", null, name[String.fromCharCode(EVENT.code[i])]), el("td", null, kindOf(i)),
            el("td", { class: "mono id" }, idOf(i), " ", lineageLink(i)), el("td", null, changedFields(i).join(", ")));
        }
        const [code, kind, id] = gone[k - places.length];
        return el("tr", null, el("td", null, name[code] || code), el("td", null, KINDS[kind]),
          el("td", { class: "mono id" }, id), el("td", null, ""));
      }, { id: "events-table" });
    }
    const firstRun = DATA.warnings.some((w) => w.includes("every object is reported as created"));
    fill("events", 
      el("p", null, `${fmt(e.total)} events in the window.`,
        firstRun ? " A first run (or one without a snapshot at its start): every object is reported as created." : ""),
      summary,
      e.unmatched_total > e.unmatched.length ? el("p", { class: "warning" },
        `${fmt(e.unmatched_total - e.unmatched.length)} more dropped objects are in the file but not listed here.`) : null,
      el("div", { class: "controls" }, el("label", null, "show ", filter)), list);
    show(filter.value);
  }

  function renderObjects() {
    const container = el("div");
    const search = el("input", { type: "search", placeholder: "search OBJECT_ID, e.g. sales.orders", "aria-label": "search objects", id: "object-search" });
    const kind = kindSelect(() => apply(), "kind of object");
    const status = el("span", { class: "hint" });
    let matches = null;
    function apply() {
      const q = search.value.trim().toLowerCase(), k = kind.value === "" ? -1 : Number(kind.value);
      const t0 = performance.now();
      if (!q && k < 0) matches = null;
      else {
        const ids = q ? lowerIds() : null, out = [];
        for (let i = 0; i < O.n; i++) {
          if (k >= 0 && O.kind[i] !== k) continue;
          if (q && ids[i].indexOf(q) < 0) continue;
          out.push(i);
        }
        matches = out;
      }
      status.textContent = matches ? `${fmt(matches.length)} match (${Math.round(performance.now() - t0)} ms)` : "";
      draw();
    }
    function draw() {
      const count = matches ? matches.length : O.n;
      pagedTable(container, ["kind", "OBJECT_ID", "type or owner", "rows#", "size#", "comment", "event", ""], count, (k) => {
        const i = matches ? matches[k] : k, size = O.size.get(i) || [];
        const event = EVENT.code[i] ? String.fromCharCode(EVENT.code[i]) : "";
        return el("tr", null, el("td", null, kindOf(i) + (i >= O.metadata ? " (not in metadata)" : "")),
          el("td", { class: "mono id" }, idOf(i)), el("td", null, O.details[O.detail[i]]),
          num(fmt(size[0])), num(bytes(size[1])), el("td", null, O.description.get(i) || ""),
          el("td", null, { C: "created", A: "altered: " + changedFields(i).join(", "), D: "dropped" }[event] || ""),
          el("td", null, lineageLink(i), DATA.profile.present && DATA.profile.tables[idOf(i)]
            ? [" ", el("a", { href: "#profile=" + encodeURIComponent(idOf(i)) }, "profile")] : null));
      }, { id: "objects-table" });
    }
    search.addEventListener("input", debounce(apply, 200));
    fill("objects", el("div", { class: "controls" }, search, kind, status),
      O.descriptionsOmitted ? el("p", { class: "hint" }, `${fmt(O.descriptionsOmitted)} comments are not shown here (the report keeps its size bounded); they are in the metadata file.`) : null,
      container);
    draw();
  }

  // -- lineage --------------------------------------------------------------------------------

  const L = { adjacency: null, columns: null };

  /* Edges by object, both ways, in compressed sparse rows: built once, on first use. */
  function adjacency() {
    if (L.adjacency) return L.adjacency;
    const source = unpack(DATA.links.source), target = unpack(DATA.links.target), type = DATA.links.type;
    const m = source.length, from = new Int32Array(m), to = new Int32Array(m);
    let s = 0;
    for (let k = 0; k < m; k++) { s += source[k]; from[k] = s; to[k] = s + target[k]; }
    const build = (keys, others) => {
      const start = new Int32Array(O.n + 1);
      for (let k = 0; k < m; k++) start[keys[k] + 1]++;
      for (let i = 0; i < O.n; i++) start[i + 1] += start[i];
      const fill = start.slice(0, O.n), list = new Int32Array(m), edgeType = new Uint8Array(m);
      for (let k = 0; k < m; k++) { const p = fill[keys[k]]++; list[p] = others[k]; edgeType[p] = type.charCodeAt(k) - 48; }
      return { start, list, edgeType };
    };
    L.adjacency = { out: build(from, to), in: build(to, from) };
    return L.adjacency;
  }

  /* A relation's columns (its children of kind COLUMN), for rolling column edges up to it. */
  function columnsOf(i) {
    if (!L.columns) {
      L.columns = new Map();
      for (let c = 0; c < O.n; c++) {
        if (O.kind[c] !== COLUMN || O.parent[c] < 0) continue;
        const p = O.parent[c];
        if (!L.columns.has(p)) L.columns.set(p, []);
        L.columns.get(p).push(c);
      }
    }
    return L.columns.get(i) || [];
  }

  /* The neighbours of `node` one way ("in": upstream, "out": downstream), as [other, link type]. */
  function neighbours(node, way, rollup, types) {
    const side = adjacency()[way], found = [];
    const members = rollup && O.kind[node] !== COLUMN ? [node, ...columnsOf(node)] : [node];
    for (const m of members) {
      for (let p = side.start[m]; p < side.start[m + 1]; p++) {
        if (!types.has(side.edgeType[p])) continue;
        let other = side.list[p];
        if (rollup && O.kind[other] === COLUMN && O.parent[other] >= 0) other = O.parent[other];
        if (other !== node) found.push([other, side.edgeType[p]]);
      }
    }
    return found;
  }

  /* Walk `levels` steps each way from `center`; return placed nodes and the edges between them. */
  function neighbourhood(center, levels, rollup, types) {
    const level = new Map([[center, 0]]), edges = new Map(), more = new Map();
    for (const [way, sign] of [["in", -1], ["out", 1]]) {
      let frontier = [center];
      for (let step = 1; step <= levels && frontier.length; step++) {
        const next = [];
        for (const node of frontier) {
          for (const [other, type] of neighbours(node, way, rollup, types)) {
            const [a, b] = way === "in" ? [other, node] : [node, other];
            if (!level.has(other)) {
              if (next.length >= LEVEL_LIMIT) {
                if (!more.has(sign * step)) more.set(sign * step, new Set());
                more.get(sign * step).add(other);
                continue;
              }
              level.set(other, sign * step);
              next.push(other);
            }
            const key = a + ">" + b + ">" + type;
            edges.set(key, { a, b, type, count: (edges.get(key) || { count: 0 }).count + 1 });
          }
        }
        frontier = next;
      }
    }
    // An edge one level rightwards is a step of the walk; others (between objects of one level,
    // or back) are drawn dashed and light, so that the flow stays readable.
    const drawn = [...edges.values()].filter((e) => level.has(e.a) && level.has(e.b));
    for (const e of drawn) e.step = level.get(e.b) === level.get(e.a) + 1;
    return { level, edges: drawn, more };
  }

  function label(i) {
    const p = O.parent[i];
    const tail = O.names[O.name[i]];
    return p >= 0 && O.parent[p] >= 0 ? O.names[O.name[p]] + "." + tail : tail;
  }

  function svgEl(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }

  function drawGraph(center, hood, onPick) {
    const W = 250, H = 36, GAP_X = 110, GAP_Y = 10, TOP = 28;
    const byLevel = new Map();
    for (const [node, lv] of hood.level) {
      if (!byLevel.has(lv)) byLevel.set(lv, []);
      byLevel.get(lv).push(node);
    }
    for (const [lv] of hood.more) if (!byLevel.has(lv)) byLevel.set(lv, []);
    const levels = [...byLevel.keys()].sort((a, b) => a - b);
    const pos = new Map();
    let tallest = 0;
    levels.forEach((lv, col) => {
      const nodes = byLevel.get(lv).sort((a, b) => O.kind[a] - O.kind[b] || idOf(a).localeCompare(idOf(b)));
      nodes.forEach((node, row) => pos.set(node, { x: 10 + col * (W + GAP_X), y: TOP + row * (H + GAP_Y) }));
      tallest = Math.max(tallest, nodes.length + (hood.more.has(lv) ? 1 : 0));
    });
    const width = 20 + levels.length * (W + GAP_X) - GAP_X, height = TOP + tallest * (H + GAP_Y) + 10;
    const svg = svgEl("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", id: "lineage-svg",
      "aria-label": "lineage of " + idOf(center) });
    levels.forEach((lv, col) => svg.append(svgEl("text", { class: "level", x: 10 + col * (W + GAP_X), y: 16 },
      lv === 0 ? "chosen" : lv < 0 ? `upstream ${-lv}` : `downstream ${lv}`)));
    for (const e of hood.edges) {
      const a = pos.get(e.a), b = pos.get(e.b);
      const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2;
      const bend = Math.max(40, Math.abs(x2 - x1) / 2);
      const path = svgEl("path", { class: `edge c${e.type % COLOURS}${e.step ? "" : " cross"}`, d: `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`,
        "data-type": DATA.links.types[e.type] },
      svgEl("title", null, `${DATA.links.types[e.type]}${e.count > 1 ? " ×" + e.count : ""}: ${idOf(e.a)} → ${idOf(e.b)}`));
      svg.append(path);
    }
    for (const [node, p] of pos) {
      const text = label(node);
      const g = svgEl("g", { class: "node" + (node === center ? " center" : ""), transform: `translate(${p.x},${p.y})`,
        "data-id": idOf(node), "data-kind": kindOf(node), tabindex: 0 },
      svgEl("title", null, `${kindOf(node)} ${idOf(node)}`),
      svgEl("rect", { width: W, height: H }),
      svgEl("text", { class: "kind", x: 8, y: 13 }, kindOf(node)),
      svgEl("text", { class: "label", x: 8, y: 28 }, text.length > 36 ? text.slice(0, 35) + "…" : text));
      g.addEventListener("click", () => onPick(node));
      g.addEventListener("keydown", (ev) => { if (ev.key === "Enter") onPick(node); });
      svg.append(g);
    }
    levels.forEach((lv, col) => {
      if (!hood.more.has(lv)) return;
      const y = TOP + byLevel.get(lv).length * (H + GAP_Y);
      svg.append(svgEl("g", { class: "node more", transform: `translate(${10 + col * (W + GAP_X)},${y})` },
        svgEl("rect", { width: W, height: H }),
        svgEl("text", { class: "label", x: 8, y: 22 }, `+${fmt(hood.more.get(lv).size)} more not drawn`)));
    });
    return svg;
  }

  function renderLineage() {
    const types = DATA.links.types;
    const state = { center: -1, levels: 2, rollup: null, types: new Set(types.map((_, k) => k)) };
    const input = el("input", { type: "text", id: "lineage-search", placeholder: "OBJECT_ID or part of it", "aria-label": "object to draw" });
    const suggestions = el("ul", { class: "suggestions" });
    const levelSelect = el("select", { "aria-label": "levels each way", onchange: () => { state.levels = Number(levelSelect.value); draw(); } },
      [1, 2, 3, 4, 5].map((n) => el("option", { value: n, selected: n === state.levels ? "" : null }, `${n} level${n > 1 ? "s" : ""} each way`)));
    const rollup = el("input", { type: "checkbox", id: "lineage-rollup", onchange: () => { state.rollup = rollup.checked; draw(); } });
    const typeBoxes = types.map((t, k) => el("label", { class: `c${k % COLOURS}` },
      el("input", { type: "checkbox", checked: "", onchange: (ev) => { ev.target.checked ? state.types.add(k) : state.types.delete(k); draw(); } }),
      " " + t + ` (${fmt(DATA.links.counts[t])})`));
    const graph = el("div", { class: "graph" }), caption = el("p", { id: "lineage-caption" });
    input.addEventListener("input", debounce(() => {
      const q = input.value.trim().toLowerCase();
      suggestions.replaceChildren();
      if (q.length < 2) return;
      const ids = lowerIds();
      for (let i = 0, shown = 0; i < O.n && shown < 12; i++) {
        if (ids[i].indexOf(q) < 0) continue;
        shown++;
        suggestions.append(el("li", { onclick: () => choose(i) }, `${kindOf(i)} ${idOf(i)}`));
      }
    }, 200));
    function choose(i) {
      location.hash = "lineage=" + encodeURIComponent(idOf(i)) + "&kind=" + kindOf(i);
    }
    function draw() {
      if (state.center < 0) {
        graph.replaceChildren(el("p", { class: "hint", style: "padding:8px" },
          DATA.links.source.length ? "Choose an object: type part of its OBJECT_ID above, or follow a lineage link in the tables."
            : "This run has no linkages."));
        return;
      }
      const rolled = state.rollup === null ? O.kind[state.center] !== COLUMN : state.rollup;
      rollup.checked = rolled;
      const hood = neighbourhood(state.center, state.levels, rolled, state.types);
      graph.replaceChildren(drawGraph(state.center, hood, choose));
      const up = [...hood.level.values()].filter((v) => v < 0).length, down = [...hood.level.values()].filter((v) => v > 0).length;
      caption.textContent = `${kindOf(state.center)} ${idOf(state.center)}: ${up} upstream, ${down} downstream ` +
        `within ${state.levels} level${state.levels > 1 ? "s" : ""}, ${hood.edges.length} edge${hood.edges.length === 1 ? "" : "s"} drawn` +
        (rolled ? " (column edges shown on their tables)." : ".");
    }
    L.show = (i) => {
      state.center = i;
      state.rollup = null;
      input.value = i >= 0 ? idOf(i) : "";
      suggestions.replaceChildren();
      draw();
    };
    fill("lineage", 
      el("div", { class: "controls" }, input, levelSelect, el("label", null, rollup, " show column edges on their tables")),
      suggestions, el("div", { class: "legend controls" }, typeBoxes), caption, graph);
    draw();
  }

  /* #lineage=<OBJECT_ID>&kind=<KIND>: the object to centre on, so a drawing can be linked to;
     #profile=<OBJECT_ID>: the table whose column profile to show. */
  function followHash() {
    const params = new URLSearchParams(location.hash.slice(1));
    if (params.has("profile") && P.show) {
      P.show(params.get("profile"));
      document.getElementById("profile").scrollIntoView();
      return;
    }
    if (!params.has("lineage")) return;
    const i = findObject(params.get("lineage"), params.get("kind"));
    L.show(i);
    if (i < 0) document.getElementById("lineage-caption").textContent = "No object " + params.get("lineage") + " in this run.";
    document.getElementById("lineage").scrollIntoView();
  }

  // -- query log, privileges, settings ---------------------------------------------------------

  function renderQueryLog() {
    const q = DATA.query_log;
    if (!q.present) {
      fill("querylog", el("p", { id: "querylog-absent" },
        `No query log in this run: ${q.why}. No query text would leave.`));
      return;
    }
    const counts = (title, map) => el("p", null, el("strong", null, title + ": "),
      Object.entries(map).map(([k, v]) => `${k} ${fmt(v)}`).join(" · "));
    fill("querylog", 
      el("p", null, `${fmt(q.total)} records in ${q.file}, ${fmt(q.masked)} of them with masked text. ` +
        `The first ${fmt(Math.min(q.total, q.sample_limit))} are shown as they will be sent` +
        ` (texts longer than ${fmt(q.text_limit)} characters cut here, not in the file).`),
      counts("statement types", q.statement_types), counts("users", q.users), counts("databases", q.databases),
      el("div", { style: "overflow-x:auto" }, table(q.columns, q.sample.map((row) => el("tr", null,
        row.map((v, c) => el("td", null, q.columns[c] === "QUERY_TEXT" ? el("pre", null, v) : v)))), { id: "querylog-table" })));
  }

  // -- usage and profiles (report/statistics.py) ----------------------------------------------

  function renderUsage() {
    const u = DATA.usage;
    if (!u.present) {
      fill("usage", el("p", { id: "usage-absent" }, "No usage in this run (meta_only is true, or usage is off)."));
      return;
    }
    const list = (id, title, part, headers, cells) => [
      el("h3", null, `${title} (${fmt(part.total)})`),
      part.total ? table(headers, part.rows.map((r) => el("tr", null, cells(r))), { id })
        : el("p", null, "None."),
      part.total > part.rows.length ? el("p", { class: "hint" }, `The first ${fmt(part.rows.length)} are shown; all are in the usage file.`) : null];
    const id = (v) => el("td", { class: "mono id" }, v);
    fill("usage",
      el("p", null, "Rows by how they count: " + Object.entries(u.baselines).map(([k, v]) => `${k} ${fmt(v)}`).join(" · ") +
        " (SNAPSHOT: the window's own counts; FIRST_RUN: since the statistics were last reset; RESET: since a reset in the window)."),
      ...list("usage-read", "Most read tables", u.read, ["table", "rows read#", "rows written#", "scans#"],
        (r) => [id(r[0]), num(fmt(r[1])), num(fmt(r[2])), num(fmt(r[3]))]),
      ...list("usage-written", "Most written tables", u.written, ["table", "rows written#", "rows read#", "scans#"],
        (r) => [id(r[0]), num(fmt(r[2])), num(fmt(r[1])), num(fmt(r[3]))]),
      ...list("usage-functions", "Functions by calls", u.functions, ["function", "calls#", "total ms#"],
        (r) => [id(r[0]), num(fmt(r[1])), num(fmt(r[2]))]),
      ...list("usage-untouched", "Tables not touched in the window", u.untouched_tables, ["table"], (r) => [id(r)]),
      ...list("usage-unscanned", "Indexes not scanned in the window", u.unscanned_indexes, ["index"], (r) => [id(r)]));
  }

  const P = { show: null };
  function renderProfile() {
    const p = DATA.profile;
    if (!p.present) {
      fill("profile", el("p", { id: "profile-absent" }, "No profile in this run (meta_only is true, or profile is off)."));
      return;
    }
    const ids = Object.keys(p.tables).sort();
    const select = el("select", { id: "profile-table", "aria-label": "table to profile", onchange: () => show(select.value) },
      el("option", { value: "" }, `choose one of ${fmt(ids.length)} tables`), ids.map((t) => el("option", { value: t }, t)));
    const body = el("div");
    function show(t) {
      select.value = t;
      const entry = p.tables[t];
      if (!entry) { body.replaceChildren(t ? el("p", null, `No profile for ${t} in this run.`) : ""); return; }
      body.replaceChildren(
        el("p", { id: "profile-caption" }, `${t}: about ${fmt(entry.rows === "" ? null : entry.rows)} rows, ` +
          (entry.analyzed ? `last analysed ${entry.analyzed} UTC` : "never analysed") + `, ${entry.columns.length} column(s) with statistics.`),
        entry.columns.length ? table(["column", "null fraction#", "distinct values#", "average width#", "correlation#"],
          entry.columns.map(([name, nulls, distinct, estimated, width, corr]) => el("tr", null,
            el("td", { class: "mono" }, name), num(nulls), num(distinct === "" ? "" : fmt(distinct) + (estimated ? " (est.)" : "")),
            num(width), num(corr))), { id: "profile-columns" })
          : el("p", { class: "hint", id: "profile-none" }, entry.included
            ? "No column statistics: never analysed, or the collector's role may not SELECT its columns (pg_stats shows only those)."
            : "Its statistics did not change in this run's window (not analysed since): its columns' profile is in the file of the window it was last analysed in."));
    }
    P.show = show;
    fill("profile", el("div", { class: "controls" }, select),
      p.omitted ? el("p", { class: "hint" }, `${fmt(p.omitted)} column profiles are not shown here (the report keeps its size bounded); they are in the profile file.`) : null,
      body);
  }

  function renderPrivileges() {
    const p = DATA.privileges, r = DATA.roles;
    const privileges = [...new Set(p.grantees.flatMap((g) => Object.keys(g.privileges)))].sort();
    fill("privileges", 
      el("p", null, `${fmt(p.total)} grants to ${fmt(p.grantees.length)} grantees (owners' implicit rights included, as the catalog sees them).`),
      el("div", { style: "overflow-x:auto" }, table(["grantee (grants on kinds)", "grants#", "objects#", "grantable#", ...privileges.map((x) => x + "#")],
        p.grantees.map((g) => el("tr", null,
          el("td", null, g.grantee, el("div", { class: "hint" }, Object.entries(g.kinds).map(([k, v]) => `${k} ${fmt(v)}`).join(" · "))),
          num(fmt(g.grants)), num(fmt(g.objects)), num(fmt(g.grantable) || ""),
          privileges.map((x) => num(fmt(g.privileges[x]))))), { id: "privileges-table" })),
      el("h3", null, `Roles and memberships (${fmt(r.total)})`),
      table(["kind", "role", "member of"], r.rows.map(([kind, user, role]) => el("tr", null,
        el("td", null, kind), el("td", null, user), el("td", null, role)))));
  }

  function renderSettings() {
    fill("settings", el("p", { class: "hint" }, "The manifest records an allow-list of the configuration; never a password."),
      table(["setting", "value"], Object.entries(DATA.settings).map(([k, v]) => el("tr", null,
        el("td", null, k), el("td", { class: "mono id" }, v === null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v))))));
  }

  renderRun();
  renderFiles();
  renderCounts();
  renderEvents();
  renderObjects();
  renderLineage();
  renderUsage();
  renderProfile();
  renderQueryLog();
  renderPrivileges();
  renderSettings();
  window.addEventListener("hashchange", followHash);
  followHash();
  // For whoever measures the page: rendered, the script's time, and the time since navigation began.
  document.documentElement.dataset.scriptMs = String(Math.round(performance.now() - started));
  document.documentElement.dataset.readyMs = String(Math.round(performance.now()));
  document.documentElement.dataset.ready = "1";
})();
