"""The viewer page's style and script, inlined into every report (no network, no CDN).

The script renders every piece of model output with textContent, never innerHTML: a trace is
hostile text, and `<img onerror=...>` in it must show as text and run nothing. The state (task,
filters, search, the open problem) lives in the URL hash, e.g. `#filter=wrong` or
`#task=math500&problem=p3`, so a link (or a headless browser) opens the page in that state."""

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1em 2em; color: #222; }
table { border-collapse: collapse; margin: .5em 0 1em; }
th, td { border-bottom: 1px solid #ddd; padding: 2px 8px; text-align: left; vertical-align: top; }
th.sortable { cursor: pointer; user-select: none; }
tr.problem { cursor: pointer; } tr.problem:hover, tr.selected { background: #eef4ff; }
.right { color: #176b2c; } .wrong { color: #a61b1b; }
pre { white-space: pre-wrap; word-break: break-word; background: #f7f7f7; padding: 6px; margin: 4px 0; }
.sample { border: 1px solid #ccc; border-radius: 4px; padding: 6px; margin: 8px 0; }
.runs { display: grid; grid-auto-flow: column; grid-auto-columns: 1fr; gap: 1em; }
.extracted, mark.read { background: #fff3b0; padding: 0 3px; }
mark.forced { background: #e3e3ff; color: #33337a; font-style: italic; }
.controls label { margin-right: 1em; } .note { color: #666; }
"""

SCRIPT = r"""
const DATA = JSON.parse(document.getElementById('view-data').textContent);
const main = document.getElementById('main');
let sortKey = null, sortDown = false, selected = 0;

function el(tag, attrs, ...children) {  // children: nodes, or strings made text nodes (never parsed as HTML)
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  for (const child of children) if (child !== null && child !== undefined)
    node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
  return node;
}
const pct = x => (x === null || x === undefined) ? '-' : (100 * x).toFixed(1) + '%';
const text = x => (x === null || x === undefined) ? '-' : String(x);

function readHash() {
  const state = {filters: [], q: '', task: null, problem: null};
  for (const part of location.hash.replace(/^#/, '').split('&')) {
    const [key, value] = part.split('=').map(s => decodeURIComponent(s || ''));
    if (key === 'filter') state.filters = value.split(',').filter(Boolean);
    else if (key in state) state[key] = value;
  }
  return state;
}
function writeHash(state) {
  const parts = [];
  if (state.task) parts.push('task=' + encodeURIComponent(state.task));
  if (state.filters.length) parts.push('filter=' + state.filters.join(','));
  if (state.q) parts.push('q=' + encodeURIComponent(state.q));
  if (state.problem) parts.push('problem=' + encodeURIComponent(state.problem));
  location.hash = parts.join('&');
}

function pairedTable() {  // several runs: each later run minus the first, per benchmark, problem by problem
  const signed = x => (x >= 0 ? '+' : '') + (100 * x).toFixed(1);
  const table = el('table', {id: 'paired'}, el('tr', {}, ...['task', 'run', 'accuracy', 'run 1', 'difference ± SE', '95% interval',
    'problems'].map(h => el('th', {}, h))));
  for (const p of DATA.paired) table.appendChild(el('tr', {class: 'pair'}, el('td', {}, p.task), el('td', {}, p.run),
    el('td', {}, pct(p.accuracy)), el('td', {}, pct(p.base_accuracy)),
    el('td', {}, `${signed(p.difference)} ± ${(100 * p.stderr).toFixed(1)} points`),
    el('td', {}, `[${signed(p.low)}, ${signed(p.high)}]`), el('td', {}, String(p.problems))));
  return table;
}

function overview() {
  const box = el('section', {id: 'overview'}, el('h2', {}, 'Overview'));
  if (DATA.paired.length) box.append(el('h3', {}, 'Paired difference against run 1: ' + DATA.runs[0].name), pairedTable());
  for (const run of DATA.runs) {
    const table = el('table', {class: 'overview'}, el('tr', {}, ...['task', 'problems', 'n', 'pass@1', 'pass@k', 'maj@k',
      'mean tokens', 'truncated', 'unfinished'].map(h => el('th', {}, h))));
    for (const task of run.tasks) {
      const s = task.summary;
      table.appendChild(el('tr', {}, el('td', {}, task.task), el('td', {}, text(s.problems)), el('td', {}, text(s.samples)),
        el('td', {}, pct(s['pass@1']) + ' ± ' + pct(s['pass@1_stderr'])),
        el('td', {}, s.k ? `${pct(s['pass@k'])} (k=${s.k})` : '-'), el('td', {}, s.k ? `${pct(s['maj@k'])} (k=${s.k})` : '-'),
        el('td', {}, s.mean_tokens.toFixed(0)), el('td', {}, pct(s.truncated)), el('td', {}, pct(s.unfinished))));
    }
    box.appendChild(el('h3', {}, run.name));
    box.appendChild(table);
    for (const [bench, points] of Object.entries(run.budgets || {})) box.appendChild(budgetTable(bench, points));
    for (const task of run.tasks) box.appendChild(el('details', {class: 'breakdown'},
      el('summary', {}, `${task.task}: by subject, by level, lengths`),
      breakdownTable('subject', task.by_subject), breakdownTable('level', task.by_level), histogram(task.lengths)));
  }
  box.appendChild(el('p', {class: 'note'}, `Thinking or answer texts over ${DATA.text_cap} characters are cut in the middle.`));
  return box;
}

function breakdownTable(field, rows) {  // the summary's by_subject or by_level figures
  const table = el('table', {class: 'by-' + field}, el('tr', {}, el('th', {}, field), el('th', {}, 'problems'), el('th', {}, 'pass@1')));
  for (const r of rows) table.appendChild(el('tr', {class: 'group'}, el('td', {}, r.name), el('td', {}, String(r.problems)),
    el('td', {}, pct(r['pass@1']) + ' ± ' + pct(r['pass@1_stderr']))));
  return table;
}

function budgetTable(bench, points) {  // a budget sweep: accuracy against the token budget
  const table = el('table', {class: 'budgets'}, el('tr', {}, el('th', {}, bench + ' budget'), el('th', {}, 'pass@1')));
  for (const p of points) table.appendChild(el('tr', {class: 'budget'}, el('td', {}, String(p.budget)),
    el('td', {}, pct(p['pass@1']) + ' ± ' + pct(p['pass@1_stderr']))));
  return table;
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs, label) {  // an SVG element from DOM calls (labels are text nodes, never parsed)
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (label !== undefined) node.appendChild(document.createTextNode(label));
  return node;
}

function histogram(lengths) {  // response lengths (tokens) of correct and wrong samples, side-by-side bars per bin
  const width = 480, height = 160, pad = 24, bins = lengths.correct.length;
  const top = Math.max(1, ...lengths.correct, ...lengths.wrong), step = (width - 2 * pad) / bins;
  const chart = svg('svg', {class: 'histogram', width, height, viewBox: `0 0 ${width} ${height}`});
  [['correct', '#2e8b57', 0], ['wrong', '#c0392b', 1]].forEach(([name, color, offset]) => {
    const series = svg('g', {class: 'series', 'data-series': name, fill: color});
    lengths[name].forEach((count, i) => {
      const h = (height - 2 * pad) * count / top;
      series.appendChild(svg('rect', {x: pad + i * step + offset * step / 2, y: height - pad - h, width: step / 2, height: h},
        undefined)).appendChild(svg('title', {}, `${name}: ${count} samples of ${lengths.edges[i]}-${lengths.edges[i + 1]} tokens`));
    });
    chart.appendChild(series);
    chart.appendChild(svg('text', {x: width - pad - 60, y: pad + 14 * offset, fill: color, 'font-size': 11}, name));
  });
  chart.appendChild(svg('text', {x: pad, y: height - 6, 'font-size': 11}, '0'));
  chart.appendChild(svg('text', {x: width - pad - 40, y: height - 6, 'font-size': 11}, `${lengths.edges[bins]} tokens`));
  return chart;
}

function taskOf(state) {
  const tasks = DATA.runs[0].tasks;
  return tasks.find(t => t.task === state.task) || tasks[0];
}

function keeps(row, state) {
  if (!state.filters.every(name => row.flags.includes(name))) return false;
  if (!state.q) return true;
  const q = state.q.toLowerCase();
  return [row.id, row.question, row.gold, row.majority, row.subject].some(f => f && String(f).toLowerCase().includes(q));
}

const COLUMNS = [['id', r => r.id], ['subject', r => r.subject], ['level', r => r.level], ['right', r => r.right],
  ['majority', r => r.majority], ['gold', r => r.gold], ['truncated', r => r.truncated], ['unfinished', r => r.unfinished],
  ['votes', r => r.votes.length]];

function problems(state) {
  const task = taskOf(state);
  const box = el('section', {id: 'problems'}, el('h2', {}, 'Problems'));
  const controls = el('div', {class: 'controls'});
  const pick = el('select', {id: 'task'});
  for (const t of DATA.runs[0].tasks) pick.appendChild(el('option', t.task === task.task ? {selected: ''} : {}, t.task));
  pick.onchange = () => writeHash({...state, task: pick.value});
  controls.appendChild(pick);
  for (const name of DATA.filters) {
    const attrs = {type: 'checkbox', id: 'filter-' + name};
    if (state.filters.includes(name)) attrs.checked = '';
    const box = el('input', attrs);
    box.onchange = () => writeHash({...state, filters: box.checked ? [...state.filters, name] : state.filters.filter(f => f !== name)});
    controls.appendChild(el('label', {}, box, ' ' + name));
  }
  const search = el('input', {type: 'search', id: 'search', placeholder: 'search', value: state.q});
  search.onchange = () => writeHash({...state, q: search.value});
  controls.appendChild(search);
  box.appendChild(controls);

  let rows = task.problems.filter(row => keeps(row, state));
  if (sortKey !== null) {
    const get = COLUMNS[sortKey][1], sign = sortDown ? -1 : 1;
    const order = (x, y) => x === y ? 0 : (x === null ? 1 : y === null ? -1 : (x < y ? -sign : sign));  // nulls last
    rows = [...rows].sort((a, b) => order(get(a), get(b)));
  }
  const many = DATA.runs.length > 1;
  const head = el('tr', {}, ...COLUMNS.map(([name], i) => {
    const th = el('th', {class: 'sortable'}, name + (sortKey === i ? (sortDown ? ' ▼' : ' ▲') : ''));
    th.onclick = () => { sortDown = sortKey === i ? !sortDown : false; sortKey = i; render(); };
    return th;
  }));
  if (many) DATA.runs.forEach((run, i) => head.appendChild(el('th', {title: run.name}, 'right in run ' + (i + 1))));
  const table = el('table', {id: 'problem-table'}, head);
  rows.forEach((row, i) => {
    const tr = el('tr', {class: 'problem' + (i === selected ? ' selected' : ''), 'data-id': row.id},
      el('td', {}, row.id), el('td', {}, text(row.subject)), el('td', {}, text(row.level)),
      el('td', {class: row.right === 1 ? 'right' : 'wrong'}, pct(row.right)),
      el('td', {}, text(row.majority)), el('td', {}, text(row.gold)),
      el('td', {}, text(row.truncated)), el('td', {}, text(row.unfinished)), el('td', {}, text(row.votes.length)));
    if (many) row.across.forEach(x => tr.appendChild(el('td', {}, pct(x))));
    tr.onclick = () => writeHash({...state, task: task.task, problem: row.id});
    table.appendChild(tr);
  });
  box.appendChild(el('p', {id: 'shown'}, `${rows.length} of ${task.problems.length} problems`));
  box.appendChild(table);
  box.appendChild(el('p', {class: 'note'}, 'Keys: j / k move, Enter opens, Escape goes back. Click a header to sort.'));
  return box;
}

function marked(attrs, body, span, name, title) {  // a <pre> of `body` with [start, end) wrapped in a <mark> (DOM calls only)
  if (!span) return el('pre', attrs, body);
  return el('pre', attrs, body.slice(0, span[0]), el('mark', {class: name, title}, body.slice(span[0], span[1])), body.slice(span[1]));
}

function sampleBox(sample, i) {
  const box = el('div', {class: 'sample ' + (sample.correct ? 'right' : 'wrong')},
    el('b', {}, `sample ${i} · ${sample.correct ? 'right' : 'wrong'} · ${sample.tokens} tokens · ${sample.finish_reason}` +
      (sample.thinking_state === 'unfinished' ? ' · thinking unfinished' : '')));
  if (sample.thinking) box.appendChild(el('details', {class: 'thinking'},
    el('summary', {}, `thinking (${sample.thinking.length} characters)` + (sample.forced ? ' · closing forced at the budget' : '')),
    marked({}, sample.thinking, sample.forced, 'forced', 'forced by the thinking budget, not written by the model')));
  box.appendChild(marked({class: 'answer'}, sample.answer, sample.answer_mark, 'read', 'where the extracted answer was read'));
  box.appendChild(el('div', {}, 'extracted: ', el('span', {class: 'extracted'}, text(sample.extracted)),
    ` · group ${text(sample.group)} · grade: ${sample.grade}`));
  return box;
}

function problemPage(state) {
  const task = taskOf(state);
  const box = el('section', {id: 'problem'});
  const back = el('a', {href: '#'}, '← all problems');
  back.onclick = e => { e.preventDefault(); writeHash({...state, problem: null}); };
  box.appendChild(back);
  const columns = el('div', {class: 'runs'});
  for (const run of DATA.runs) {
    const t = run.tasks.find(x => x.task === task.task);
    const row = t && t.problems.find(p => p.id === state.problem);
    const col = el('div', {class: 'run'}, el('h3', {}, run.name));
    if (!row) { col.appendChild(el('p', {}, 'not in this run')); columns.appendChild(col); continue; }
    col.appendChild(el('h2', {}, `${task.task} · ${row.id} · ${pct(row.right)} right`));
    col.appendChild(el('pre', {class: 'question'}, row.question));
    col.appendChild(el('p', {}, 'gold: ', el('b', {class: 'gold'}, text(row.gold))));
    const votes = el('table', {class: 'votes'}, el('tr', {}, el('th', {}, 'answer'), el('th', {}, 'votes'), el('th', {}, 'samples')));
    for (const v of row.votes) votes.appendChild(el('tr', {class: v.correct ? 'right' : 'wrong'},
      el('td', {}, text(v.answer)), el('td', {}, String(v.count)), el('td', {}, v.samples.join(' '))));
    col.appendChild(votes);
    row.samples.forEach((s, i) => col.appendChild(sampleBox(s, i)));
    columns.appendChild(col);
  }
  box.appendChild(columns);
  return box;
}

function training() {  // a GRPO or SFT samples log: one row per logged completion, its text collapsed
  const log = DATA.training, box = el('section', {id: 'training'}, el('h2', {}, 'Training samples: ' + log.name));
  const table = el('table', {id: 'sample-table'}, el('tr', {}, ...['step', 'problem', 'reward', 'completion'].map(h => el('th', {}, h))));
  for (const s of log.samples) {
    const texts = el('details', {}, el('summary', {}, `${s.completion.length} characters`));
    if (s.prompt) texts.appendChild(el('pre', {class: 'prompt'}, s.prompt));
    texts.appendChild(el('pre', {class: 'completion'}, s.completion));
    table.appendChild(el('tr', {class: 'training-sample'}, el('td', {}, text(s.step)), el('td', {}, text(s.problem)),
      el('td', {}, typeof s.reward === 'number' ? s.reward.toFixed(3) : text(s.reward)), el('td', {}, texts)));
  }
  box.append(el('p', {id: 'shown'}, `${log.samples.length} samples`), table,
    el('p', {class: 'note'}, `Texts over ${log.text_cap} characters are cut in the middle.`));
  return box;
}

function render() {
  if (DATA.training) return main.replaceChildren(training());
  const state = readHash();
  main.replaceChildren(overview(), state.problem ? problemPage(state) : problems(state));
}

document.addEventListener('keydown', event => {
  if (event.target.tagName === 'INPUT' || event.target.tagName === 'SELECT') return;
  const state = readHash();
  if (event.key === 'Escape' && state.problem) return writeHash({...state, problem: null});
  const rows = document.querySelectorAll('tr.problem');
  if (!rows.length) return;
  if (event.key === 'j' || event.key === 'k') {
    selected = Math.max(0, Math.min(rows.length - 1, selected + (event.key === 'j' ? 1 : -1)));
    rows.forEach((r, i) => r.classList.toggle('selected', i === selected));
    rows[selected].scrollIntoView({block: 'nearest'});
  } else if (event.key === 'Enter') rows[selected].click();
});
window.addEventListener('hashchange', render);
render();
"""
