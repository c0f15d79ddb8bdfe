// Drives browser guests for the room's tests and benchmarks: each guest is a headless
// Chromium of its own (Debian's /usr/bin/chromium) on the guest page. Usage:
//   node guest.mjs '{"url": "...", "guests": [{"name": "A", "pin": "1234", "camera": true, "tone": "a.wav"}]}'
// Prints one JSON line per guest per second ({name, message, stats}); reads commands on
// stdin: "leave NAME" (the page's Leave button), "close NAME" (closes the guest's tab),
// "shot NAME PATH" (a screenshot), "g2g NAME SECONDS" (glass to glass: reads the room's QR
// timestamps from the shown picture with jsQR, for make bench), "quit".
import { chromium } from 'playwright-core';
import { createInterface } from 'node:readline';

const plan = JSON.parse(process.argv[2]);
const started = Date.now();

async function launch(guest) {
  const args = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--autoplay-policy=no-user-gesture-required', '--use-fake-device-for-media-stream'];
  if (guest.camera) args.push('--use-fake-ui-for-media-stream');
  if (guest.tone) args.push('--use-file-for-fake-audio-capture=' + guest.tone);
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args });
  // The glass-to-glass reader is injected into the page: only then is its CSP bypassed.
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 960, height: 540 }, bypassCSP: !!plan.measure });
  if (guest.camera) await context.grantPermissions(['camera', 'microphone']);
  const page = await context.newPage();
  page.on('console', (m) => console.error(`[${guest.name}] ${m.type()}: ${m.text()}`));
  await page.goto(plan.url);
  await page.fill('#name', guest.name);
  await page.fill('#pin', guest.pin);
  await page.click('#join');
  return { guest, browser, page, closed: false, reporting: false };
}

const guests = await Promise.all(plan.guests.map(launch));

// Runs in the page: for `seconds`, each frame the meeting's <video> presents is cropped to its
// middle (where the room's QR code is), read with jsQR, and the code's capture time (Unix ns)
// compared with the frame's expected display time. Returns the latencies in ms.
function glassToGlass(seconds) {
  const video = document.getElementById('meeting');
  const side = 400;
  const canvas = document.createElement('canvas');
  canvas.width = side;
  canvas.height = side;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const samples = [];
  const received = [];
  window.roomboxReceived = received;
  const end = performance.now() + seconds * 1000;
  return new Promise((done) => {
    const step = (now, frame) => {
      const sx = Math.max(0, (video.videoWidth - side) / 2);
      const sy = Math.max(0, (video.videoHeight - side) / 2);
      ctx.drawImage(video, sx, sy, side, side, 0, 0, side, side);
      const code = jsQR(ctx.getImageData(0, 0, side, side).data, side, side);
      if (code) {
        try {
          const captured = JSON.parse(code.data).TIMESTAMP / 1e6;
          samples.push(performance.timeOrigin + frame.expectedDisplayTime - captured);
          if (frame.receiveTime) received.push(performance.timeOrigin + frame.receiveTime - captured);
        } catch (e) { /* not a timestamp */ }
      }
      if (performance.now() < end) video.requestVideoFrameCallback(step); else done(samples);
    };
    video.requestVideoFrameCallback(step);
  });
}

async function report(g) {
  if (g.closed || g.reporting) return;
  g.reporting = true;
  try {
    const message = await g.page.$eval('#message', (m) => ({ kind: m.dataset.kind || '', text: m.textContent }));
    const stats = await g.page.evaluate(() => window.roombox.stats());
    // The page itself times its first shown frame (from the click, by the page's clock).
    const joinMs = stats.timings && Number.isFinite(stats.timings.picture) ? stats.timings.picture : null;
    console.log(JSON.stringify({ name: g.guest.name, at: Date.now() - started, message, stats, joinMs }));
  } catch (e) {
    console.log(JSON.stringify({ name: g.guest.name, error: String(e) }));
  }
  g.reporting = false;
}

const ticker = setInterval(() => guests.forEach(report), 1000);

createInterface({ input: process.stdin }).on('line', async (line) => {
  const [command, name, path] = line.trim().split(/\s+/);
  const g = guests.find((x) => x.guest.name === name);
  if (command === 'close' && g) {
    g.closed = true;
    await g.page.close({ runBeforeUnload: true });
    await g.browser.close();
    console.log(JSON.stringify({ name, closed: true }));
  } else if (command === 'leave' && g) {
    await g.page.click('#leave');
    console.log(JSON.stringify({ name, left: true }));
  } else if (command === 'g2g' && g) {
    await g.page.addScriptTag({ path: new URL('node_modules/jsqr/dist/jsQR.js', import.meta.url).pathname });
    const samples = await g.page.evaluate(glassToGlass, Number(path));
    const received = await g.page.evaluate(() => window.roomboxReceived);
    console.log(JSON.stringify({ name, g2g: samples, received }));
  } else if (command === 'shot' && g) {
    await g.page.screenshot({ path });
    console.log(JSON.stringify({ name, shot: path }));
  } else if (command === 'quit') {
    clearInterval(ticker);
    await Promise.all(guests.filter((x) => !x.closed).map((x) => x.browser.close()));
    process.exit(0);
  }
});
