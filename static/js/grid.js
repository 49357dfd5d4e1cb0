// Reads the binary frames described in docs/protocol.md: grids (BPG1) and a sweep's
// thumbnails (BPS1, the same header). Views share the frame's buffer (every section is 8-byte
// aligned), so nothing is copied.
const GRID = "BPG1";
const THUMBNAILS = "BPS1";
const HEADER = 24;

export function frameKind(buffer) {
  const magic = String.fromCharCode(...new Uint8Array(buffer, 0, 4));
  if (magic === GRID) return "grid";
  if (magic === THUMBNAILS) return "thumbnails";
  throw new Error(`binary frame has magic ${magic}, expected ${GRID} or ${THUMBNAILS}`);
}

export function parseGrid(buffer) {
  const view = new DataView(buffer);
  const seq = view.getUint32(4, true);
  const resolution = view.getUint16(8, true);
  const channels = view.getUint16(10, true);
  const neuronResolution = view.getUint16(12, true);
  const maps = view.getUint16(14, true);
  const extent = view.getFloat32(16, true);
  let offset = HEADER;
  const ranges = new Float32Array(buffer, offset, maps * 2);
  offset += maps * 8;
  offset += (8 - (offset % 8)) % 8;
  const boundary = new Uint8Array(buffer, offset, channels * resolution * resolution);
  offset += boundary.length;
  offset += (8 - (offset % 8)) % 8;
  const neurons = new Uint8Array(buffer, offset, maps * neuronResolution * neuronResolution);
  return { seq, resolution, channels, neuronResolution, maps, extent, ranges, boundary, neurons };
}

/** Each finished seed's boundary, shaped like a grid's so the same painter draws it. */
export function parseThumbnails(buffer) {
  const view = new DataView(buffer);
  const sweep = view.getUint32(4, true);
  const resolution = view.getUint16(8, true);
  const channels = view.getUint16(10, true);
  const count = view.getUint16(12, true);
  const extent = view.getFloat32(16, true);
  const size = channels * resolution * resolution;
  const boundaries = Array.from({ length: count }, (_, k) => new Uint8Array(buffer, HEADER + k * size, size));
  return { sweep, resolution, channels, count, extent, boundaries };
}
