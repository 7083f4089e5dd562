// The room inspector in a real browser (issue 11): Debian's Chromium, headless, driven by
// puppeteer-core. Logs in, sees a room appear when a client connects, its storage after a write,
// its message rate change and its log line; saves a screenshot of each page (to docs/ with SCREENSHOTS=docs).
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";

import { IS_PARTYKIT, REPO_DIR, connect, freePort, startServer } from "../harness.mjs";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const skip = IS_PARTYKIT
  ? "partyd only: partykit dev has no inspector"
  : !fs.existsSync(CHROMIUM)
    ? `Chromium is not installed at ${CHROMIUM} (Debian package chromium; scripts/setup.sh installs it)`
    : false;
// Screenshots go to docs/ only when asked (SCREENSHOTS=docs), so that `make test` leaves a
// checkout clean; otherwise to the system's temporary folder.
const DOCS = process.env.SCREENSHOTS === "docs" ? path.join(REPO_DIR, "docs") : os.tmpdir();
const T = 10_000;

describe("room inspector in Chromium", { skip }, () => {
  let server, admin, browser, page;

  before(async () => {
    let puppeteer;
    try {
      ({ default: puppeteer } = await import("puppeteer-core"));
    } catch (e) {
      throw new Error(`puppeteer-core is missing from tests/node_modules: run scripts/setup.sh (${e.message})`);
    }
    const port = await freePort();
    server = await startServer("observe", { args: ["--admin", `127.0.0.1:${port}`, "--threads", "2"] });
    admin = `http://127.0.0.1:${port}`;
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    });
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 860 });
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  const shot = (name) => page.screenshot({ path: path.join(DOCS, name) });
  const text = (sel) => page.$eval(sel, (e) => e.textContent);

  test("log in, see a room appear, its storage, its message rate and its log", async () => {
    await page.goto(`${admin}/login`);
    await page.type("#token", "no-token-in-dev");
    await shot("inspector-login.png");
    await Promise.all([page.waitForNavigation(), page.click("#login")]);
    assert.equal(new URL(page.url()).pathname, "/");
    await page.waitForFunction(() => document.querySelector("#rooms")?.textContent.includes("No live rooms"), { timeout: T });

    // A room appears when a client connects.
    const c = await connect(server.host, "/parties/main/lobby");
    await c.waitFor((m) => String(m).startsWith("hello"));
    const row = 'tr.room[data-room="lobby"]';
    await page.waitForSelector(row, { timeout: T });
    await page.waitForFunction((sel) => document.querySelector(sel + " td.conns")?.textContent === "1", { timeout: T }, row);

    // Its storage after a write.
    await page.click(row);
    c.send('put profile {"name":"Ada","langs":["en","fr"],"score":42}');
    await c.waitFor((m) => m === "stored profile");
    await page.waitForFunction(() => document.querySelector("#storage")?.textContent.includes('"name": "Ada"'), { timeout: T });
    assert.match(await text("#storage"), /profile/);
    // Its connection: id, tags (getConnectionTags), state (setState) and attachment, read from
    // the live object.
    await page.waitForFunction(() => document.querySelector("tr.conn pre.attachment")?.textContent === '{"seat": 12}', { timeout: T });
    assert.match(await text("tr.conn pre.tags"), /"watcher"/);
    assert.match(await text("tr.conn pre.state"), /^\{"joined": \d+\}$/);

    // Its message rate goes up while a client sends, and its log shows the messages.
    const sending = setInterval(() => c.send("tick"), 20);
    try {
      await page.waitForFunction((sel) => Number(document.querySelector(sel + " td.rate")?.textContent) >= 5,
        { timeout: T }, row);
    } finally {
      clearInterval(sending);
    }
    await page.waitForFunction(() => document.querySelector("#log")?.textContent.includes("message from"), { timeout: T });
    assert.match(await text("#log"), /WS \/parties\/main\/lobby 101/);
    // The server's figures are plotted.
    await page.waitForFunction(() => document.querySelector('.plot[data-metric="partyd_connections_active"] .v')?.textContent === "1",
      { timeout: T });
    await shot("inspector-room.png");

    // The rate falls back when the client stops.
    await page.waitForFunction((sel) => Number(document.querySelector(sel + " td.rate")?.textContent) === 0,
      { timeout: T }, row);
    // A second room, then the list sorted by room name.
    const d = await connect(server.host, "/parties/main/annex");
    await page.waitForSelector('tr.room[data-room="annex"]', { timeout: T });
    await page.click('th[data-k="room"]');
    const order = await page.$$eval("tr.room", (rows) => rows.map((r) => r.dataset.room));
    assert.deepEqual(order, ["annex", "lobby"]);
    await shot("inspector-rooms.png");
    await c.closeAndWait();
    await d.closeAndWait();
  });
});
