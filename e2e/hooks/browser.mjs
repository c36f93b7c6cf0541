// Uploads through valet.js and the demo page in headless Chromium
// (playwright-core) for the hooks end-to-end test (e2e/hooks_test.go), so
// that what the application's hook answered is seen where a browser sees it.
//
//   node e2e/hooks/browser.mjs CONFIG.json
//
// CONFIG: {playwright, gateway, store, token,
//          uploads: [{name, size, type, multipart}],  each sent by valet.js's upload()
//          demo_file, demo_refused}                    chosen in the demo page's file input
// It prints one line "REPORT {uploads: [{name, ok, obj | code, status, detail}],
// demo: {hook}, demo_refused: {message}}".
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const require = createRequire(cfg.playwright);
const { chromium } = require('playwright-core');
const log = (...a) => console.error('[hooks browser]', ...a);

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium', headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
const report = { uploads: [] };
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => log('page error:', e.message));
  page.on('console', (m) => log('console:', m.text()));
  await page.goto(`${cfg.gateway}/#token=${encodeURIComponent(cfg.token)}&store=${encodeURIComponent(cfg.store)}`);
  await page.waitForFunction((s) => document.querySelector('#store')?.value === s, cfg.store, { timeout: 30_000 });

  for (const spec of cfg.uploads) {
    const started = Date.now();
    const r = await page.evaluate(async ({ spec, token, store }) => {
      const { Valet } = await import('/valet.js');
      const valet = new Valet({ getToken: () => token, storage: null });
      const bytes = new Uint8Array(spec.size);
      for (let i = 0; i < bytes.length; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
      const file = new File([bytes], spec.name, { type: spec.type });
      try {
        return { ok: true, obj: await valet.upload(file, { store, multipart: spec.multipart }) };
      } catch (e) {
        return { ok: false, code: e.code, status: e.status, detail: e.detail };
      }
    }, { spec, token: cfg.token, store: cfg.store });
    log(spec.name, `${Date.now() - started} ms`, JSON.stringify(r));
    report.uploads.push({ name: spec.name, ...r });
  }

  // The demo page shows the hook's answer under a finished upload...
  await page.setInputFiles('#file-input', cfg.demo_file);
  const done = `#uploads li[data-name="${basename(cfg.demo_file)}"][data-state="done"] pre.hook`;
  await page.waitForSelector(done, { timeout: 60_000 });
  report.demo = { hook: JSON.parse(await page.textContent(done)) };
  // ...and the application's refusal as its message.
  await page.setInputFiles('#file-input', cfg.demo_refused);
  await page.waitForSelector(`#uploads li[data-name="${basename(cfg.demo_refused)}"][data-state="error"]`, { timeout: 60_000 });
  report.demo_refused = { message: await page.textContent('#message') };
} finally {
  await browser.close();
}
console.log('REPORT ' + JSON.stringify(report));
