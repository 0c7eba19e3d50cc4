// Browser tests of the catalog site. The script builds a catalog of the full
// shared corpus and opens it over file:// in Debian's Chromium, driven by
// playwright-core. It checks the index, a rule page, the ATT&CK heatmap, the
// Navigator layer download and a provider page, and writes screenshots of
// the index, the rule page and the heatmap for the README.
//
//   node run.mjs --cli build/sigscope --shared ../shared --out build/browser-catalog \
//                --screenshots docs/screenshots
//
// Exits 77 (CTest's SKIP_RETURN_CODE) with a message when Chromium, the
// node_modules of this folder or the shared corpus is missing.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, a, i, all) => (a.startsWith("--") ? [...pairs, [a.slice(2), all[i + 1]]] : pairs), []));
const source = path.resolve(here, "..", "..");
const cli = path.resolve(args.cli || path.join(source, "build", "sigscope"));
const shared = path.resolve(args.shared || process.env.SIGSCOPE_SHARED_DIR || path.join(source, "..", "shared"));
const out = path.resolve(args.out || path.join(os.tmpdir(), "sigscope-browser-catalog"));
const shots = path.resolve(args.screenshots || path.join(source, "docs", "screenshots"));
const chromiumPath = process.env.SIGSCOPE_CHROMIUM || "/usr/bin/chromium";
const corpus = path.join(shared, "corpus", "sigma");

const IIS_ID = "9465ddf4-f9e4-4ebd-8d98-702df3a93239";
const IIS_TITLE = "IIS Native-Code Module Command Line Installation";

function skip(reason) {
  console.log(`SKIP: ${reason}`);
  process.exit(77);
}
if (!fs.existsSync(chromiumPath)) skip(`Chromium not found at ${chromiumPath}; run scripts/setup (apt package chromium)`);
if (!fs.existsSync(path.join(here, "node_modules", "playwright-core")))
  skip(`playwright-core is not installed; run scripts/setup (npm ci in tests/browser)`);
if (!fs.existsSync(corpus)) skip(`shared corpus not found at ${corpus}; set SIGSCOPE_SHARED_DIR`);
if (!fs.existsSync(cli)) skip(`sigscope binary not found at ${cli}; build it first`);

const { chromium } = await import("playwright-core");
let browser;
const url = (rel) => pathToFileURL(path.join(out, rel)).href;

// A page that records console errors and uncaught exceptions.
async function openPage(rel, viewport = { width: 1400, height: 900 }) {
  const context = await browser.newContext({ viewport, acceptDownloads: true });
  const page = await context.newPage();
  page.errors = [];
  page.on("console", (m) => { if (m.type() === "error") page.errors.push(m.text()); });
  page.on("pageerror", (e) => page.errors.push(String(e)));
  await page.goto(url(rel), { waitUntil: "load" });
  return page;
}

before(async () => {
  const started = Date.now();
  const build = spawnSync(cli, ["catalog", corpus, "--out", out, "-q"], { encoding: "utf8" });
  assert.equal(build.status, 0, `sigscope catalog failed: ${build.stderr}`);
  console.log(`# catalog of ${corpus} built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  fs.mkdirSync(shots, { recursive: true });
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--allow-file-access-from-files"],
  });
});

after(async () => { if (browser) await browser.close(); });

async function ruleCount(page) {
  const text = await page.locator("#count").textContent();
  const m = /^(\d+) of (\d+) rules$/.exec(text.trim());
  assert.ok(m, `unexpected count text: ${text}`);
  return { shown: Number(m[1]), total: Number(m[2]) };
}

test("the full-corpus index loads without console errors", async () => {
  const started = Date.now();
  const page = await openPage("index.html");
  await page.waitForFunction(() => /^\d+ of \d+ rules$/.test(document.getElementById("count").textContent));
  const { shown, total } = await ruleCount(page);
  assert.ok(total >= 3000, `only ${total} rules in the index`);
  assert.equal(shown, total);
  const rows = await page.locator("#rules tbody tr").count();
  assert.ok(rows > 0, "no rows rendered");
  assert.ok(rows <= 200, `${rows} rows rendered at first, expected one page of 200`);
  console.log(`# index of ${total} rules ready in ${Date.now() - started} ms`);
  // Filling the filters and rendering the rows must not move the page around
  // (cumulative layout shift, as Chromium reports it, below the "good" 0.1).
  const shift = await page.evaluate(() => new Promise((resolve) => {
    let total = 0;
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) if (!entry.hadRecentInput) total += entry.value;
    }).observe({ type: "layout-shift", buffered: true });
    setTimeout(() => resolve(total), 200);
  }));
  console.log(`# index layout shift ${shift.toFixed(4)}`);
  assert.ok(shift < 0.1, `layout shift ${shift} while the index loads`);
  await page.screenshot({ path: path.join(shots, "index.png") });
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test("search for appcmd finds the IIS rule", async () => {
  const page = await openPage("index.html");
  await page.locator("#q").pressSequentially("appcmd", { delay: 20 });
  // Wait for the whole word: on a slow machine the debounced search can
  // first apply a prefix such as "app", which matches a thousand rules.
  await page.waitForFunction(() => decodeURIComponent(location.hash).includes("q=appcmd") &&
    /^\d+ of/.test(document.getElementById("count").textContent));
  const { shown, total } = await ruleCount(page);
  assert.ok(shown > 0, "no rule matches appcmd");
  assert.ok(shown < 100, `${shown} of ${total} rules match appcmd`);
  await assert.doesNotReject(page.locator("#rules tbody a", { hasText: IIS_TITLE }).waitFor());
  assert.match(page.url(), /#q=appcmd/);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test("filters read from the address keep their value, and levels sort by severity", async () => {
  const page = await openPage("index.html");
  await page.goto(page.url() + "#level=High&technique=T1505%20");
  await page.waitForFunction(() => document.getElementById("f-level").value !== "");
  assert.equal(await page.locator("#f-level").inputValue(), "high");
  const levels = await page.locator("#f-level option").evaluateAll((os) => os.map((o) => o.value).filter((v) => v));
  assert.deepEqual(levels.slice(0, 5), ["critical", "high", "medium", "low", "informational"]);
  const filtered = await ruleCount(page);
  assert.ok(filtered.shown > 0, `${filtered.shown} of ${filtered.total}`);
  assert.ok(filtered.shown < filtered.total, `${filtered.shown} of ${filtered.total}`);
  // A value no rule has stays visible and matches nothing, instead of being dropped.
  await page.goto(page.url().replace(/#.*/, "#status=nosuchstatus"));
  await page.waitForFunction(() => /^\d+ of/.test(document.getElementById("count").textContent));
  assert.equal(await page.locator("#f-status").inputValue(), "nosuchstatus");
  assert.equal((await ruleCount(page)).shown, 0);
  // Excluded values are searched too: two rules filter on iissetup.exe.
  await page.goto(page.url().replace(/#.*/, "#q=iissetup"));
  await page.waitForFunction(() => /^\d+ of/.test(document.getElementById("count").textContent) &&
    !/^0 of/.test(document.getElementById("count").textContent));
  assert.ok((await ruleCount(page)).shown > 0, "no rule excludes iissetup");
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test("a tactic filter narrows the list", async () => {
  const page = await openPage("index.html");
  const before = await ruleCount(page);
  await page.selectOption("#f-tactic", "persistence");
  const after = await ruleCount(page);
  assert.ok(after.shown > 0, "no persistence rule");
  assert.ok(after.shown < before.shown, `persistence: ${after.shown} of ${before.shown}`);
  const tactics = await page.locator("#rules tbody tr td:nth-child(5)").allTextContents();
  assert.ok(tactics.length > 0);
  for (const t of tactics) assert.match(t, /Persistence/);
  // Show more appends the next page of rows.
  if (after.shown > 200) {
    await page.click("#more");
    assert.equal(await page.locator("#rules tbody tr").count(), Math.min(400, after.shown));
  }
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test("a rule page shows every section", async () => {
  const page = await openPage(`rules/${IIS_ID}.html`);
  assert.equal(await page.locator("h1").textContent(), IIS_TITLE);
  for (const id of ["attack", "events", "body", "stages", "exclusions", "indicators", "related-rules"]) {
    const section = page.locator(`section#${id}`);
    assert.ok(await section.isVisible(), `section ${id} is missing`);
  }
  assert.match(await page.locator("#attack").textContent(), /T1505\.003/);
  assert.match(await page.locator("#events").textContent(), /4688/);
  assert.match(await page.locator("#indicators").textContent(), /appcmd\.exe/);
  const related = await page.locator("#related-rules tbody tr").count();
  assert.ok(related > 0, "no related rules");
  assert.ok(related <= 10, `${related} related rules, expected at most 10`);
  await page.screenshot({ path: path.join(shots, "rule.png"), fullPage: true });
  // A related rule's link opens its page.
  await page.locator("#related-rules tbody a").first().click();
  await page.waitForLoadState("load");
  assert.match(page.url(), /\/rules\/[^/]+\.html$/);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test("the heatmap renders and a cell lists its rules", async () => {
  const page = await openPage("attack.html", { width: 1600, height: 1000 });
  const tactics = await page.locator("#matrix .tactic").count();
  assert.ok(tactics >= 14, `${tactics} tactic columns`);
  const techniques = await page.locator("#matrix .tech > a.cell").count();
  assert.ok(techniques > 200, `${techniques} technique cells`);
  const cell = page.locator('#matrix a.cell[data-tid="T1505"]').first();
  const n = Number(await cell.locator(".n").textContent());
  assert.ok(n > 0, "T1505 has no rules");
  await cell.click();
  await page.locator("#cell-rules").waitFor({ state: "visible" });
  const items = await page.locator("#cell-list li").count();
  assert.equal(items, n);
  await assert.doesNotReject(page.locator("#cell-list a", { hasText: IIS_TITLE }).waitFor());
  await page.evaluate(() => { window.scrollTo(0, 0); document.getElementById("matrix").scrollLeft = 0; });
  await page.screenshot({ path: path.join(shots, "heatmap.png") });
  // Filters recount: fewer critical rules than rules of every level.
  const all = Number(await page.locator('#matrix a.cell[data-tid="T1059"]').first().locator(".n").textContent());
  await page.selectOption("#a-level", "critical");
  const critical = Number(await page.locator('#matrix a.cell[data-tid="T1059"]').first().locator(".n").textContent());
  assert.ok(critical < all, `T1059: ${critical} critical of ${all}`);
  await page.selectOption("#a-level", "");
  await page.selectOption("#a-product", "windows");
  // Sub-techniques open on demand.
  await page.locator("#a-subs").check();
  assert.ok(await page.locator('#matrix a.cell[data-tid="T1505.003"]').first().isVisible());
  await page.locator('#matrix a.cell[data-tid="T1505.003"]').first().click();
  await assert.doesNotReject(page.locator("#cell-list a", { hasText: IIS_TITLE }).waitFor());
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test("the Navigator layer downloads and parses as JSON", async () => {
  const page = await openPage("attack.html");
  const layers = {};
  for (const [button, score] of [["#layer-count", "count"], ["#layer-level", "level"]]) {
    const [download] = await Promise.all([page.waitForEvent("download"), page.click(button)]);
    const layer = JSON.parse(fs.readFileSync(await download.path(), "utf8"));
    layers[score] = layer;
    assert.equal(layer.versions.layer, "4.5");
    assert.equal(layer.domain, "enterprise-attack");
    const t = layer.techniques.find((x) => x.techniqueID === "T1505.003");
    assert.ok(t, "T1505.003 is not in the layer");
    assert.ok(t.metadata.some((m) => m.name === IIS_ID && m.value === IIS_TITLE));
    assert.ok(t.links.some((l) => l.url.startsWith("file://") && l.url.endsWith(`/rules/${IIS_ID}.html`)));
    if (score === "level") {
      assert.ok(layer.techniques.every((x) => x.score === undefined || (x.score >= 1 && x.score <= 5)));
      assert.equal(layer.legendItems.length, 5);
    }
  }
  // The catalog's static layer file.
  const [download] = await Promise.all([page.waitForEvent("download"),
    page.click('a[href="attack-navigator-layer.json"]')]);
  const layer = JSON.parse(fs.readFileSync(await download.path(), "utf8"));
  assert.equal(layer.versions.layer, "4.5");
  assert.ok(layer.techniques.length > 100);
  // The buttons build the same layer as the file, newer technique ids included.
  const scored = (l) => l.techniques.filter((x) => x.score !== undefined).map((x) => `${x.techniqueID}=${x.score}`).sort();
  assert.deepEqual(scored(layers.count), scored(layer));
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test("a provider page lists events, fields and the rules they feed", async () => {
  const page = await openPage("providers.html");
  await page.locator("a", { hasText: "Microsoft-Windows-Sysmon/Operational" }).first().click();
  await page.waitForLoadState("load");
  const event = page.locator("section#event-1");
  assert.match(await event.locator("h2").textContent(), /Event ID 1: Process/i);
  const row = event.locator("table.fields tr", { has: page.locator("code", { hasText: /^CommandLine$/ }) });
  const used = Number((await row.locator("summary").textContent()).trim());
  assert.ok(used > 100, `CommandLine used by ${used} rules`);
  await row.locator("summary").click();
  assert.ok(await row.locator("li a").first().isVisible());
  assert.ok(await event.locator(".feeds li a", { hasText: IIS_TITLE }).count() === 1);
  // Security 4688 feeds process_creation rules too, with renamed fields.
  const security = await openPage("providers/security.html");
  const e4688 = security.locator("section#event-4688");
  assert.ok(await e4688.locator("code", { hasText: /^NewProcessName$/ }).count() > 0);
  assert.ok(await e4688.locator(".feeds li a", { hasText: IIS_TITLE }).count() === 1);
  assert.deepEqual(page.errors, []);
  assert.deepEqual(security.errors, []);
  await page.context().close();
  await security.context().close();
});
