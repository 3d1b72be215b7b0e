import { Ber, BerReader, BerWriter } from 'ldapts';
import { DIRSYNC_OID, DirSyncControl, decodeCookie, encodeCookie } from './dirsync';

/** The control as ldapts writes it into a request: SEQUENCE { type, criticality, value }. */
function written(control: DirSyncControl): Buffer {
  const writer = new BerWriter();
  control.write(writer);
  return writer.buffer;
}

describe('DirSyncControl', () => {
  it('writes a critical request of SEQUENCE { flags 0, maxBytes, cookie }', () => {
    const cookie = Buffer.from('4d534453030000', 'hex');
    const reader = new BerReader(written(new DirSyncControl(cookie)));
    reader.readSequence();
    expect(reader.readString()).toBe(DIRSYNC_OID);
    expect(reader.readBoolean()).toBe(true);
    const value = new BerReader(reader.readString(Ber.OctetString, true)!);
    value.readSequence();
    expect(value.readInt()).toBe(0);
    expect(value.readInt()).toBe(1_048_576);
    expect(value.readString(Ber.OctetString, true)).toEqual(cookie);
  });

  it('writes an empty cookie for a first search', () => {
    const reader = new BerReader(written(new DirSyncControl(Buffer.alloc(0))));
    reader.readSequence();
    reader.readString();
    reader.readBoolean();
    const value = new BerReader(reader.readString(Ber.OctetString, true)!);
    value.readSequence();
    value.readInt();
    value.readInt();
    expect(value.readString(Ber.OctetString, true)).toEqual(Buffer.alloc(0));
  });

  it('reads the response: moreResults, the unused integer and the new cookie', () => {
    const response = (more: number) => {
      const writer = new BerWriter();
      writer.startSequence();
      writer.writeInt(more);
      writer.writeInt(0);
      writer.writeBuffer(Buffer.from('next-cookie'), Ber.OctetString);
      writer.endSequence();
      return new BerReader(writer.buffer);
    };
    const control = new DirSyncControl(Buffer.alloc(0));
    expect(control.responseCookie).toBeUndefined();
    control.parse(response(1));
    expect(control.moreResults).toBe(true);
    expect(control.responseCookie?.toString()).toBe('next-cookie');
    control.parse(response(0));
    expect(control.moreResults).toBe(false);
  });

  it('keeps a cookie byte for byte through its stored form', () => {
    const cookie = Buffer.from([0, 255, 128, 1, 2, 3]);
    expect(decodeCookie(encodeCookie(cookie))).toEqual(cookie);
  });
});
