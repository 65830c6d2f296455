// Reading a run's SSE stream: fetch + a stream reader (EventSource cannot POST), parsed
// incrementally as text arrives.

/**
 * An incremental SSE parser: feed it decoded text as it arrives, get back the complete events
 * ({id, event, data}). Comment lines such as ": ping" are skipped.
 */
export function createSseParser() {
  let buf = "";
  let ev = { id: undefined, event: "", data: [] };
  return (text) => {
    buf += text;
    const events = [];
    const lineEnd = /\r\n|\r|\n/g;
    let start = 0;
    for (let m; (m = lineEnd.exec(buf)); ) {
      if (m[0] === "\r" && m.index === buf.length - 1) break; // maybe half of a \r\n: wait
      const line = buf.slice(start, m.index);
      start = m.index + m[0].length;
      if (line === "") {
        if (ev.data.length) events.push({ id: ev.id, event: ev.event || "message", data: ev.data.join("\n") });
        ev = { id: undefined, event: "", data: [] };
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "id") ev.id = value;
      else if (field === "event") ev.event = value;
      else if (field === "data") ev.data.push(value);
    }
    buf = buf.slice(start);
    return events;
  };
}

export const isEventStream = (res) => (res.headers.get("content-type") ?? "").startsWith("text/event-stream");

/**
 * Reads one SSE response, handing each event to `onEvent`, until it ends, `finished()` says
 * stop, or the connection drops. Never throws: the caller decides whether to resume.
 */
export async function readEvents(res, onEvent, finished) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  const parse = createSseParser();
  try {
    while (!finished()) {
      const { done, value } = await reader.read();
      if (done) return;
      for (const ev of parse(decoder.decode(value, { stream: true }))) onEvent(ev);
    }
    await reader.cancel().catch(() => {});
  } catch {
    // The connection dropped (or we aborted).
  }
}
