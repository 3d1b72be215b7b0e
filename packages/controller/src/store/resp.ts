import { Command, type ChainableCommander } from 'ioredis';

/*
 * Commands with thousands of arguments (an apply chunk's MSET, ZADD and HSETs), encoded
 * straight into one buffer. ioredis builds every command's wire form out of string
 * concatenations and per-argument conversions; for a 2,000-argument command that is
 * most of the controller's time in an apply. The result is queued like any command
 * (`tx.sendCommand(encodedCommand(...))`), on a MULTI too, and its reply is read as
 * ioredis reads any reply. ioredis's `keyPrefix` option is not applied to these (the
 * controller does not use it: its keys carry their prefix).
 */

type Arg = string | Buffer | number;

/** The RESP encoding of one command: an array of bulk strings. */
export function encodeCommand(name: string, args: readonly Arg[]): Buffer {
  // Runs of text (headers and string arguments) are joined into one string each and
  // converted at once (V8 joins strings cheaply); buffers are copied between the runs.
  const parts: (string | Buffer)[] = [];
  let text = `*${args.length + 1}\r\n$${Buffer.byteLength(name)}\r\n${name}\r\n`;
  for (const a of args) {
    if (typeof a === 'string') text += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
    else if (typeof a === 'number') {
      const digits = String(a);
      text += `$${digits.length}\r\n${digits}\r\n`;
    } else {
      parts.push(`${text}$${a.length}\r\n`, a);
      text = '\r\n';
    }
  }
  parts.push(text);
  let size = 0;
  for (const p of parts) size += typeof p === 'string' ? Buffer.byteLength(p) : p.length;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const p of parts) at += typeof p === 'string' ? out.write(p, at, 'utf8') : p.copy(out, at);
  if (at !== size) throw new Error(`encoded ${at} bytes of ${size}`);
  return out;
}

/**
 * A command whose wire form was encoded beforehand (see {@link encodeCommand}). It names its
 * first key, which a Redis Cluster client routes it by (its arguments are not kept).
 */
export class EncodedCommand extends Command {
  constructor(
    name: string,
    private readonly bytes: Buffer,
    private readonly firstKey: string | Buffer | null,
  ) {
    super(name, [], { replyEncoding: 'utf8' });
  }

  override toWritable(): Buffer {
    return this.bytes;
  }

  override getKeys(): (string | Buffer)[] {
    return this.firstKey === null ? [] : [this.firstKey];
  }
}

/** The first key of `name args...`: after the script and its key count for EVAL/EVALSHA, else the first argument. */
function firstKeyOf(name: string, args: readonly Arg[]): string | Buffer | null {
  const lower = name.toLowerCase();
  const key = lower === 'eval' || lower === 'evalsha' ? (Number(args[1]) > 0 ? args[2] : undefined) : args[0];
  if (key === undefined) return null;
  return typeof key === 'number' ? String(key) : key;
}

/** `name args...` encoded now, to be queued with `sendCommand`. */
export function encodedCommand(name: string, args: readonly Arg[]): EncodedCommand {
  return new EncodedCommand(name, encodeCommand(name, args), firstKeyOf(name, args));
}

/** Queues `name args...` on a pipeline or MULTI, encoded now. */
export function queueEncoded(tx: ChainableCommander, name: string, args: readonly Arg[]): void {
  // Pipelines have sendCommand; ioredis's ChainableCommander type leaves it out.
  (tx as unknown as { sendCommand(command: Command): unknown }).sendCommand(encodedCommand(name, args));
}
