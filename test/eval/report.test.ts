// report.html from a small hand-made summary: every chart has axes, axis titles and a caption; the
// honesty labels appear (within seed spread, spread not measured, Top-P not beating Top-2); and, where a
// Debian `chromium` exists, the page opened from disk draws every chart without console errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderReport } from '../../src/eval/report.js';
import { compareModels, keyDifferences, paperFindings, stat, type ModelSummary, type Summary } from '../../src/eval/summary.js';
import { niceTicks } from '../../src/eval/svg.js';

function model(name: string, router: string | null, description: string, losses: number[], k: number[] | null, layersK: number[]): ModelSummary {
  const E = 4;
  return {
    name, description, router, total_params: router ? 400_000 : 150_000,
    runs: losses.map((l, i) => ({ seed: 10 + i, dir: `/runs/${name}-${i}`, steps: 40, tokens: 40_960, val_loss: l, mean_k: k ? k[i] : null,
      activated_params: 150_000 + (k ? k[i] * 20_000 : 0), total_params: router ? 400_000 : 150_000, tok_per_s: 5000 })),
    val_loss: stat(losses), val_ppl: stat(losses.map(Math.exp)), mean_k: k ? stat(k) : null,
    activated_params: stat(losses.map((_, i) => 150_000 + (k ? k[i] * 20_000 : 0))), tok_per_s: stat(losses.map(() => 5000)),
    curve: [10_240, 20_480, 40_960].map((tokens, j) => ({
      tokens, val_loss: stat(losses.map((l) => l + 1 - j * 0.5)), mean_k: k ? stat(k.map((x) => x + 0.4 - j * 0.2)) : null,
    })),
    layers: router ? layersK.map((mk, layer) => ({
      layer, experts: E, mean_k: stat([mk, mk + 0.02]), load_share: [0.4, 0.3, 0.2, 0.1],
      k_frac: router === 'top_p' ? [0, 0.3, 0.5, 0.2, 0] : router === 'switch' ? [0, 1, 0, 0, 0] : [0, 0, 1, 0, 0],
    })) : [],
    per_source: ['adventure', 'news', 'religion'].map((source, i) => ({
      source, tokens: 1000, loss: stat(losses.map((l) => l + i * 0.1)), mean_k: k ? stat(k.map((x) => x + i * 0.05)) : null,
    })),
    by_difficulty: Array.from({ length: 10 }, (_, i) => ({
      decile: i + 1, mean_loss: stat(losses.map(() => 0.5 + i)), mean_k: k ? stat(k.map((x) => (router === 'top_p' ? x - 0.3 + i * 0.06 : x))) : null,
    })),
    tasks: [{ task: 'cloze-easy', items: 40, acc: stat(losses.map(() => 0.625)), acc_norm: stat(losses.map(() => 0.5)), mean_k: k ? stat(k) : null }],
  };
}

function summary(models: ModelSummary[], seeds: number[]): Summary {
  return {
    version: 1, kind: 'compare', created: '2026-01-01T00:00:00Z', measured: 'hand-made test numbers', data: 'test data',
    token_budget: 40_960, seeds, backend: 'test', wall_s: 12, models, differences: keyDifferences(models), findings: paperFindings(models), notes: [],
  };
}

const SEEDED = [
  model('dense', null, 'dense', [5.1, 5.3, 5.2], null, []),
  model('top1', 'switch', 'switch', [5.0, 5.2, 5.1], [1, 1, 1], [1, 1]),
  model('top2', 'top_k', 'top_k (k = 2, renormalised)', [4.90, 4.95, 5.00], [2, 2, 2], [2, 2]),
  model('top_p', 'top_p', 'top_p (p = 0.4)', [4.93, 5.02, 4.98], [1.8, 1.9, 1.7], [2.1, 1.5]),
];

test('seed statistics and the spread verdict', () => {
  const s = stat([1, 2, 3]);
  assert.equal(s.mean, 2);
  assert.equal(s.std, 1);
  assert.equal(stat([4]).std, null);
  const d = compareModels(SEEDED[3], SEEDED[2]);
  assert.equal(d.verdict, 'within seed spread');
  assert.equal(compareModels(SEEDED[0], SEEDED[2]).verdict, 'b better');
  assert.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
});

test('the report has every chart with axes, units and a caption, and the honesty labels', () => {
  const html = renderReport(summary(SEEDED, [10, 11, 12]));
  assert.match(html, /^<!doctype html>/);
  assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href=|https?:\/\/(?!www\.w3\.org\/2000\/svg)/, 'self-contained: no external resources');
  for (const id of ['val-loss', 'mean-k', 'layers', 'load-top1', 'load-top2', 'load-top_p', 'k-hist', 'frontier', 'per-source', 'difficulty']) {
    const fig = new RegExp(`<figure id="${id}">(.*?)</figure>`, 's').exec(html);
    assert.ok(fig, `figure ${id}`);
    assert.match(fig[1], /<svg class="chart"/);
    assert.match(fig[1], /class="x-label"[^>]*>[^<]+</, `${id}: x axis title`);
    assert.match(fig[1], /class="y-label"[^>]*>[^<]+</, `${id}: y axis title`);
    assert.match(fig[1], /<figcaption>[^<]{20,}<\/figcaption>/, `${id}: caption`);
  }
  assert.match(html, /\(tokens\)/, 'units on the token axis');
  assert.match(html, /nats \/ token/);
  assert.match(html, /within seed spread/);
  assert.match(html, /4\.9500 ± 0\.0500/, 'mean ± std in the table');
  assert.match(html, /What was measured/);
  assert.match(html, /Harder inputs activate more experts<\/strong>: reproduced/);
  // Top-P within spread of Top-2 with fewer experts: reproduced, and says so with the numbers.
  assert.match(html, /Top-P matches Top-2 quality with fewer activated experts<\/strong>: reproduced/);
  // The per-task table: accuracy (mean ± std over seeds) and experts per token for every model.
  const tasks = /<table class="tasks">(.*?)<\/table>/s.exec(html);
  assert.ok(tasks, 'task table');
  assert.match(tasks[1], /<td>cloze-easy<\/td><td>40<\/td><td>0\.625 ± 0\.000<\/td><td>0\.500 ± 0\.000<\/td><td>dense<\/td>/);
});

test('one seed: spread not measured; Top-P worse than Top-2 is stated plainly', () => {
  const one = [
    model('top2', 'top_k', 'top_k (k = 2)', [4.9], [2], [2, 2]),
    model('top_p', 'top_p', 'top_p', [5.1], [1.8], [1.7, 1.9]),
  ];
  const html = renderReport(summary(one, [1]));
  assert.match(html, /seed spread was not measured/);
  assert.match(html, /Top-P matches Top-2 quality with fewer activated experts<\/strong>: not reproduced/);
  assert.match(html, /did not reach Top-2&#39;s validation loss|did not reach Top-2's validation loss/);
  assert.match(html, /Lower layers activate more experts than upper layers<\/strong>: not reproduced/);
  // A dense-only comparison leaves the routing charts out with a note.
  const dense = renderReport(summary([model('dense', null, 'dense', [5], null, [])], [1]));
  assert.match(dense, /No MoE model in this comparison/);
  assert.doesNotMatch(dense, /id="k-hist"/);
});

/** The Debian package's binary, when installed. */
function chromiumBinary(): string | null {
  for (const b of ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome']) if (existsSync(b)) return b;
  return null;
}

test('headless Chromium draws every chart with no console errors', (t) => {
  const bin = chromiumBinary();
  if (!bin) {
    t.skip('no chromium binary (apt-get install -y chromium); browser check skipped');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'moekit-report-'));
  const page = join(dir, 'report.html');
  const html = renderReport(summary(SEEDED, [10, 11, 12]));
  writeFileSync(page, html);
  const charts = (html.match(/<svg class="chart"/g) ?? []).length;
  const r = spawnSync(bin, ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run',
    '--disable-dev-shm-usage', `--user-data-dir=${join(dir, 'profile')}`, '--enable-logging=stderr', '--v=0', '--virtual-time-budget=3000',
    '--dump-dom', `file://${page}`], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const mark = /data-charts="(\d+)\/(\d+)"/.exec(r.stdout);
  assert.ok(mark, `the page's load script ran (stderr: ${r.stderr.slice(-500)})`);
  assert.equal(Number(mark[2]), charts);
  assert.equal(Number(mark[1]), charts, 'every chart has a non-empty bounding box');
  const consoleErrors = r.stderr.split('\n').filter((l) => /CONSOLE|Uncaught|console/i.test(l) && !/DevTools/.test(l));
  assert.deepEqual(consoleErrors, [], 'no console messages from the page');
});
