// ATT&CK heatmap behaviour (attack.html): recounts the cells for the level,
// status and product filters from window.SIGSCOPE_INDEX, lists the rules of
// a clicked cell and builds Navigator layers of the current view. State
// lives in the URL hash (#level=high&product=windows&technique=T1059).
(function () {
  "use strict";
  var data = window.SIGSCOPE_INDEX;
  var matrix = document.getElementById("matrix");
  if (!data || !data.rules || !matrix) return;
  // Filter rules do not alert; detection and correlation rules do.
  var rules = data.rules.filter(function (r) { return r.kind !== "filter"; });
  var levelOrder = { critical: 5, high: 4, medium: 3, low: 2, informational: 1 };
  var levelSel = document.getElementById("a-level");
  var statusSel = document.getElementById("a-status");
  var productSel = document.getElementById("a-product");
  var subsBox = document.getElementById("a-subs");
  var countEl = document.getElementById("a-count");
  var panel = document.getElementById("cell-rules");
  var cells = Array.prototype.slice.call(matrix.querySelectorAll("a.cell"));
  var names = {};
  cells.forEach(function (c) { names[c.getAttribute("data-tid")] = c.querySelector(".tname").textContent; });
  var selected = "";

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
  function distinct(key) {
    var seen = {};
    rules.forEach(function (r) { if (r[key]) seen[r[key]] = true; });
    return Object.keys(seen);
  }
  function fill(select, values) {
    values.forEach(function (v) {
      var o = document.createElement("option");
      o.value = v;
      o.textContent = v;
      select.appendChild(o);
    });
  }
  fill(levelSel, distinct("level").sort(function (a, b) { return (levelOrder[b] || 0) - (levelOrder[a] || 0); }));
  fill(statusSel, distinct("status").sort());
  fill(productSel, distinct("product").sort());

  function visible(r) {
    var status = statusSel.value;
    if (status === "active" && (r.status === "deprecated" || r.status === "unsupported")) return false;
    if (status && status !== "active" && r.status !== status) return false;
    if (levelSel.value && r.level !== levelSel.value) return false;
    if (productSel.value && r.product !== productSel.value) return false;
    return true;
  }

  // Technique id -> rules: exact tags for sub-techniques, a parent's own and
  // its sub-techniques' rules for techniques (each rule once).
  var byTechnique = {};
  function recount() {
    byTechnique = {};
    var shown = 0;
    rules.forEach(function (r) {
      if (!visible(r)) return;
      shown++;
      var ids = {};
      (r.techniques || []).forEach(function (t) {
        ids[t] = true;
        ids[t.split(".")[0]] = true;
      });
      Object.keys(ids).forEach(function (t) { (byTechnique[t] = byTechnique[t] || []).push(r); });
    });
    var max = 1;
    cells.forEach(function (c) {
      if (!c.classList.contains("sub")) max = Math.max(max, (byTechnique[c.getAttribute("data-tid")] || []).length);
    });
    cells.forEach(function (c) {
      var n = (byTechnique[c.getAttribute("data-tid")] || []).length;
      var heat = n === 0 ? 0 : Math.min(5, 1 + Math.floor(4 * Math.sqrt(n / max)));
      c.className = c.className.replace(/\bheat-\d\b/, "heat-" + heat);
      c.querySelector(".n").textContent = n;
      c.title = n + (n === 1 ? " rule" : " rules");
    });
    Array.prototype.forEach.call(matrix.querySelectorAll(".tactic"), function (col) {
      var covered = 0;
      Array.prototype.forEach.call(col.querySelectorAll(".tech > a.cell"), function (c) {
        if ((byTechnique[c.getAttribute("data-tid")] || []).length) covered++;
      });
      col.querySelector(".covered").textContent = covered;
    });
    countEl.textContent = shown + " of " + rules.length + " detection rules counted";
  }

  function showSubs(all) {
    Array.prototype.forEach.call(matrix.querySelectorAll(".tech"), function (tech) {
      var button = tech.querySelector(".subs-toggle");
      if (!button) return;
      var open = all || tech.getAttribute("data-open") === "1";
      tech.querySelector(".subs").hidden = !open;
      button.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  function sortedRules(list) {
    return list.slice().sort(function (a, b) {
      var byLevel = (levelOrder[b.level] || 0) - (levelOrder[a.level] || 0);
      if (byLevel !== 0) return byLevel;
      if (a.title < b.title) return -1;
      return a.title > b.title ? 1 : 0;
    });
  }

  function showPanel() {
    matrix.querySelectorAll("a.cell.selected").forEach(function (c) { c.classList.remove("selected"); });
    if (!selected) { panel.hidden = true; return; }
    var cell = matrix.querySelector('a.cell[data-tid="' + selected.replace(/[^A-Za-z0-9.]/g, "") + '"]');
    if (cell) cell.classList.add("selected");
    var list = sortedRules(byTechnique[selected] || []);
    document.getElementById("cell-title").textContent = selected + " " + (names[selected] || "");
    document.getElementById("cell-summary").textContent = list.length + (list.length === 1 ? " rule" : " rules") +
      " in this view" + (selected.indexOf(".") < 0 ? " (with its sub-techniques)" : "");
    var html = [];
    list.forEach(function (r) {
      html.push("<li><span class=\"badge level-" + escapeHtml(r.level) + "\">" + escapeHtml(r.level) +
        "</span> <a href=\"rules/" + encodeURIComponent(r.slug) + ".html\">" + escapeHtml(shortTitle(r.title)) + "</a></li>");
    });
    document.getElementById("cell-list").innerHTML = html.join("");
    panel.hidden = false;
  }

  function readHash() {
    var p = new URLSearchParams(location.hash.replace(/^#/, ""));
    levelSel.value = p.get("level") || "";
    statusSel.value = p.has("status") ? p.get("status") : "active";
    productSel.value = p.get("product") || "";
    subsBox.checked = p.get("subs") === "1";
    selected = p.get("technique") || "";
  }
  function writeHash() {
    var p = new URLSearchParams();
    if (levelSel.value) p.set("level", levelSel.value);
    if (statusSel.value !== "active") p.set("status", statusSel.value);
    if (productSel.value) p.set("product", productSel.value);
    if (subsBox.checked) p.set("subs", "1");
    if (selected) p.set("technique", selected);
    var h = p.toString();
    history.replaceState(null, "", h ? "#" + h : location.pathname + location.search);
  }
  function update() { writeHash(); recount(); showSubs(subsBox.checked); showPanel(); }

  [levelSel, statusSel, productSel, subsBox].forEach(function (el) { el.addEventListener("change", update); });
  document.getElementById("attack-filters").addEventListener("submit", function (e) { e.preventDefault(); });
  matrix.addEventListener("click", function (e) {
    var toggle = e.target.closest(".subs-toggle");
    if (toggle) {
      var tech = toggle.parentNode;
      tech.setAttribute("data-open", tech.getAttribute("data-open") === "1" ? "0" : "1");
      showSubs(subsBox.checked);
      return;
    }
    var cell = e.target.closest("a.cell");
    if (!cell) return;
    e.preventDefault();
    selected = cell.getAttribute("data-tid");
    writeHash();
    showPanel();
  });
  document.getElementById("cell-close").addEventListener("click", function () {
    selected = "";
    writeHash();
    showPanel();
  });
  window.addEventListener("hashchange", function () { readHash(); update(); });

  // Navigator layer (format 4.5) of the current view, with absolute links to
  // the rule pages where this copy of the site lives.
  function layer(score) {
    var known = {};
    cells.forEach(function (c) { known[c.getAttribute("data-tid")] = true; });
    var exact = {};
    rules.forEach(function (r) {
      if (!visible(r)) return;
      // Ids that the bundled ATT&CK data lacks (newer ones) are kept, as in
      // the layer that `sigscope layer` writes; the description names them.
      (r.techniques || []).forEach(function (t) { (exact[t] = exact[t] || []).push(r); });
    });
    var newer = Object.keys(exact).filter(function (t) { return !known[t]; }).sort();
    var techniques = [], max = 1, parents = {};
    Object.keys(exact).forEach(function (t) { if (t.indexOf(".") > 0) parents[t.split(".")[0]] = true; });
    Object.keys(exact).sort().forEach(function (t) {
      var list = sortedRules(exact[t]);
      var value = score === "level" ? (levelOrder[list[0].level] || 0) : list.length;
      max = Math.max(max, value);
      techniques.push({
        techniqueID: t, score: value, enabled: true, showSubtechniques: !!parents[t],
        comment: list.length + (list.length === 1 ? " rule" : " rules"),
        metadata: list.map(function (r) { return { name: r.id || r.slug, value: r.title }; }),
        links: list.map(function (r) {
          return { label: r.title, url: new URL("rules/" + encodeURIComponent(r.slug) + ".html", location.href).href };
        })
      });
    });
    Object.keys(parents).forEach(function (p) {
      if (!exact[p] && known[p]) techniques.push({ techniqueID: p, enabled: true, showSubtechniques: true });
    });
    var filters = [levelSel.value && "level " + levelSel.value, "status " + (statusSel.value || "any"),
                   productSel.value && "product " + productSel.value].filter(function (x) { return x; });
    return {
      name: "sigscope rule coverage", domain: "enterprise-attack",
      versions: { layer: "4.5", navigator: "5.1.0", attack: String(data.attack_version || "").split(".")[0] },
      description: "Sigma detection rules per technique (" + filters.join(", ") + "), scored by " +
        (score === "level" ? "the highest rule level (informational 1 to critical 5)" : "rule count") +
        (newer.length ? ". " + newer.length + " technique ids are not in ATT&CK " + (data.attack_version || "") +
          " and are kept as tagged: " + newer.join(", ") : ""),
      sorting: 3,
      layout: { layout: "side", showID: true, showName: true, expandedSubtechniques: "annotated" },
      hideDisabled: false, techniques: techniques,
      gradient: score === "level"
        ? { colors: ["#ffffff", "#9ecae1", "#fdd49e", "#fc8d59", "#d7301f", "#7f0000"], minValue: 0, maxValue: 5 }
        : { colors: ["#ffffff", "#66b1ff", "#0d3b8c"], minValue: 0, maxValue: max },
      legendItems: score === "level"
        ? [["informational", "#9ecae1"], ["low", "#fdd49e"], ["medium", "#fc8d59"], ["high", "#d7301f"],
           ["critical", "#7f0000"]].map(function (l) { return { label: "highest rule level: " + l[0], color: l[1] }; })
        : [],
      metadata: [{ name: "generator", value: "sigscope" }, { name: "score", value: score }],
      showTacticRowBackground: false, selectTechniquesAcrossTactics: true, selectSubtechniquesWithParent: false
    };
  }
  function download(score) {
    var blob = new Blob([JSON.stringify(layer(score), null, 1)], { type: "application/json" });
    var a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = "sigscope-layer-" + score + ".json";
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  }
  document.getElementById("layer-count").addEventListener("click", function () { download("count"); });
  document.getElementById("layer-level").addEventListener("click", function () { download("level"); });

  readHash();
  update();
})();
