// The run being shown: its state (ids, last event seen, whether it ended) and the dispatch of
// its events to the part of the page that draws them. A new stage's part (review, judge) is a
// new module whose handlers are listed in HANDLERS.
import { agentEvents } from "./agents-view.js";
import { randomId } from "./page.js";
import { readEvents } from "./sse.js";
import { stageEvents } from "./stages-view.js";
import { summaryEvents } from "./summary-view.js";

const HANDLERS = { ...agentEvents, ...stageEvents, ...summaryEvents };

/** The run being shown, or null when idle. */
export let current = null;

/** A fresh run (message_id per send), now the current one. */
export function startRun({ message, conversationId, streamAgents }) {
  current = {
    messageId: `web-${randomId()}`,
    conversationId,
    message,
    streamAgents,
    lastId: 0,
    ended: false,
    t0: performance.now(),
    lanes: null,
  };
  return current;
}

export function endRun() {
  current = null;
}

function handleEvent(run, ev) {
  const id = Number(ev.id);
  if (Number.isInteger(id) && id > 0) {
    if (id <= run.lastId) return; // already drawn (a resume replays from the id we sent)
    run.lastId = id;
  }
  let data;
  try {
    data = JSON.parse(ev.data);
  } catch {
    return;
  }
  if (Object.hasOwn(HANDLERS, ev.event)) HANDLERS[ev.event](run, data);
}

/** Reads one SSE response of the run until it ends, the run ends, or the connection drops. */
export const follow = (run, res) => readEvents(res, (ev) => handleEvent(run, ev), () => run.ended);
