// Parses a text/event-stream body into events, incrementally, as the bytes arrive. Used by the
// command-line client; the browser page (public/js/sse.js) carries its own copy, having no build step.

export interface SseFrame {
  /** The `id:` field as sent, if any. */
  id?: string;
  /** The `event:` field; "message" when absent, as in the SSE spec. */
  event: string;
  /** The `data:` lines joined with "\n". */
  data: string;
}

/** Feed it decoded text in any pieces; it returns the events completed so far. Skips comments (": ping"). */
export class SseParser {
  private buf = "";
  private id: string | undefined;
  private event = "";
  private data: string[] = [];

  push(text: string): SseFrame[] {
    this.buf += text;
    const frames: SseFrame[] = [];
    const lineEnd = /\r\n|\r|\n/g;
    let start = 0;
    for (let m; (m = lineEnd.exec(this.buf)); ) {
      if (m[0] === "\r" && m.index === this.buf.length - 1) break; // maybe half of a \r\n: wait
      const line = this.buf.slice(start, m.index);
      start = m.index + m[0].length;
      if (line === "") {
        if (this.data.length) frames.push({ ...(this.id === undefined ? {} : { id: this.id }), event: this.event || "message", data: this.data.join("\n") });
        this.id = undefined;
        this.event = "";
        this.data = [];
      } else if (!line.startsWith(":")) {
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "id") this.id = value;
        else if (field === "event") this.event = value;
        else if (field === "data") this.data.push(value);
      }
    }
    this.buf = this.buf.slice(start);
    return frames;
  }
}

/** The events of a response body, as they arrive. Throws if the connection breaks. */
export async function* sseFrames(body: ReadableStream<Uint8Array>): AsyncGenerator<SseFrame> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const parser = new SseParser();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield* parser.push(decoder.decode(value, { stream: true }));
    }
  } finally {
    // Stopping early (the run ended, or the caller broke off) closes the connection.
    await reader.cancel().catch(() => {});
  }
}
