// report.html: one self-contained page (inline SVG and CSS, no network, no external scripts) rendered
// from a Summary (summary.json) alone — every number on it comes from the runs the summary describes.
// A tiny inline script only marks, after load, how many charts have a non-empty drawing (for tests).
import { PALETTE, barChart, esc, figure, heatmap, lineChart, scatter, shortNumber, type BarGroup, type LineSeries } from './svg.js';
import type { Difference, ModelSummary, Stat, Summary } from './summary.js';

function pm(s: Stat | null, d = 3): string {
  if (!s || !Number.isFinite(s.mean)) return '--';
  return s.std === null ? s.mean.toFixed(d) : `${s.mean.toFixed(d)} ± ${s.std.toFixed(d)}`;
}

function pmShort(s: Stat | null): string {
  if (!s || !Number.isFinite(s.mean)) return '--';
  return s.std === null ? shortNumber(s.mean) : `${shortNumber(s.mean)} ± ${shortNumber(s.std)}`;
}

function differenceText(d: Difference): string {
  const sign = d.delta >= 0 ? '+' : '';
  const base = `${d.a} − ${d.b}: ${sign}${d.delta.toFixed(4)} validation loss`;
  switch (d.verdict) {
    case 'within seed spread': return `${base} — within seed spread (std ${d.spread!.toFixed(4)}): not a measured difference`;
    case 'spread not measured': return `${base} — one seed per model, so the seed spread was not measured; treat differences this small with caution`;
    case 'a better': return `${base} — larger than the seed spread (std ${d.spread!.toFixed(4)}): ${d.a} is better`;
    case 'b better': return `${base} — larger than the seed spread (std ${d.spread!.toFixed(4)}): ${d.b} is better`;
  }
}

function table(s: Summary): string {
  const head = ['model', 'seeds', 'validation loss', 'perplexity', 'experts / token', 'activated params / token', 'total params', 'train tok/s'];
  const rows = s.models.map((m) => [
    `${esc(m.name)}<br><small>${esc(m.description)}</small>`, String(m.runs.length), pm(m.val_loss, 4), pm(m.val_ppl, 2),
    m.mean_k ? pm(m.mean_k, 2) : 'dense', pmShort(m.activated_params), shortNumber(m.total_params), m.tok_per_s ? pmShort(m.tok_per_s) : '--',
  ]);
  return `<table class="final"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>` +
    rows.map((r) => `<tr>${r.map((c, i) => `<td>${i === 0 ? c : esc(c)}</td>`).join('')}</tr>`).join('') + '</tbody></table>';
}

/** Multiple-choice task scores per model (lm-evaluation-harness style), when the runs were scored. */
function taskTable(s: Summary): string {
  const scored = s.models.filter((m) => m.tasks);
  if (scored.length === 0) return '';
  const tasks = scored[0].tasks!.map((t) => t.task);
  const head = ['task', 'items', ...scored.flatMap((m) => [`${m.name} acc`, `${m.name} acc_norm`, `${m.name} experts / token`])];
  const rows = tasks.map((task) => {
    const cells = scored.flatMap((m) => {
      const t = m.tasks!.find((x) => x.task === task);
      return t ? [pm(t.acc, 3), pm(t.acc_norm, 3), t.mean_k ? pm(t.mean_k, 2) : 'dense'] : ['--', '--', '--'];
    });
    return [task, String(scored[0].tasks!.find((x) => x.task === task)!.items), ...cells];
  });
  return `<h3>Tasks</h3><p>Each item is scored by the log-likelihood of every choice given its context (acc: highest summed ` +
    `log-likelihood; acc_norm: highest log-likelihood per byte of the choice); experts / token is the mean over MoE layers at the ` +
    `positions that predict the choices' tokens. Chance is 1 / (number of choices). The bundled cloze items come from the ` +
    `training corpus, so they measure fit, not generalisation.</p>` +
    `<table class="tasks"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>` +
    rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('') + '</tbody></table>';
}

function perSeedTable(s: Summary): string {
  const rows = s.models.flatMap((m) => m.runs.map((r) => [m.name, String(r.seed), String(r.steps), r.tokens.toLocaleString('en-US'), r.val_loss.toFixed(4),
    r.mean_k === null ? 'dense' : r.mean_k.toFixed(3), shortNumber(r.activated_params), r.tok_per_s === null ? '--' : Math.round(r.tok_per_s).toLocaleString('en-US')]));
  const head = ['model', 'seed', 'steps', 'tokens', 'val loss', 'experts / token', 'activated params', 'tok/s'];
  return `<table class="seeds"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>` +
    rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('') + '</tbody></table>';
}

function charts(s: Summary): string[] {
  const out: string[] = [];
  // One colour per model on every chart.
  const colorOf = (m: ModelSummary) => PALETTE[s.models.indexOf(m) % PALETTE.length];
  const seeds = s.seeds.length;
  const band = seeds > 1 ? ` Shaded: ± one standard deviation over ${seeds} seeds.` : ' One seed per model (no spread shown).';
  const tokensAxis = 'training tokens';
  out.push(figure('val-loss', 'Validation loss vs training tokens',
    lineChart(s.models.map((m): LineSeries => ({ name: m.name, color: colorOf(m), points: m.curve.map((p) => ({ x: p.tokens, y: p.val_loss.mean, err: p.val_loss.std })) })),
      { xLabel: `${tokensAxis} (tokens)`, yLabel: 'validation loss (nats / token)' }),
    `Mean cross-entropy on the held-out validation batches at each evaluation step, per model.${band}`));

  const moe = s.models.filter((m) => m.mean_k !== null && m.layers.length > 0);
  if (moe.length === 0) {
    out.push('<p class="note">No MoE model in this comparison: the routing charts (experts per token, expert load, k histogram) are omitted.</p>');
  } else {
    out.push(figure('mean-k', 'Experts per token vs training tokens',
      lineChart(moe.map((m): LineSeries => ({ name: m.name, color: colorOf(m), points: m.curve.filter((p) => p.mean_k).map((p) => ({ x: p.tokens, y: p.mean_k!.mean, err: p.mean_k!.std })) })),
        { xLabel: `${tokensAxis} (tokens)`, yLabel: 'experts / token (mean over layers)', yZero: true }),
      `Mean number of experts each token was sent to (after drops), averaged over MoE layers, measured on the validation batches at each evaluation.${band}`));
    const maxLayers = Math.max(...moe.map((m) => m.layers.length));
    const groups: BarGroup[] = [];
    for (let i = 0; i < maxLayers; i++) {
      const layer = moe.find((m) => m.layers[i])!.layers[i].layer;
      groups.push({
        label: `layer ${layer}`,
        values: moe.map((m) => m.layers.find((l) => l.layer === layer)?.mean_k.mean ?? NaN),
        errs: moe.map((m) => m.layers.find((l) => l.layer === layer)?.mean_k.std ?? null),
      });
    }
    out.push(figure('layers', 'Experts per token per layer',
      barChart(groups, moe.map((m) => m.name), { xLabel: 'MoE layer (0 = closest to the input)', yLabel: 'experts / token' }, undefined, moe.map(colorOf)),
      `Mean experts per token in each MoE layer at the last evaluation${seeds > 1 ? ' (error bars: ± one std over seeds)' : ''}.`));
    for (const m of moe) {
      const E = Math.max(...m.layers.map((l) => l.experts));
      out.push(figure(`load-${m.name}`, `Expert load: ${m.name}`,
        heatmap(m.layers.map((l) => `layer ${l.layer}`), Array.from({ length: E }, (_, j) => `E${j}`),
          m.layers.map((l) => l.load_share.map((v) => v * l.experts)),
          { xLabel: 'expert', yLabel: 'MoE layer', scaleLabel: 'load ÷ uniform', yFormat: (v) => v.toFixed(2) }),
        `Share of (token, expert) assignments each expert received at the last evaluation, divided by the uniform share 1/E (1.00 = perfectly balanced); ${m.name}${seeds > 1 ? ', mean over seeds' : ''}.`));
    }
    const maxK = Math.max(...moe.flatMap((m) => m.layers.map((l) => l.k_frac.length)));
    const kGroups: BarGroup[] = [];
    const kFrac = moe.map((m) => Array.from({ length: maxK }, (_, k) => m.layers.reduce((acc, l) => acc + (l.k_frac[k] ?? 0), 0) / m.layers.length));
    const lastK = Math.max(1, ...kFrac.map((f) => f.reduce((last, v, k) => (v > 0.0005 ? k : last), 0)));
    for (let k = 0; k <= lastK; k++) kGroups.push({ label: `k=${k}`, values: kFrac.map((f) => 100 * f[k]) });
    out.push(figure('k-hist', 'How many experts each token used',
      barChart(kGroups, moe.map((m) => m.name), { xLabel: 'experts used by a token (k)', yLabel: 'share of tokens (%)' }, undefined, moe.map(colorOf)),
      'Distribution of k, the number of experts a token was routed to, over all MoE layers at the last evaluation (fixed-k routers put every token at one k; Top-P varies).'));
  }

  out.push(figure('frontier', 'Activated parameters vs validation loss',
    scatter(s.models.map((m) => ({ name: m.name, color: colorOf(m), x: m.activated_params.mean, y: m.val_loss.mean, yErr: m.val_loss.std })),
      { xLabel: 'activated parameters per token (count)', yLabel: 'final validation loss (nats / token)' }),
    `Compute/quality frontier: parameters a token actually passes through (non-expert parameters + experts used per token × parameters per expert, embeddings included) against the final validation loss; lower-left is better.${seeds > 1 ? ' Vertical bars: ± one std over seeds.' : ''}`));
  const srcModels = moe.filter((m) => m.per_source && m.per_source.some((x) => x.mean_k));
  const decModels = moe.filter((m) => m.by_difficulty && m.by_difficulty.some((x) => x.mean_k));
  if (srcModels.length > 0) {
    const names = srcModels[0].per_source!.map((x) => x.source);
    const groups: BarGroup[] = names.map((source) => ({
      label: source.length > 9 ? source.slice(0, 8) + '…' : source,
      values: srcModels.map((m) => m.per_source!.find((x) => x.source === source)?.mean_k?.mean ?? NaN),
      errs: srcModels.map((m) => m.per_source!.find((x) => x.source === source)?.mean_k?.std ?? null),
    }));
    out.push(figure('per-source', 'Experts per token per data source (genre)',
      barChart(groups, srcModels.map((m) => m.name), { xLabel: 'data source of the validation tokens', yLabel: 'experts / token', yZero: true }, { width: 900, height: 320, left: 60, right: 130, top: 16, bottom: 48 }, srcModels.map(colorOf)),
      `Mean experts per token (over MoE layers) on the validation tokens of each source (${srcModels[0].per_source!.reduce((a, x) => a + x.tokens, 0).toLocaleString('en-US')} tokens: up to 64 validation batches spread over the whole set), final weights (moekit's evaluateModel)${seeds > 1 ? '; error bars ± one std over seeds' : ''}. Sources: ${names.join(', ')}. The data has no code, so there is no prose-vs-code split.`));
  }
  if (decModels.length > 0) {
    out.push(figure('difficulty', 'Experts per token vs token difficulty',
      lineChart(decModels.map((m): LineSeries => ({ name: m.name, color: colorOf(m), points: m.by_difficulty!.filter((d) => d.mean_k).map((d) => ({ x: d.decile, y: d.mean_k!.mean, err: d.mean_k!.std })) })),
        { xLabel: 'difficulty decile (1 = lowest own loss, 10 = highest)', yLabel: 'experts / token', xFormat: (v) => String(v), yZero: true }),
      `Validation tokens sorted by their own cross-entropy under each model and cut into tenths; mean experts per token in each tenth, final weights.${band}`));
  }
  if (srcModels.length === 0 || decModels.length === 0) {
    out.push('<p class="note">Per-genre and token-difficulty charts need each run\'s eval.json (written by demo/compare after training with moekit\'s evaluateModel); some runs here have none, so those charts are left out.</p>');
  }
  return out;
}

const STYLE = `body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ddd}h3{font-size:1.05em;margin:0.2em 0}
figure{margin:1.5em 0;padding:0.5em;border:1px solid #eee;border-radius:4px}figcaption{font-size:0.9em;color:#444}
svg.chart{max-width:100%;height:auto;display:block}table{border-collapse:collapse;margin:1em 0;font-size:0.92em}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}th:first-child,td:first-child{text-align:left}
.note{background:#fff8e1;padding:0.6em;border-left:3px solid #f0b400}.finding{margin:0.4em 0}
.reproduced{color:#1b5e20}.not-reproduced{color:#b71c1c}.not-measured{color:#555}small{color:#666}`;

// Marks the page once charts are laid out: data-charts="drawn/total" on <body> (read by the browser test).
const SCRIPT = `window.addEventListener('load',function(){var c=document.querySelectorAll('svg.chart'),n=0;for(var i=0;i<c.length;i++){var b=c[i].getBBox();if(b.width>0&&b.height>0&&c[i].querySelectorAll('.axes').length>0)n++;}document.body.setAttribute('data-charts',n+'/'+c.length);});`;

/** A self-contained page: moekit's style, `body`, and the chart-layout marker script. */
export function htmlPage(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title><meta name="viewport" content="width=device-width,initial-scale=1"><style>${STYLE}</style></head>
<body>
<h1>${esc(title)}</h1>
${body}
<script>${SCRIPT}</script>
</body></html>
`;
}

export function renderReport(s: Summary): string {
  const title = s.kind === 'demo' ? 'moekit demo: dense vs Top-1 vs Top-2 vs Top-P' : `moekit compare: ${s.models.map((m) => m.name).join(' vs ')}`;
  const findings = s.findings.map((f) => `<li class="finding ${f.status.replace(' ', '-')}"><strong>${esc(f.claim)}</strong>: ${esc(f.status)}. ${esc(f.detail)}</li>`).join('');
  const diffs = s.differences.map((d) => `<li>${esc(differenceText(d))}</li>`).join('');
  return htmlPage(title, `<section id="measured"><h2>What was measured</h2><p>${esc(s.measured)}</p>
<p>Data: ${esc(s.data)}. Token budget per run: ${s.token_budget.toLocaleString('en-US')} tokens. Seeds: ${esc(s.seeds.join(', '))}. Backend: ${esc(s.backend)}.${s.wall_s !== null ? ` Wall time of this invocation: ${s.wall_s.toFixed(0)} s.` : ''} Written ${esc(s.created)}.</p>
${s.notes.map((n) => `<p class="note">${esc(n)}</p>`).join('')}</section>
<section id="results"><h2>Results</h2>${table(s)}
${diffs ? `<h3>Differences in validation loss</h3><ul class="differences">${diffs}</ul>` : ''}
${findings ? `<h3>The paper's findings, checked on these runs</h3><ul class="findings">${findings}</ul>` : ''}
${taskTable(s)}</section>
<section id="charts"><h2>Charts</h2>${charts(s).join('\n')}</section>
<section id="seeds"><h2>Every run</h2>${perSeedTable(s)}<p>All numbers on this page are read from <code>summary.json</code>, which is gathered from each run's <code>metrics.jsonl</code>; nothing is estimated or copied from the paper.</p></section>`);
}
