import type { BuildEvent } from '../../builder/types';

/** One message of dockerd's classic-builder stream. */
export type BuildMessage = { stream: string } | { aux: { ID: string } } | { errorDetail: { code?: number; message: string }; error: string };

/** "sha256:1a2b…" → "1a2b3c4d5e6f", as moby's stringid.TruncateID. */
export function shortId(id: string): string {
  const hex = id.includes(':') ? id.slice(id.indexOf(':') + 1) : id;
  return hex.slice(0, 12);
}

/** docker's `aurora.Red` around a RUN step's stderr, as the classic builder writes it. */
const STDERR_START = '\u001b[91m';
const STDERR_END = '\u001b[0m';

/**
 * BuildEvents as dockerd 20.10's classic builder streams them: "Step 1/3 : FROM busybox" and
 * its "\n" as two messages (moby prints the step with Fprintf, then Fprintln), " ---> Using
 * cache", " ---> Running in <id12>", RUN output as is (stderr in red), "Removing intermediate
 * container <id12>", " ---> <id12>" after each step, then the image ID as aux, "Successfully
 * built" and one "Successfully tagged" per tag.
 */
export function buildMessages(event: BuildEvent): BuildMessage[] {
  switch (event.type) {
    case 'step':
      return [{ stream: `Step ${event.index}/${event.total} : ${event.instruction}` }, { stream: '\n' }];
    case 'cached':
      return [{ stream: ' ---> Using cache\n' }];
    case 'container':
      return [{ stream: ` ---> Running in ${shortId(event.id)}\n` }];
    case 'output': {
      const text = event.data.toString('utf8');
      return [{ stream: event.stream === 'stderr' ? `${STDERR_START}${text}${STDERR_END}` : text }];
    }
    case 'container-removed':
      return [{ stream: `Removing intermediate container ${shortId(event.id)}\n` }];
    case 'step-done':
      return [{ stream: ` ---> ${shortId(event.imageId)}\n` }];
    case 'warning':
      // The executor may have worded it with the prefix already.
      return [{ stream: `${event.message.startsWith('[Warning]') ? event.message : `[Warning] ${event.message}`}\n` }];
    case 'stage-built':
      return [{ aux: { ID: event.imageId } }];
    case 'built':
      return [{ aux: { ID: event.imageId } }, { stream: `Successfully built ${shortId(event.imageId)}\n` }];
    case 'tagged':
      return [{ stream: `Successfully tagged ${event.ref}\n` }];
  }
}

/** The in-band failure; `code` is a RUN's exit code (dockerd sets it from the jsonmessage error). */
export function errorMessage(message: string, code?: number): BuildMessage {
  return { errorDetail: code ? { code, message } : { message }, error: message };
}
