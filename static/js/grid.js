// Reads the binary grid frame described in docs/protocol.md. Views share the frame's buffer
// (every section is 8-byte aligned), so nothing is copied.
const MAGIC = "BPG1";

export function parseGrid(buffer) {
  const view = new DataView(buffer);
  const magic = String.fromCharCode(...new Uint8Array(buffer, 0, 4));
  if (magic !== MAGIC) throw new Error(`grid frame has magic ${magic}, expected ${MAGIC}`);
  const seq = view.getUint32(4, true);
  const resolution = view.getUint16(8, true);
  const channels = view.getUint16(10, true);
  const neuronResolution = view.getUint16(12, true);
  const maps = view.getUint16(14, true);
  const extent = view.getFloat32(16, true);
  let offset = 24;
  const ranges = new Float32Array(buffer, offset, maps * 2);
  offset += maps * 8;
  offset += (8 - (offset % 8)) % 8;
  const boundary = new Uint8Array(buffer, offset, channels * resolution * resolution);
  offset += boundary.length;
  offset += (8 - (offset % 8)) % 8;
  const neurons = new Uint8Array(buffer, offset, maps * neuronResolution * neuronResolution);
  return { seq, resolution, channels, neuronResolution, maps, extent, ranges, boundary, neurons };
}
