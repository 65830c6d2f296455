// The later stages of a run: each reviewer's ranking as it arrives, the council's aggregate
// ranking, and the fusion judge's analysis (consensus, contradictions with who said what, unique
// insights, blind spots). Exports the handlers of the stage events (see run.js).
import { els, formatMs, setStatus } from "./page.js";

function show() {
  els.stagesSection.hidden = false;
}

function item(parent, className, text) {
  const li = document.createElement("li");
  li.className = className;
  li.textContent = text;
  parent.append(li);
  return li;
}

/** A titled list in the analysis box; nothing when there are no items. */
function analysisPart(title, items) {
  if (!items.length) return;
  const h = document.createElement("h3");
  h.textContent = title;
  const ul = document.createElement("ul");
  for (const node of items) ul.append(node);
  els.analysisBox.append(h, ul);
}

function li(text, className) {
  const el = document.createElement("li");
  if (className) el.className = className;
  el.textContent = text;
  return el;
}

const list = (v) => (Array.isArray(v) ? v : []);

export const stageEvents = {
  review_start(run, data) {
    show();
    const row = item(els.reviewsList, "review", `${data.reviewer}: reviewing…`);
    row.dataset.reviewer = String(data.reviewer);
    row.dataset.state = "running";
    setStatus("Agents are reviewing each other's answers (anonymised)…");
  },
  review_done(run, data) {
    const row = els.reviewsList.querySelector(`[data-reviewer="${CSS.escape(String(data.reviewer))}"]`) ?? item(els.reviewsList, "review", "");
    row.dataset.state = "ok";
    row.textContent = `${data.reviewer} ranks: ${list(data.ranking).join(" › ")} (${formatMs(data.latency_ms)})`;
  },
  review_error(run, data) {
    const row = els.reviewsList.querySelector(`[data-reviewer="${CSS.escape(String(data.reviewer))}"]`) ?? item(els.reviewsList, "review", "");
    row.dataset.state = "failed";
    row.textContent = `${data.reviewer}: review not used (${data.error?.code ?? "error"}: ${data.error?.message ?? ""})`;
  },
  ranking(run, data) {
    show();
    els.rankingList.replaceChildren();
    for (const e of list(data.ranking)) {
      const score = typeof e.score === "number" ? `score ${e.score.toFixed(2)}` : "not ranked";
      item(els.rankingList, "rank", `${e.agent} — ${score} from ${e.reviews} review${e.reviews === 1 ? "" : "s"}`);
    }
    els.rankingBox.hidden = false;
    setStatus(`Ranked by ${data.reviewers} reviewer${data.reviewers === 1 ? "" : "s"}; writing the summary…`);
  },
  analysis(run, data) {
    show();
    els.analysisBox.replaceChildren();
    analysisPart("Consensus", list(data.consensus).map((c) => li(c)));
    analysisPart(
      "Contradictions",
      list(data.contradictions).map((c) => {
        const el = li(String(c.topic), "contradiction");
        const who = document.createElement("ul");
        for (const p of list(c.positions)) who.append(li(`${p.agent}: ${p.stance}`, "position"));
        el.append(who);
        return el;
      }),
    );
    analysisPart("Unique insights", list(data.unique_insights).map((u) => li(`${u.agent}: ${u.insight}`)));
    analysisPart("Blind spots", list(data.blind_spots).map((b) => li(b)));
    els.analysisBox.hidden = false;
    setStatus("The judge compared the answers; writing the summary…");
  },
  analysis_error(run, data) {
    show();
    els.analysisBox.replaceChildren();
    const p = document.createElement("p");
    p.className = "lane-reason";
    p.textContent = `The judge failed (${data.error?.code ?? "error"}); the summary is written without its analysis.`;
    els.analysisBox.append(p);
    els.analysisBox.hidden = false;
  },
};
