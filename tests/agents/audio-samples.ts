/** Small but well-formed headers of each audio format the organizer knows, for tests. */
export function wav(dataBytes: number): Buffer {
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(36 + dataBytes, 4);
  header.write('WAVEfmt ', 8, 'latin1');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(8000, 24);
  header.writeUInt32LE(16000, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'latin1');
  header.writeUInt32LE(dataBytes, 40);
  return Buffer.concat([header, Buffer.alloc(dataBytes, 1)]);
}

const body = Buffer.alloc(512, 7);
export const audioSamples = {
  wav: wav(512),
  mp3: Buffer.concat([Buffer.from([0xff, 0xfb, 0x90, 0x64]), body]),
  flac: Buffer.concat([Buffer.from('fLaC\x00\x00\x00\x22', 'latin1'), body]),
  ogg: Buffer.concat([Buffer.from('OggS\x00\x02\x00\x00', 'latin1'), body]),
  m4a: Buffer.concat([Buffer.from('\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00', 'latin1'), body]),
} as const;
