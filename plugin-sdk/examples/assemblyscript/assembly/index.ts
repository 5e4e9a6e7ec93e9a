// A filter for the `wasm` filter plugin (Fluent Bit's ABI, `event_format json`):
// adds "lang":"assemblyscript" to every record and drops the records whose
// top-level "level" is "debug".
//
// The host calls the exported function once per record:
//
//   assemblyscript_filter(tag, tag_len, time_sec, time_nsec, record, record_len) -> result
//
// `record` points to the record as JSON text in this module's memory, `result`
// to the new record as NUL-terminated JSON text; an empty string drops the
// record. The host copies the inputs into memory it obtains from this module's
// runtime (`__new` and `__pin`, exported by `--exportRuntime`), as Fluent Bit
// does, and copies the result out before the next call.

const LANG: string = ',"lang":"assemblyscript"}';
const LANG_ALONE: string = '"lang":"assemblyscript"}';

// The result buffer, reused from call to call; a global keeps it alive.
let out: ArrayBuffer = new ArrayBuffer(256);
// The empty string that drops a record.
const EMPTY: ArrayBuffer = new ArrayBuffer(1);

function isSpace(c: u8): bool {
  return c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d;
}

// The index just past the string that starts (at its quote) at `i`.
function skipString(p: usize, len: i32, i: i32): i32 {
  i++;
  while (i < len) {
    const c = load<u8>(p + <usize>i);
    if (c == 0x5c) {
      i += 2; // a backslash escapes the next byte
      continue;
    }
    i++;
    if (c == 0x22) return i;
  }
  return len;
}

// The index just past the value that starts at `i` (strings, numbers, literals,
// nested objects and arrays).
function skipValue(p: usize, len: i32, i: i32): i32 {
  let depth = 0;
  while (i < len) {
    const c = load<u8>(p + <usize>i);
    if (c == 0x22) {
      i = skipString(p, len, i);
      if (depth == 0) return i;
      continue;
    }
    if (c == 0x7b || c == 0x5b) {
      depth++;
    } else if (c == 0x7d || c == 0x5d) {
      if (depth == 0) return i; // the end of the enclosing object
      depth--;
      if (depth == 0) return i + 1;
    } else if (c == 0x2c && depth == 0) {
      return i;
    }
    i++;
  }
  return len;
}

// Whether the `n` bytes at `p + i` are exactly `text` (ASCII).
function bytesEqual(p: usize, i: i32, n: i32, text: string): bool {
  if (n != text.length) return false;
  for (let k = 0; k < n; k++) {
    if (<i32>load<u8>(p + <usize>(i + k)) != text.charCodeAt(k)) return false;
  }
  return true;
}

// Whether the object's top-level "level" is the string "debug".
function isDebug(p: usize, len: i32): bool {
  let i = 0;
  while (i < len && isSpace(load<u8>(p + <usize>i))) i++;
  if (i >= len || load<u8>(p + <usize>i) != 0x7b) return false;
  i++;
  while (i < len) {
    while (i < len && (isSpace(load<u8>(p + <usize>i)) || load<u8>(p + <usize>i) == 0x2c)) i++;
    if (i >= len || load<u8>(p + <usize>i) != 0x22) return false;
    const keyStart = i + 1;
    i = skipString(p, len, i);
    const keyLen = i - 1 - keyStart;
    while (i < len && (isSpace(load<u8>(p + <usize>i)) || load<u8>(p + <usize>i) == 0x3a)) i++;
    if (bytesEqual(p, keyStart, keyLen, "level")) {
      if (i < len && load<u8>(p + <usize>i) == 0x22) {
        const valueStart = i + 1;
        const valueEnd = skipString(p, len, i) - 1;
        return bytesEqual(p, valueStart, valueEnd - valueStart, "debug");
      }
      return false;
    }
    i = skipValue(p, len, i);
  }
  return false;
}

function writeAscii(dst: usize, text: string): void {
  for (let k = 0; k < text.length; k++) {
    store<u8>(dst + <usize>k, <u8>text.charCodeAt(k));
  }
}

export function assemblyscript_filter(
  tag: usize,
  tagLen: i32,
  timeSec: u32,
  timeNsec: u32,
  record: usize,
  recordLen: i32,
): usize {
  if (isDebug(record, recordLen)) {
    return changetype<usize>(EMPTY);
  }
  // The object's closing brace, and whether anything comes before it.
  let end = recordLen - 1;
  while (end >= 0 && load<u8>(record + <usize>end) != 0x7d) end--;
  if (end < 1) {
    return record; // not an object: passed on as it is
  }
  let prev = end - 1;
  while (prev >= 0 && isSpace(load<u8>(record + <usize>prev))) prev--;
  const tail = load<u8>(record + <usize>prev) == 0x7b ? LANG_ALONE : LANG;
  const need = end + tail.length + 1;
  if (out.byteLength < need) {
    out = new ArrayBuffer(need * 2);
  }
  const dst = changetype<usize>(out);
  memory.copy(dst, record, <usize>end);
  writeAscii(dst + <usize>end, tail);
  store<u8>(dst + <usize>(end + tail.length), 0);
  return dst;
}
