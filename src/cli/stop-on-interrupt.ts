// Ctrl-C in the command-line client: the explicit stop. The first asks the server to cancel the
// run (DELETE), whose stream then shows `error cancelled`; a second, or a DELETE that fails,
// quits at once.
export function stopOnInterrupt(runUrl: string, headers: Record<string, string>, id: string, quit: () => void): () => void {
  let stopping = false;
  const onInterrupt = () => {
    if (stopping) return quit();
    stopping = true;
    process.stderr.write(`\nchorus: stopping run ${id}; Ctrl-C again to quit at once\n`);
    fetch(runUrl, { method: "DELETE", headers }).then((res) => (res.status === 202 ? undefined : quit()), quit);
  };
  process.on("SIGINT", onInterrupt);
  return () => process.off("SIGINT", onInterrupt);
}
