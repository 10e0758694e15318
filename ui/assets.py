"""The page's CSS and its one script (citation clicks -> article view), passed to launch()."""

from __future__ import annotations

# One delegated listener: markers live inside the Chatbot, whose sanitiser strips handlers and data-*,
# so clicks are caught at the document, the ref-TURN-N class read, and sent through a hidden button.
PAGE_JS = r"""
() => {
  if (window.__ragCiteWired) return;
  window.__ragCiteWired = true;
  const open = (el) => {
    const cls = Array.from(el.classList).find((c) => /^ref-\d+-c?\d+$/.test(c));
    if (!cls) return;
    window.__ragCite = cls.slice(4).replace('-', ':');
    document.querySelectorAll('.cite-active').forEach((x) => x.classList.remove('cite-active'));
    el.classList.add('cite-active');
    const btn = document.querySelector('#cite-open button, button#cite-open');
    if (btn) btn.click();
  };
  document.addEventListener('click', (e) => {
    const el = e.target instanceof Element ? e.target.closest('.cite, .src-card') : null;
    if (!el) return;
    e.preventDefault();
    open(el);
  });
  document.addEventListener('keydown', (e) => {
    if (e.key !== 'Enter' && e.key !== ' ') return;
    const el = e.target instanceof Element ? e.target.closest('.cite, .src-card') : null;
    if (el) { e.preventDefault(); open(el); }
  });
}
"""

# Runs after the article view updates: bring the highlighted span into view.
SCROLL_JS = """
() => {
  let tries = 0;
  const go = () => {
    const m = document.querySelector('#article-view mark#cited');
    if (m) {
      // Scroll the article box to the span, then only as much of the page as needed to show the box.
      const box = m.closest('.article-body');
      if (box) box.scrollTop = Math.max(0, m.offsetTop - box.clientHeight / 3);  // .article-body is positioned
      (m.closest('.article-view') || m).scrollIntoView({block: 'nearest', behavior: 'instant'});
      return;
    }
    if (tries++ < 40) setTimeout(go, 50);
  };
  setTimeout(go, 30);
}
"""

CSS = """
.gradio-container { max-width: 1500px !important; }
#app-title h1 { margin-bottom: 0; }
#app-title p { color: var(--body-text-color-subdued); margin-top: 2px; }
.rag-answer p { margin: 0 0 6px 0; line-height: 1.55; }
.rag-answer .notice, .rag-notice .notice { color: #8a5a00; font-size: 0.9em; }
.rag-answer .abstain strong { color: #9a3412; }
.rag-answer .when { color: #475569; font-weight: 600; font-size: 0.9em; }
.rag-answer .when.undated { color: #9a3412; }
.rag-answer .answer-lead { font-weight: 600; margin-bottom: 0.3em; }
.rag-answer ol.timeline { margin: 0.3em 0 0.3em 1.2em; padding: 0; }
.rag-answer ol.timeline li { margin: 0.25em 0; }
.rag-answer .conflicts { border-left: 3px solid #d97706; background: #fffbeb; padding: 0.3em 0.7em;
  margin-top: 0.5em; border-radius: 4px; }
.rag-answer .conflicts p { margin: 0 0 0.2em 0; color: #92400e; }
.rag-answer .conflicts ul { margin: 0 0 0 1.1em; padding: 0; }
.rag-answer .conflict-value { font-size: 1em; }
.rag-answer .abstain-note { color: var(--body-text-color-subdued); font-size: 0.92em; }
.cite { display: inline-block; cursor: pointer; color: #1d4ed8; font-weight: 600; font-size: 0.85em;
  padding: 0 3px; margin: 0 1px; border-radius: 4px; background: #e0e7ff; vertical-align: 1px; }
.cite:hover, .cite:focus, .cite.cite-active { background: #1d4ed8; color: white; outline: none; }
.support { font-size: 0.75em; padding: 1px 6px; border-radius: 9px; margin-left: 6px; }
.support.supported, .support.quoted { background: #dcfce7; color: #166534; }
.support.unsupported { background: #fee2e2; color: #991b1b; }
.support.flagged, .trace .flagged { background: #fef3c7; color: #92400e; }
.sources-head { font-size: 0.85em; color: var(--body-text-color-subdued); margin: 2px 0 8px; }
.sources-head.abstained { color: #9a3412; }
.sources.empty, .article-view.empty, .trace.empty { color: var(--body-text-color-subdued); padding: 12px;
  border: 1px dashed var(--border-color-primary); border-radius: 8px; }
.src-card { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 10px 12px;
  margin-bottom: 10px; cursor: pointer; background: var(--background-fill-primary); transition: box-shadow .15s; }
.src-card:hover, .src-card.cite-active { box-shadow: 0 0 0 2px #93c5fd; }
.src-card.closest { border-style: dashed; background: var(--background-fill-secondary); }
.src-head { display: flex; gap: 8px; align-items: baseline; }
.src-n { color: #1d4ed8; font-weight: 700; }
.src-title { font-weight: 600; flex: 1; }
.badge.not-answer { font-size: 0.72em; background: #ffedd5; color: #9a3412; padding: 1px 7px; border-radius: 9px; }
.src-meta { font-size: 0.8em; color: var(--body-text-color-subdued); margin: 3px 0 6px; }
.src-passage { margin: 0; padding: 6px 10px; border-left: 3px solid #c7d2fe; font-size: 0.88em;
  line-height: 1.5; white-space: pre-wrap; }
mark { background: #fef08a; color: inherit; padding: 0 1px; border-radius: 2px; }
#article-view .article-view { border: 1px solid var(--border-color-primary); border-radius: 10px;
  padding: 10px 14px; background: var(--background-fill-primary); }
#article-view .article-body { position: relative; max-height: 380px; overflow-y: auto; padding-right: 6px; }
.article-label { font-size: 0.78em; text-transform: uppercase; letter-spacing: .04em; color: #1d4ed8; }
.article-view h3 { margin: 2px 0 4px; }
.article-body { white-space: pre-wrap; line-height: 1.6; font-size: 0.92em; }
mark#cited { background: #fde047; box-shadow: 0 0 0 2px #facc15; }
.trace table.hits { border-collapse: collapse; width: 100%; font-size: 0.82em; }
.trace th, .trace td { border-bottom: 1px solid var(--border-color-primary); padding: 4px 6px; text-align: left;
  vertical-align: top; }
.trace .rank { color: var(--body-text-color-subdued); font-size: 0.85em; }
.trace .snippet { max-width: 360px; }
.trace .settings { font-size: 0.78em; color: var(--body-text-color-subdued); }
#articles [role="gridcell"] { cursor: pointer; }
/* The corpus table is for reading: a click opens the article, so no cell editor frame or menus. */
#articles [role="gridcell"] button, #articles [role="gridcell"] .cell-menu-button { display: none !important; }
#articles [role="gridcell"].cell-selected, #articles [role="gridcell"][aria-selected="true"],
#articles [role="gridcell"]:focus,
#articles [role="gridcell"]:focus-within { outline: none !important; box-shadow: none !important;
  border-color: transparent !important; --ring-color: transparent !important; animation: none !important; }
#articles .cell-selected::before, #articles .cell-selected::after { display: none !important; }
#articles [role="gridcell"] span { box-shadow: none !important; outline: none !important; }
#articles [role="row"]:hover [role="gridcell"] { background: var(--color-accent-soft); }
#corpus-article .article-view { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 10px 14px; }
#corpus-article .article-body { max-height: 420px; overflow-y: auto; }
.filter-error { color: #b91c1c; font-size: 0.85em; margin-top: 2px; }
.rag-answer .filters-note { color: #9a3412; font-size: 0.92em; }
iframe.report { width: 100%; height: 720px; border: 1px solid var(--border-color-primary); border-radius: 8px; }
"""
