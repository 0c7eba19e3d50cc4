// Index page behaviour: free-text search, filters and sortable columns over
// window.SIGSCOPE_INDEX (written by sigscope into assets/index-data.js). The
// filter state lives in the URL hash (#q=...&tactic=...) so views can be shared.
(function () {
  "use strict";
  var data = window.SIGSCOPE_INDEX;
  if (!data || !data.rules) return;
  var rules = data.rules;
  var tbody = document.querySelector("#rules tbody");
  var count = document.getElementById("count");
  var levelOrder = { critical: 5, high: 4, medium: 3, low: 2, informational: 1 };
  var filters = {
    tactic: document.getElementById("f-tactic"),
    technique: document.getElementById("f-technique"),
    level: document.getElementById("f-level"),
    status: document.getElementById("f-status"),
    product: document.getElementById("f-product"),
    category: document.getElementById("f-category"),
    service: document.getElementById("f-service")
  };
  var query = document.getElementById("q");
  var sortKey = "title";
  var sortDir = 1;

  function escapeHtml(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  // Lists show at most 160 characters of a title, so one huge title cannot
  // stretch the page; the rule's own page shows it whole.
  function shortTitle(t) {
    var chars = Array.from(String(t == null ? "" : t));
    return chars.length > 160 ? chars.slice(0, 160).join("") + "\u2026" : chars.join("");
  }

  var tacticNames = data.tactic_names || {};
  function tacticLabel(t) { return tacticNames[t] || t; }

  function logsource(r) {
    return [r.product, r.category, r.service].filter(function (x) { return x; }).join("/");
  }

  // Each rule's searchable text, lower-cased once.
  rules.forEach(function (r) {
    r._text = [r.title, r.id, r.description, r.author, r.path, (r.tags || []).join(" "),
               (r.techniques || []).join(" "), r.indicators].join("\n").toLowerCase();
    r._logsource = logsource(r);
    r._title = String(r.title || "").toLowerCase();
  });

  // Options in `order` first, in that order, then the others sorted.
  function fillSelect(select, values, label, order) {
    var rank = function (v) { var i = (order || []).indexOf(v); return i < 0 ? order.length : i; };
    values.sort(function (a, b) {
      if (order && rank(a) !== rank(b)) return rank(a) - rank(b);
      if (a < b) return -1;
      if (a > b) return 1;
      return 0;
    }).forEach(function (v) {
      var o = document.createElement("option");
      o.value = v;
      o.textContent = label ? label(v) : v;
      select.appendChild(o);
    });
  }
  function distinct(key) {
    var seen = {};
    rules.forEach(function (r) {
      var v = r[key];
      (Array.isArray(v) ? v : [v]).forEach(function (x) { if (x) seen[x] = true; });
    });
    return Object.keys(seen);
  }
  fillSelect(filters.tactic, distinct("tactics"), tacticLabel);
  fillSelect(filters.level, distinct("level"), null, ["critical", "high", "medium", "low", "informational"]);
  fillSelect(filters.status, distinct("status"));
  fillSelect(filters.product, distinct("product"));
  fillSelect(filters.category, distinct("category"));
  fillSelect(filters.service, distinct("service"));
  var techniqueList = document.getElementById("technique-list");
  distinct("techniques").sort().forEach(function (t) {
    var o = document.createElement("option");
    o.value = t;
    techniqueList.appendChild(o);
  });

  function readHash() {
    var params = new URLSearchParams(location.hash.replace(/^#/, ""));
    query.value = params.get("q") || "";
    Object.keys(filters).forEach(function (k) {
      var requested = (params.get(k) || "").trim();
      var select = filters[k];
      select.value = requested;
      if (!requested || select.value === requested || !select.options) return;
      // A value in another case selects its option. An unknown value gets an
      // option of its own, so the filter stays visible and matches nothing.
      var same = Array.prototype.find.call(select.options, function (o) {
        return o.value.toLowerCase() === requested.toLowerCase();
      });
      if (same) {
        select.value = same.value;
        return;
      }
      var o = document.createElement("option");
      o.value = requested;
      o.textContent = requested + " (no rule)";
      select.appendChild(o);
      select.value = requested;
    });
    if (params.get("sort")) {
      sortKey = params.get("sort");
      sortDir = params.get("dir") === "desc" ? -1 : 1;
    }
  }
  function writeHash() {
    var params = new URLSearchParams();
    if (query.value) params.set("q", query.value);
    Object.keys(filters).forEach(function (k) { if (filters[k].value) params.set(k, filters[k].value); });
    if (sortKey !== "title" || sortDir !== 1) {
      params.set("sort", sortKey);
      params.set("dir", sortDir < 0 ? "desc" : "asc");
    }
    var h = params.toString();
    history.replaceState(null, "", h ? "#" + h : location.pathname + location.search);
  }

  function matches(r, terms) {
    for (var i = 0; i < terms.length; i++) if (r._text.indexOf(terms[i]) < 0) return false;
    var f = filters;
    if (f.tactic.value && (r.tactics || []).indexOf(f.tactic.value) < 0) return false;
    if (f.technique.value) {
      var t = f.technique.value.trim().toUpperCase();
      var hit = (r.techniques || []).some(function (x) { return x === t || x.indexOf(t + ".") === 0; });
      if (!hit) return false;
    }
    if (f.level.value && r.level !== f.level.value) return false;
    if (f.status.value && r.status !== f.status.value) return false;
    if (f.product.value && r.product !== f.product.value) return false;
    if (f.category.value && r.category !== f.category.value) return false;
    if (f.service.value && r.service !== f.service.value) return false;
    return true;
  }

  function sortValue(r) {
    if (sortKey === "level") return levelOrder[r.level] || 0;
    if (sortKey === "logsource") return r._logsource;
    if (sortKey === "tactics") return (r.tactics || []).join(",");
    return String(r[sortKey] || "").toLowerCase();
  }

  // Rows are rendered a page at a time: the first PAGE rows on every change,
  // more on "Show more". Filtering and sorting run over the pre-lowered
  // search text; the sort order is cached until the sort key changes.
  var PAGE = 200;
  var shown = [];
  var limit = PAGE;
  var sortedKey = null;
  var more = document.getElementById("more");

  function sortRules() {
    var key = sortKey;
    if (sortedKey === key) return;
    rules.forEach(function (r) { r._sort = sortValue(r); });
    rules.sort(function (a, b) {
      if (a._sort < b._sort) return -1;
      if (a._sort > b._sort) return 1;
      if (a._title < b._title) return -1;
      return a._title > b._title ? 1 : 0;
    });
    sortedKey = key;
  }

  function rowHtml(r) {
    return "<tr><td><a href=\"rules/" + escapeHtml(r.slug) + ".html\">" + escapeHtml(shortTitle(r.title)) +
      "</a></td><td><span class=\"badge level-" + escapeHtml(r.level) + "\">" + escapeHtml(r.level) +
      "</span></td><td>" + escapeHtml(r.status) + "</td><td>" + escapeHtml(r._logsource) +
      "</td><td>" + escapeHtml((r.tactics || []).map(tacticLabel).join(", ")) + "</td></tr>";
  }

  function renderRows(from) {
    var html = [];
    var end = Math.min(limit, shown.length);
    for (var i = from; i < end; i++) html.push(rowHtml(shown[i]));
    if (from === 0) tbody.innerHTML = html.join("");
    else tbody.insertAdjacentHTML("beforeend", html.join(""));
    more.hidden = end >= shown.length;
    more.textContent = "Show " + Math.min(PAGE, shown.length - end) + " more (" + (shown.length - end) + " not shown)";
  }

  function render() {
    var terms = query.value.toLowerCase().split(/\s+/).filter(function (x) { return x; });
    sortRules();
    shown = [];
    for (var i = 0; i < rules.length; i++) if (matches(rules[i], terms)) shown.push(rules[i]);
    if (sortDir < 0) shown.reverse();
    limit = PAGE;
    renderRows(0);
    count.textContent = shown.length + " of " + rules.length + " rules";
    document.querySelectorAll("#rules th[data-key]").forEach(function (th) {
      th.classList.remove("sorted-asc", "sorted-desc");
      if (th.getAttribute("data-key") === sortKey) th.classList.add(sortDir > 0 ? "sorted-asc" : "sorted-desc");
    });
  }

  more.addEventListener("click", function () {
    var from = Math.min(limit, shown.length);
    limit += PAGE;
    renderRows(from);
  });

  function update() { writeHash(); render(); }

  // Search as you type, debounced so fast typing renders once.
  var timer = null;
  query.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(update, 120);
  });
  document.getElementById("filters").addEventListener("submit", function (e) {
    e.preventDefault();
    clearTimeout(timer);
    update();
  });
  Object.keys(filters).forEach(function (k) {
    filters[k].addEventListener(k === "technique" ? "input" : "change", update);
  });
  document.getElementById("reset").addEventListener("click", function () {
    query.value = "";
    Object.keys(filters).forEach(function (k) { filters[k].value = ""; });
    update();
  });
  document.querySelectorAll("#rules th[data-key]").forEach(function (th) {
    th.addEventListener("click", function () {
      var key = th.getAttribute("data-key");
      sortDir = key === sortKey ? -sortDir : 1;
      sortKey = key;
      update();
    });
  });
  window.addEventListener("hashchange", function () { readHash(); render(); });
  readHash();
  render();
})();
