/** Audio formats the organizer files, recognised by their first bytes (never by the file name). */
export type AudioKind = 'wav' | 'mp3' | 'flac' | 'ogg' | 'm4a';

/** How many leading bytes `detectAudio` needs. */
export const SIGNATURE_BYTES = 16;

export function detectAudio(head: Buffer): AudioKind | undefined {
  const ascii = (start: number, end: number) => head.subarray(start, end).toString('latin1');
  if (head.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WAVE') return 'wav';
  if (ascii(0, 4) === 'fLaC') return 'flac';
  if (ascii(0, 4) === 'OggS') return 'ogg';
  if (head.length >= 12 && ascii(4, 8) === 'ftyp' && ['M4A ', 'M4B ', 'M4P '].includes(ascii(8, 12))) return 'm4a';
  if (ascii(0, 3) === 'ID3') return 'mp3';
  if (isMpegAudioFrame(head)) return 'mp3';
  return undefined;
}

/** An MPEG-1/2/2.5 Layer III frame header: 11 sync bits, a valid version, layer III, a valid bitrate and sample rate. */
function isMpegAudioFrame(head: Buffer): boolean {
  if (head.length < 4) return false;
  const [b0, b1, b2] = [head[0]!, head[1]!, head[2]!];
  const sync = b0 === 0xff && (b1 & 0xe0) === 0xe0;
  const version = (b1 >> 3) & 0b11; // 01 is reserved
  const layer = (b1 >> 1) & 0b11; // 01 is layer III
  const bitrate = b2 >> 4; // 1111 is invalid
  const sampleRate = (b2 >> 2) & 0b11; // 11 is reserved
  return sync && version !== 0b01 && layer === 0b01 && bitrate !== 0b1111 && sampleRate !== 0b11;
}

/**
 * Whether the header says the file is whole. A WAV writer fills in the RIFF
 * size when it finishes: a file shorter than that, or with a placeholder
 * size, is still being written. Other formats carry no such size up front:
 * for them only the settle time tells.
 */
export function looksComplete(kind: AudioKind, head: Buffer, size: number): boolean {
  if (kind !== 'wav' || head.length < 8) return true;
  const riffSize = head.readUInt32LE(4);
  return riffSize !== 0 && riffSize !== 0xffffffff && riffSize + 8 <= size;
}
