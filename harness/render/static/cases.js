/* The case table of a harness report or diff: sort, filter, paginate, expand.
 *
 * Model output is untrusted data. Every value from the embedded JSON reaches the page through
 * textContent / createTextNode only: never innerHTML, never an attribute that can navigate or
 * run code (no href, no src, no on*). Rows are built for the visible page only, so 100,000
 * records cost one array scan per filter change, not 100,000 DOM nodes.
 */
(function () {
  "use strict";
  var holder = document.getElementById("harness-data");
  var root = document.getElementById("cases");
  if (!holder || !root) { return; }
  var D = JSON.parse(holder.textContent);
  var R = D.rows;
  var S = D.sides;
  var N = D.n;
  var NA = "n/a";
  var st = { key: null, dir: 1, page: 0, size: 50, cat: "", status: "", check: "", q: "", open: {} };
  var hay = null;
  var view = [];
  var rank = new Int32Array(N);  // position in the default order: ties keep it
  (D.order || []).forEach(function (i, p) { rank[i] = p; });

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  function known(v) { return v !== null && v !== undefined && !(typeof v === "number" && isNaN(v)); }
  function secs(v) { return !known(v) ? NA : (v < 1 ? Math.round(v * 1000) + " ms" : v.toFixed(2) + " s"); }
  function intf(v) { return !known(v) ? NA : Math.round(v).toLocaleString("en-US"); }
  function score(v) { return !known(v) ? NA : v.toFixed(3); }
  function money(v) { return !known(v) ? NA : v.toFixed(6) + (D.currency ? " " + D.currency : ""); }
  function badge(text, cls) { return el("span", "badge " + cls, text); }

  function cell(kind, v, i) {
    var td = el("td");
    if (kind === "verdict") {
      td.appendChild(known(v) ? badge(v === "measured" ? "measured" : v, "v-" + v) : document.createTextNode(NA));
    } else if (kind === "transition") {
      td.appendChild(badge(String(v).replace("_", " "), "t-" + v));
      if (R.crit && R.crit[i]) { td.appendChild(badge("critical", "v-error")); }
    } else if (kind === "finish") {
      if (v === "length") { td.appendChild(badge("length: truncated", "trunc")); }
      else { td.textContent = known(v) ? v : NA; }
    } else if (kind === "secs") { td.textContent = secs(v); td.className = "num"; }
    else if (kind === "int") { td.textContent = intf(v); td.className = "num"; }
    else if (kind === "score") { td.textContent = score(v); td.className = "num"; }
    else if (kind === "delta") {
      td.className = "num" + (known(v) && v < 0 ? " worse" : known(v) && v > 0 ? " better" : "");
      td.textContent = !known(v) ? NA : (v > 0 ? "+" : "") + v.toFixed(3);
    } else if (kind === "list") { td.textContent = v && v.length ? v.join(", ") : ""; }
    else { td.textContent = known(v) ? v : NA; }
    return td;
  }

  /* ---------------------------------------------------------------- filtering and sorting */
  function haystack(i) {
    if (!hay) { hay = new Array(N); }
    if (hay[i] === undefined) {
      var parts = [R.id[i], R.cat[i]];
      var refs = D.mode === "diff" ? [[S[0], R.brow[i]], [S[1], R.crow[i]]] : [[S[0], i]];
      refs.forEach(function (ref) {
        var side = ref[0], j = ref[1];
        if (j < 0) { return; }
        ["out", "rsn", "err"].forEach(function (k) { if (side[k][j]) { parts.push(side[k][j]); } });
      });
      if (R.tags && R.tags[i]) { parts.push(R.tags[i].join(" ")); }
      if (R.fail[i]) { parts.push(R.fail[i].join(" ")); }
      hay[i] = parts.join("\n").toLowerCase();
    }
    return hay[i];
  }
  function matches(i) {
    if (st.cat && R.cat[i] !== st.cat) { return false; }
    if (st.status === "__trunc") {
      var fr = D.mode === "diff" ? [R.bfr[i], R.cfr[i]] : [R.fr[i]];
      if (fr.indexOf("length") < 0) { return false; }
    } else if (st.status && R[D.statusKey][i] !== st.status) { return false; }
    if (st.check && (!R.fail[i] || R.fail[i].indexOf(st.check) < 0)) { return false; }
    if (st.q && haystack(i).indexOf(st.q) < 0) { return false; }
    return true;
  }
  function compare(a, b) {
    var col = R[st.key];
    var x = col[a], y = col[b];
    var kx = known(x), ky = known(y);
    if (!kx || !ky) { return kx === ky ? rank[a] - rank[b] : (kx ? -1 : 1); }  // unknown last, either way
    if (Array.isArray(x)) { x = x.join(","); y = y.join(","); }
    if (x < y) { return -st.dir; }
    if (x > y) { return st.dir; }
    return rank[a] - rank[b];
  }
  function recompute() {
    view = [];
    var order = D.order;
    for (var p = 0; p < N; p++) { var i = order ? order[p] : p; if (matches(i)) { view.push(i); } }
    if (st.key) { view.sort(compare); }
  }

  /* ---------------------------------------------------------------- details */
  function section(parent, title, text, cls) {
    if (!known(text) || text === "") { return; }
    parent.appendChild(el("h4", null, title));
    parent.appendChild(el("pre", cls || "text", text));
  }
  function marked(text, ranges, cls) {
    var pre = el("pre", "text");
    if (!known(text)) { pre.textContent = NA; pre.className = "text na"; return pre; }
    if (!ranges || !ranges.length) { pre.textContent = text; return pre; }
    var pos = 0;
    for (var k = 0; k < ranges.length; k++) {
      var s = ranges[k][0], e = ranges[k][1];
      if (s > pos) { pre.appendChild(document.createTextNode(text.slice(pos, s))); }
      pre.appendChild(el("mark", cls, text.slice(s, e)));
      pos = e;
    }
    if (pos < text.length) { pre.appendChild(document.createTextNode(text.slice(pos))); }
    return pre;
  }
  function kv(parent, pairs) {
    var dl = el("dl", "kv");
    for (var k = 0; k < pairs.length; k++) {
      dl.appendChild(el("dt", null, pairs[k][0]));
      var dd = el("dd", null, pairs[k][1]);
      if (pairs[k][2]) { dd.className = pairs[k][2]; }
      dl.appendChild(dd);
    }
    parent.appendChild(dl);
  }
  function checksTable(parent, list) {
    if (!list || !list.length) { parent.appendChild(el("p", "muted", "no checks")); return; }
    var t = el("table", "checks");
    var h = el("tr");
    ["check", "verdict", "score", "detail"].forEach(function (x) { h.appendChild(el("th", null, x)); });
    t.appendChild(h);
    list.forEach(function (c) {
      var tr = el("tr", c[1] ? "ok" : "bad");
      tr.appendChild(el("td", null, c[0]));
      var v = el("td");
      v.appendChild(badge(c[4] ? "check error" : (c[1] ? "pass" : "fail"), c[4] ? "v-error" : (c[1] ? "v-pass" : "v-fail")));
      tr.appendChild(v);
      tr.appendChild(el("td", "num", score(c[2])));
      tr.appendChild(el("td", "detail", c[3]));
      t.appendChild(tr);
    });
    parent.appendChild(t);
  }
  function toolCalls(list) {
    if (!list || !list.length) { return null; }
    return list.map(function (t) { return t[0] + "(" + (t[1] || "") + ")"; }).join("\n");
  }
  function checksOf(side, j) {
    var c = side.chk, out = [];
    for (var k = c.off[j]; k < c.off[j + 1]; k++) { out.push([c.name[k], c.passed[k], c.score[k], c.detail[k], c.error[k]]); }
    return out;
  }
  function failsOf(side, j) {
    var c = side.chk, out = [];
    if (j < 0) { return out; }
    for (var k = c.off[j]; k < c.off[j + 1]; k++) { if (!c.passed[k]) { out.push(c.name[k]); } }
    return out;
  }
  function recordBlock(box, side, j, ranges, cls) {
    if (side.err[j]) { section(box, "Error", side.err[j], "text error"); }
    box.appendChild(el("h4", null, "Output"));
    box.appendChild(marked(side.out[j], ranges, cls));
    section(box, "Reasoning", side.rsn[j]);
    section(box, "Tool calls", toolCalls(side.tc[j]));
    box.appendChild(el("h4", null, "Checks"));
    checksTable(box, checksOf(side, j));
  }
  function sideBlock(side, j, ranges, cls, title) {
    var box = el("div", "side");
    box.appendChild(el("h3", null, title));
    if (j < 0) { box.appendChild(el("p", "muted", "not in this run")); return box; }
    kv(box, [
      ["verdict", side.v[j]], ["score", score(side.s[j])],
      ["finish", known(side.fr[j]) ? side.fr[j] : NA, side.fr[j] === "length" ? "trunc" : ""],
      ["latency", secs(side.lat[j])], ["TTFT", secs(side.ttft[j])],
      ["tokens in / out / reasoning", intf(side.ptok[j]) + " / " + intf(side.ctok[j]) + " / " + intf(side.rtok[j])],
      ["attempts", intf(side.att[j])], ["cost", money(side.cost[j])]
    ]);
    recordBlock(box, side, j, ranges, cls);
    return box;
  }
  function details(i) {
    var box = el("div", "details");
    var prompt = Object.prototype.hasOwnProperty.call(D.prompts, R.id[i]) ? D.prompts[R.id[i]] : null;
    if (prompt) {
      var pd = el("details", "prompt");
      pd.appendChild(el("summary", null, "Prompt (" + prompt.length + " messages, from the golden suite)"));
      prompt.forEach(function (m) { pd.appendChild(el("div", "role", m[0])); pd.appendChild(el("pre", "text", m[1])); });
      box.appendChild(pd);
    } else if (D.promptNote) { box.appendChild(el("p", "muted", D.promptNote)); }
    if (D.mode === "diff") {
      var grid = el("div", "sides");
      grid.appendChild(sideBlock(S[0], R.brow[i], R.bm[i], "del", "Base"));
      grid.appendChild(sideBlock(S[1], R.crow[i], R.cm[i], "ins", "Candidate"));
      box.appendChild(grid);
      return box;
    }
    var s0 = S[0];
    kv(box, [
      ["case", R.id[i] + (R.r[i] ? " #" + R.r[i] : "")], ["category", R.cat[i]],
      ["tags", R.tags[i] && R.tags[i].length ? R.tags[i].join(", ") : "—"],
      ["finish", known(s0.fr[i]) ? s0.fr[i] : NA, s0.fr[i] === "length" ? "trunc" : ""],
      ["latency", secs(s0.lat[i])], ["TTFT", secs(s0.ttft[i])],
      ["tokens in / out / reasoning / cached", [s0.ptok[i], s0.ctok[i], s0.rtok[i], s0.ktok[i]].map(intf).join(" / ")],
      ["attempts", intf(s0.att[i])], ["cost", money(s0.cost[i])]
    ]);
    recordBlock(box, s0, i, null, null);
    return box;
  }
  /* Table columns are plain per-row arrays; derive the ones that live on a side. */
  function derive() {
    var i;
    R.fail = new Array(N);
    if (D.mode === "report") {
      ["v", "s", "fr", "lat", "ttft", "ctok", "att"].forEach(function (k) { R[k] = S[0][k]; });
      for (i = 0; i < N; i++) { R.fail[i] = failsOf(S[0], i); }
      return;
    }
    ["v", "s", "lat", "fr"].forEach(function (k) {
      var b = new Array(N), c = new Array(N);
      for (i = 0; i < N; i++) {
        b[i] = R.brow[i] >= 0 ? S[0][k][R.brow[i]] : null;
        c[i] = R.crow[i] >= 0 ? S[1][k][R.crow[i]] : null;
      }
      R["b" + k] = b; R["c" + k] = c;
    });
    for (i = 0; i < N; i++) {
      var f = failsOf(S[0], R.brow[i]);
      failsOf(S[1], R.crow[i]).forEach(function (x) { if (f.indexOf(x) < 0) { f.push(x); } });
      R.fail[i] = f;
    }
  }

  /* ---------------------------------------------------------------- table */
  var ui = {};
  function option(sel, value, label) { var o = el("option", null, label); o.value = value; sel.appendChild(o); }
  function select(label, values, onchange) {
    var wrap = el("label", null, label + " ");
    var sel = el("select");
    option(sel, "", "all");
    values.forEach(function (v) { option(sel, v[0], v[1]); });
    sel.addEventListener("change", function () { onchange(sel.value); st.page = 0; recompute(); draw(); });
    wrap.appendChild(sel);
    return [wrap, sel];
  }
  function build() {
    var bar = el("div", "filters");
    var c = select("Category", D.categories.map(function (x) { return [x, x]; }), function (v) { st.cat = v; });
    var s = select("Status", D.statuses.concat([["__trunc", "truncated (finish_reason length)"]]), function (v) { st.status = v; });
    var k = select("Failed check", D.checks.map(function (x) { return [x, x]; }), function (v) { st.check = v; });
    ui.cat = c[1]; ui.status = s[1]; ui.check = k[1];
    ui.q = el("input");
    ui.q.type = "search";
    ui.q.placeholder = "search id, output, error…";
    ui.q.setAttribute("aria-label", "search");
    var timer = null;
    ui.q.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { st.q = ui.q.value.trim().toLowerCase(); st.page = 0; recompute(); draw(); }, 120);
    });
    [c[0], s[0], k[0], ui.q].forEach(function (x) { bar.appendChild(x); });
    ui.count = el("span", "count");
    bar.appendChild(ui.count);
    root.appendChild(bar);
    var table = el("table", "cases");
    var thead = el("thead");
    var hr = el("tr");
    D.columns.forEach(function (col) {
      var th = el("th", "sortable", col[1]);
      th.dataset.key = col[0];
      th.tabIndex = 0;
      var sort = function () {
        if (st.key === col[0]) { st.dir = -st.dir; } else { st.key = col[0]; st.dir = 1; }
        st.page = 0; recompute(); draw();
      };
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") { sort(); } });
      hr.appendChild(th);
    });
    thead.appendChild(hr);
    table.appendChild(thead);
    ui.body = el("tbody");
    table.appendChild(ui.body);
    root.appendChild(table);
    var pager = el("div", "pager");
    ui.prev = el("button", null, "‹ prev");
    ui.next = el("button", null, "next ›");
    ui.pageInfo = el("span");
    ui.size = el("select");
    [50, 100, 500].forEach(function (n) { option(ui.size, String(n), n + " per page"); });
    ui.prev.addEventListener("click", function () { if (st.page > 0) { st.page--; draw(); } });
    ui.next.addEventListener("click", function () { if ((st.page + 1) * st.size < view.length) { st.page++; draw(); } });
    ui.size.addEventListener("change", function () { st.size = parseInt(ui.size.value, 10); st.page = 0; draw(); });
    [ui.prev, ui.pageInfo, ui.next, ui.size].forEach(function (x) { pager.appendChild(x); });
    root.appendChild(pager);
  }
  function toggle(i, tr) {
    if (st.open[i]) {
      delete st.open[i];
      if (tr.nextSibling && tr.nextSibling.className === "detail-row") { tr.parentNode.removeChild(tr.nextSibling); }
      tr.setAttribute("aria-expanded", "false");
    } else {
      st.open[i] = true;
      tr.parentNode.insertBefore(detailRow(i), tr.nextSibling);
      tr.setAttribute("aria-expanded", "true");
    }
  }
  function detailRow(i) {
    var dr = el("tr", "detail-row");
    var td = el("td");
    td.colSpan = D.columns.length;
    td.appendChild(details(i));
    dr.appendChild(td);
    return dr;
  }
  function draw() {
    var body = ui.body;
    while (body.firstChild) { body.removeChild(body.firstChild); }
    var pages = Math.max(1, Math.ceil(view.length / st.size));
    if (st.page >= pages) { st.page = pages - 1; }
    var start = st.page * st.size;
    var end = Math.min(view.length, start + st.size);
    var frag = document.createDocumentFragment();
    var seen = Object.create(null);
    for (var p = start; p < end; p++) {
      var i = view[p];
      var tr = el("tr", "row");
      var v = R[D.statusKey][i];
      tr.className = "row s-" + v + ((R.fr && R.fr[i] === "length") || (R.cfr && R.cfr[i] === "length") ? " truncated" : "");
      tr.dataset.i = String(i);
      tr.tabIndex = 0;
      tr.setAttribute("aria-expanded", st.open[i] ? "true" : "false");
      if (!seen[R.id[i]]) { tr.id = "case-" + R.id[i]; seen[R.id[i]] = true; }
      D.columns.forEach(function (col) { tr.appendChild(cell(col[2], R[col[0]][i], i)); });
      frag.appendChild(tr);
      if (st.open[i]) { frag.appendChild(detailRow(i)); }
    }
    body.appendChild(frag);
    ui.count.textContent = view.length.toLocaleString("en-US") + " of " + N.toLocaleString("en-US") + " rows";
    ui.pageInfo.textContent = " page " + (st.page + 1) + " of " + pages + " ";
    ui.prev.disabled = st.page === 0;
    ui.next.disabled = end >= view.length;
    root.querySelectorAll("th.sortable").forEach(function (th) {
      th.classList.toggle("asc", th.dataset.key === st.key && st.dir === 1);
      th.classList.toggle("desc", th.dataset.key === st.key && st.dir === -1);
    });
  }
  function onBodyEvent(e) {
    if (e.type === "keydown" && e.key !== "Enter") { return; }
    var tr = e.target.closest ? e.target.closest("tr.row") : null;
    if (!tr || (e.type === "click" && window.getSelection && String(window.getSelection()).length)) { return; }
    toggle(parseInt(tr.dataset.i, 10), tr);
  }
  function goToHash() {
    var h = window.location.hash;
    if (h.indexOf("#case-") !== 0) { return; }
    var id;
    try { id = decodeURIComponent(h.slice(6)); } catch (err) { return; }
    var target = R.id.indexOf(id);
    if (target < 0) { return; }
    st.cat = st.status = st.check = st.q = "";
    ui.cat.value = ui.status.value = ui.check.value = ui.q.value = "";
    recompute();
    st.page = Math.floor(view.indexOf(target) / st.size);
    st.open[target] = true;
    draw();
    var row = document.getElementById("case-" + id);
    if (row) { row.scrollIntoView({ block: "start" }); row.focus(); }
  }
  derive();
  build();
  ui.body.addEventListener("click", onBodyEvent);
  ui.body.addEventListener("keydown", onBodyEvent);
  window.addEventListener("hashchange", goToHash);
  recompute();
  draw();
  goToHash();
  root.setAttribute("data-ready", "1");
})();
