import { Reader } from 'protobufjs/minimal';
import { syncguard } from './generated/syncguard';
import { ProtocolError } from './errors';
import { normalizeChange } from './frame';
import type { Change, ChangeBatch } from './messages';

/*
 * Encoded changes, for a receiver that keeps a ChangeBatch's changes as the bytes they
 * arrived in instead of turning them into another format (the controller stages them
 * and copies them into the cloud directory so). The views returned here are aligned
 * with what decodeFrame returns for the same bytes: protobufjs merges repeated
 * occurrences of a message field and appends every occurrence of a repeated one, and so
 * do these walks.
 */

/** Envelope field of the ChangeBatch body, and ChangeBatch field of its changes. */
const ENVELOPE_CHANGE_BATCH = 14;
const BATCH_CHANGES = 4;
/** The Envelope's `body` oneof: fields 10 to 20. */
const BODY_FIELDS = { first: 10, last: 20 };

/**
 * Views of every length-delimited occurrence of `field` in one encoded message. With
 * `oneof`, another field of that oneof (length-delimited, as the decoder takes it) drops
 * what came before: the decoder clears the other members of a oneof when it sets one.
 */
function occurrences(bytes: Uint8Array, field: number, oneof?: { first: number; last: number }): Uint8Array[] {
  let out: Uint8Array[] = [];
  try {
    const reader = Reader.create(bytes);
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      const wireType = tag & 7;
      if (wireType !== 2) {
        reader.skipType(wireType);
        continue;
      }
      const length = reader.uint32();
      const start = reader.pos;
      reader.skip(length);
      const number = tag >>> 3;
      if (number === field) out.push(bytes.subarray(start, start + length));
      else if (oneof && number >= oneof.first && number <= oneof.last) out = [];
    }
  } catch (cause) {
    throw new ProtocolError('PROTO_ERR_MALFORMED_FRAME', `malformed message: ${(cause as Error).message}`, { cause });
  }
  return out;
}

/**
 * The encoded Change messages of a ChangeBatch frame (one WebSocket message), in order,
 * as views into the frame's bytes: nothing is copied. Call it on a frame that
 * decodeFrame accepted as a changeBatch; its result has one entry per decoded change.
 */
export function encodedChangesOfFrame(frame: Uint8Array): Uint8Array[] {
  return occurrences(frame, ENVELOPE_CHANGE_BATCH, BODY_FIELDS).flatMap((batch) => occurrences(batch, BATCH_CHANGES));
}

/** The encoded Change messages of an encoded ChangeBatch (see {@link encodeChangeBatch}), in order. */
export function encodedChangesOfBatch(batch: Uint8Array): Uint8Array[] {
  return occurrences(batch, BATCH_CHANGES);
}

/** Encodes a ChangeBatch message alone (no envelope): for a receiver that holds a decoded batch only. */
export function encodeChangeBatch(batch: ChangeBatch): Uint8Array {
  return syncguard.v1.ChangeBatch.encode(batch as syncguard.v1.ChangeBatch.$Properties).finish();
}

/**
 * Decodes one encoded Change and checks it as decodeFrame checks the changes of a batch.
 * Throws only {@link ProtocolError}.
 */
export function decodeChange(bytes: Uint8Array): Change {
  let raw: syncguard.v1.Change;
  try {
    raw = syncguard.v1.Change.decode(bytes);
  } catch (cause) {
    throw new ProtocolError('PROTO_ERR_MALFORMED_FRAME', `not an encoded change: ${(cause as Error).message}`, { cause });
  }
  return normalizeChange(raw, 'change');
}
