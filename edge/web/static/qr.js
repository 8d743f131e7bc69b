// A QR code encoder (ISO/IEC 18004, model 2) for the kiosk's summary: byte mode, error correction level M,
// versions 1 to 15 (up to 412 bytes), the mask with the lowest penalty. No library: the page works offline
// under CSP default-src 'self'. tests/test_kiosk_browser.py decodes what it draws with OpenCV.
// qrMatrix(text) -> array of rows, each an array of booleans (true: dark), without the quiet zone.
"use strict";

const QR_MAX_VERSION = 15;
// Level M, per version (index 0 unused): error-correction codewords per block, and number of blocks.
const QR_ECC_PER_BLOCK = [-1, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24];
const QR_BLOCKS = [-1, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10];
const QR_FORMAT_M = 0; // the two bits of level M in the format information

function qrRawModules(ver) { // data and ECC modules of a version: all but the function patterns
  let n = (16 * ver + 128) * ver + 64;
  if (ver >= 2) {
    const align = Math.floor(ver / 7) + 2;
    n -= (25 * align - 10) * align - 55;
    if (ver >= 7) n -= 36;
  }
  return n;
}

const qrDataCodewords = (ver) => Math.floor(qrRawModules(ver) / 8) - QR_ECC_PER_BLOCK[ver] * QR_BLOCKS[ver];

function qrMul(x, y) { // in GF(2^8) modulo x^8 + x^4 + x^3 + x^2 + 1
  let z = 0;
  for (let i = 7; i >= 0; i--) {
    z = (z << 1) ^ ((z >>> 7) * 0x11d);
    z ^= ((y >>> i) & 1) * x;
  }
  return z;
}

function qrDivisor(degree) { // Reed-Solomon generator polynomial, highest coefficient dropped
  const result = new Array(degree).fill(0);
  result[degree - 1] = 1;
  let root = 1;
  for (let i = 0; i < degree; i++) {
    for (let j = 0; j < degree; j++) {
      result[j] = qrMul(result[j], root);
      if (j + 1 < degree) result[j] ^= result[j + 1];
    }
    root = qrMul(root, 0x02);
  }
  return result;
}

function qrRemainder(data, divisor) {
  const result = divisor.map(() => 0);
  for (const b of data) {
    const factor = b ^ result.shift();
    result.push(0);
    divisor.forEach((coef, i) => { result[i] ^= qrMul(coef, factor); });
  }
  return result;
}

// Splits the data codewords into blocks, adds each block's ECC, interleaves them.
function qrInterleave(data, ver) {
  const blocks = QR_BLOCKS[ver], eccLen = QR_ECC_PER_BLOCK[ver];
  const raw = Math.floor(qrRawModules(ver) / 8);
  const shortBlocks = blocks - (raw % blocks), shortLen = Math.floor(raw / blocks);
  const divisor = qrDivisor(eccLen);
  const all = [];
  for (let i = 0, k = 0; i < blocks; i++) {
    const block = data.slice(k, k + shortLen - eccLen + (i < shortBlocks ? 0 : 1));
    k += block.length;
    const ecc = qrRemainder(block, divisor);
    if (i < shortBlocks) block.push(0); // a placeholder, skipped below
    all.push(block.concat(ecc));
  }
  const result = [];
  for (let i = 0; i < all[0].length; i++) {
    all.forEach((block, j) => { if (i !== shortLen - eccLen || j >= shortBlocks) result.push(block[i]); });
  }
  return result;
}

function qrAlignmentPositions(ver) {
  if (ver === 1) return [];
  const count = Math.floor(ver / 7) + 2;
  const step = Math.floor((ver * 8 + count * 3 + 5) / (count * 4 - 4)) * 2;
  const result = [6];
  for (let pos = ver * 4 + 17 - 7; result.length < count; pos -= step) result.splice(1, 0, pos);
  return result;
}

function qrPenalty(m) {
  const n = m.length;
  let penalty = 0, dark = 0;
  const line = (get) => { // runs of 5 or more, and finder-like 1:1:3:1:1 patterns with 4 light modules aside
    let p = 0, run = 1;
    for (let i = 1; i <= n; i++) {
      if (i < n && get(i) === get(i - 1)) run++;
      else { if (run >= 5) p += run - 2; run = 1; }
    }
    const pattern = [1, 0, 1, 1, 1, 0, 1];
    for (let i = 0; i + 7 <= n; i++) {
      if (!pattern.every((v, k) => Number(get(i + k)) === v)) continue;
      const lightBefore = [1, 2, 3, 4].every((k) => i - k < 0 || !get(i - k));
      const lightAfter = [0, 1, 2, 3].every((k) => i + 7 + k >= n || !get(i + 7 + k));
      if (lightBefore || lightAfter) p += 40;
    }
    return p;
  };
  for (let i = 0; i < n; i++) {
    penalty += line((j) => m[i][j]) + line((j) => m[j][i]);
    for (let j = 0; j < n; j++) {
      if (m[i][j]) dark++;
      if (i + 1 < n && j + 1 < n && m[i][j] === m[i][j + 1] && m[i][j] === m[i + 1][j] && m[i][j] === m[i + 1][j + 1]) penalty += 3;
    }
  }
  const total = n * n;
  return penalty + (Math.ceil(Math.abs(dark * 20 - total * 10) / total) - 1) * 10;
}

const QR_MASKS = [
  (x, y) => (x + y) % 2 === 0, (x, y) => y % 2 === 0, (x) => x % 3 === 0, (x, y) => (x + y) % 3 === 0,
  (x, y) => (Math.floor(x / 3) + Math.floor(y / 2)) % 2 === 0, (x, y) => (x * y) % 2 + (x * y) % 3 === 0,
  (x, y) => ((x * y) % 2 + (x * y) % 3) % 2 === 0, (x, y) => ((x + y) % 2 + (x * y) % 3) % 2 === 0,
];

function qrMatrix(text) {
  const bytes = [...new TextEncoder().encode(text)];
  let ver = 1;
  const bitsNeeded = (v) => 4 + (v <= 9 ? 8 : 16) + 8 * bytes.length;
  while (ver <= QR_MAX_VERSION && bitsNeeded(ver) > qrDataCodewords(ver) * 8) ver++;
  if (ver > QR_MAX_VERSION) throw new Error(`too long for a QR code of version ${QR_MAX_VERSION} (${bytes.length} bytes)`);
  // the bit stream: byte mode, the count, the bytes, a terminator, then padding to the capacity
  const bits = [];
  const put = (value, length) => { for (let i = length - 1; i >= 0; i--) bits.push((value >>> i) & 1); };
  put(0b0100, 4);
  put(bytes.length, ver <= 9 ? 8 : 16);
  for (const b of bytes) put(b, 8);
  const capacity = qrDataCodewords(ver) * 8;
  put(0, Math.min(4, capacity - bits.length));
  put(0, (8 - (bits.length % 8)) % 8);
  for (let pad = 0xec; bits.length < capacity; pad ^= 0xec ^ 0x11) put(pad, 8);
  const data = [];
  for (let i = 0; i < bits.length; i += 8) data.push(parseInt(bits.slice(i, i + 8).join(""), 2));
  const codewords = qrInterleave(data, ver);

  const size = ver * 4 + 17;
  const modules = Array.from({ length: size }, () => new Array(size).fill(false));
  const fixed = Array.from({ length: size }, () => new Array(size).fill(false));
  const set = (x, y, dark) => { modules[y][x] = dark; fixed[y][x] = true; };
  for (let i = 0; i < size; i++) { set(6, i, i % 2 === 0); set(i, 6, i % 2 === 0); } // timing
  for (const [cx, cy] of [[3, 3], [size - 4, 3], [3, size - 4]]) { // finders and their separators
    for (let dy = -4; dy <= 4; dy++) {
      for (let dx = -4; dx <= 4; dx++) {
        const d = Math.max(Math.abs(dx), Math.abs(dy)), x = cx + dx, y = cy + dy;
        if (x >= 0 && x < size && y >= 0 && y < size) set(x, y, d !== 2 && d !== 4);
      }
    }
  }
  const align = qrAlignmentPositions(ver);
  align.forEach((ay, i) => align.forEach((ax, j) => {
    if ((i === 0 && j === 0) || (i === 0 && j === align.length - 1) || (i === align.length - 1 && j === 0)) return;
    for (let dy = -2; dy <= 2; dy++) for (let dx = -2; dx <= 2; dx++) set(ax + dx, ay + dy, Math.max(Math.abs(dx), Math.abs(dy)) !== 1);
  }));
  const format = (mask) => { // 15 bits, twice
    const value = (QR_FORMAT_M << 3) | mask;
    let rem = value;
    for (let i = 0; i < 10; i++) rem = (rem << 1) ^ ((rem >>> 9) * 0x537);
    const f = ((value << 10) | rem) ^ 0x5412;
    const bit = (i) => ((f >>> i) & 1) === 1;
    for (let i = 0; i <= 5; i++) set(8, i, bit(i));
    set(8, 7, bit(6)); set(8, 8, bit(7)); set(7, 8, bit(8));
    for (let i = 9; i < 15; i++) set(14 - i, 8, bit(i));
    for (let i = 0; i < 8; i++) set(size - 1 - i, 8, bit(i));
    for (let i = 8; i < 15; i++) set(8, size - 15 + i, bit(i));
    set(8, size - 8, true); // the dark module
  };
  format(0); // reserves the format areas
  if (ver >= 7) { // version information, twice
    let rem = ver;
    for (let i = 0; i < 12; i++) rem = (rem << 1) ^ ((rem >>> 11) * 0x1f25);
    const v = (ver << 12) | rem;
    for (let i = 0; i < 18; i++) {
      const dark = ((v >>> i) & 1) === 1, a = size - 11 + (i % 3), b = Math.floor(i / 3);
      set(a, b, dark); set(b, a, dark);
    }
  }
  // the codewords, in two-module columns zigzagging up and down from the right, skipping the timing column
  let i = 0;
  for (let right = size - 1; right >= 1; right -= 2) {
    if (right === 6) right = 5;
    for (let vert = 0; vert < size; vert++) {
      for (let j = 0; j < 2; j++) {
        const x = right - j, upward = ((right + 1) & 2) === 0, y = upward ? size - 1 - vert : vert;
        if (!fixed[y][x] && i < codewords.length * 8) {
          modules[y][x] = ((codewords[i >>> 3] >>> (7 - (i & 7))) & 1) === 1;
          i++;
        }
      }
    }
  }
  const masked = (mask) => {
    format(mask);
    return modules.map((row, y) => row.map((dark, x) => (!fixed[y][x] && QR_MASKS[mask](x, y) ? !dark : dark)));
  };
  let best = null, bestPenalty = Infinity;
  for (let mask = 0; mask < 8; mask++) {
    const candidate = masked(mask);
    const penalty = qrPenalty(candidate);
    if (penalty < bestPenalty) { best = candidate; bestPenalty = penalty; }
  }
  return best;
}

// An SVG of the matrix with its 4-module quiet zone, one path for all dark modules.
function qrSvg(matrix, label) {
  const n = matrix.length + 8;
  const ns = "http://www.w3.org/2000/svg";
  const root = document.createElementNS(ns, "svg");
  for (const [k, v] of Object.entries({ viewBox: `0 0 ${n} ${n}`, class: "qr", role: "img", "aria-label": label,
    "shape-rendering": "crispEdges" })) root.setAttribute(k, v);
  const background = document.createElementNS(ns, "rect");
  for (const [k, v] of Object.entries({ width: n, height: n, fill: "#fff" })) background.setAttribute(k, v);
  const path = document.createElementNS(ns, "path");
  let d = "";
  matrix.forEach((row, y) => row.forEach((dark, x) => { if (dark) d += `M${x + 4} ${y + 4}h1v1h-1z`; }));
  path.setAttribute("d", d);
  path.setAttribute("fill", "#000");
  root.append(background, path);
  return root;
}
