// Tables on a narrow window (analysis/studio/page_style.py loads this into <head>):
// - Gradio's Dataframe sizes its columns as shares of the table's width (column_widths), which on a phone leaves
//   a column a few pixels wide and wraps every word one letter a line. Here each column is at least as wide as
//   its longest word (measured in the cell's own font) and at least its share of the box; the table then scrolls
//   sideways. The widths are !important style rules, so Gradio's own sizing (inline styles) never fights them.
// - Every table wider than its box (Dataframes and Markdown tables) gets the class `scrolls` while more of it lies
//   to the right: page_style.CSS draws a right-edge shadow and a "scroll →" hint there.
(() => {
  const { narrowPx, readablePx } = window.MINBERT_PAGE;
  const narrow = () => window.innerWidth <= narrowPx;
  const sheet = document.createElement('style');
  sheet.id = 'minbert-table-fit';
  let rules = new Map();  // table id -> its CSS
  let nextId = 0;
  const canvas = document.createElement('canvas').getContext('2d');
  const WORD_END = /\s+|(?<=[^\s\d(]-)(?=[^\d])/;  // where a line may end: a space, a hyphen between letters

  function longestWord(el) {  // px of the longest word; of the whole text where the cell does not wrap
    const text = (el.textContent || '').trim();
    if (!text) return 0;
    const style = getComputedStyle(el);
    canvas.font = style.font;
    if (/nowrap|pre/.test(style.whiteSpace)) return canvas.measureText(text).width;
    let best = 0;
    for (const w of text.split(WORD_END)) best = Math.max(best, canvas.measureText(w).width);
    return best;
  }

  function padding(el) {
    const s = getComputedStyle(el);
    return parseFloat(s.paddingLeft) + parseFloat(s.paddingRight);
  }

  // px a column needs: its longest word in the header, the sizing row and the rows drawn now, plus the cell's padding
  function needs(wrap, columns) {
    const need = new Array(columns).fill(0), long = new Array(columns).fill(false);
    const take = (col, cell) => {
      if (col < 0 || col >= columns || !cell) return;
      const inner = cell.querySelector('.cell-wrap') || cell;
      const text = cell.querySelector('span') || inner;
      need[col] = Math.max(need[col], Math.ceil(longestWord(text) + padding(inner) + padding(text) + 4));
      if ((text.textContent || '').trim().length > 30) long[col] = true;  // running text: give it room to read
    };
    wrap.querySelectorAll('th.header-cell').forEach((th) => take(+th.dataset.heading, th));
    wrap.querySelectorAll('.sizing-body tr').forEach((tr) => [...tr.children].forEach((td, i) => take(i, td)));
    wrap.querySelectorAll('.body-cell').forEach((c) => take(+c.dataset.col, c));
    return need.map((n, i) => (long[i] ? Math.max(n, readablePx) : n));
  }

  function fit(wrap) {
    const viewport = wrap.querySelector('.virtual-table-viewport');
    const heads = wrap.querySelectorAll('th.header-cell');
    if (!viewport || !heads.length || !wrap.offsetParent) return;
    if (!wrap.dataset.fitId) wrap.dataset.fitId = String(nextId++);
    const box = wrap.getBoundingClientRect().width;
    const share = [...heads].map((th) => th.getBoundingClientRect().width);  // Gradio's widths: shares of the box
    const total = share.reduce((a, b) => a + b, 0) || 1;
    const widths = needs(wrap, heads.length).map((n, i) => Math.max(n, Math.floor(share[i] / total * (box - 2))));
    const sum = widths.reduce((a, b) => a + b, 0);
    const id = `[data-fit-id="${wrap.dataset.fitId}"]`;
    const css = widths.map((w, i) => {
      const px = `${w}px !important`;
      return `${id} th.header-cell[data-heading="${i}"], ${id} .sizing-body td:nth-child(${i + 1}), ` +
             `${id} .body-cell[data-col="${i}"] { width: ${px}; min-width: ${px}; max-width: ${px}; flex: 0 0 ${px}; }`;
    }).join('\n') + `\n${id} .header-table, ${id} .virtual-body { width: ${sum}px !important; }` +
      `\n${id} .virtual-table-viewport { width: ${Math.max(sum, box - 2)}px !important; max-width: none !important; }`;
    if (rules.get(wrap.dataset.fitId) !== css) {
      rules.set(wrap.dataset.fitId, css);
      sheet.textContent = [...rules.values()].join('\n');
    }
  }

  function host(el) {  // the element the hint is drawn on: the Dataframe's frame, or a box made around a Markdown table
    if (el.tagName !== 'TABLE') return el.parentElement;
    if (!el.parentElement.classList.contains('table-scroll')) {
      const box = document.createElement('div');
      box.className = 'table-scroll';
      el.replaceWith(box);
      box.appendChild(el);
    }
    return el.parentElement;
  }

  function cue(el) {  // the hint shows while more of the table lies to the right
    host(el).classList.toggle('scrolls', el.scrollWidth - el.clientWidth - el.scrollLeft > 2);
  }

  function tick() {
    if (!sheet.isConnected) document.head.appendChild(sheet);
    if (!narrow()) {
      if (rules.size) { rules = new Map(); sheet.textContent = ''; }
    } else {
      document.querySelectorAll('.table-wrap').forEach(fit);
    }
    document.querySelectorAll('.table-wrap > .upload-container, .prose table').forEach((el) => {
      if (!el.offsetParent) return;
      if (!el.dataset.cue) {
        el.dataset.cue = '1';
        el.addEventListener('scroll', () => cue(el), { passive: true });
      }
      cue(el);
    });
  }

  setInterval(tick, 700);
})();
