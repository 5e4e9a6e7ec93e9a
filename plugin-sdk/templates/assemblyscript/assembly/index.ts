// {{name}}: a filter for Weir's `wasm` filter, the WebAssembly filter of Fluent Bit, whose ABI
// Weir runs unchanged (a core WebAssembly module, not a component).
//
// It adds "lang": "assemblyscript" to every record and drops the records whose "level" is
// "debug".
//
// The host calls the exported function once per record (Function_Name as_filter) with the tag,
// the time and the record as JSON text (Event_Format json), and reads the new record as
// NUL-terminated JSON at the returned pointer; 0 drops the record. The host copies its inputs
// into memory from AssemblyScript's runtime (__new/__pin, exported by --exportRuntime).
//
// AssemblyScript has no JSON parser in its standard library, so this works on the text: the
// host writes compact JSON (no spaces), in which a top-level string field reads `"level":"debug"`.

const LANG = "assemblyscript";
const DEBUG = '"level":"debug"';

// The last result, referenced until the next call so that the collector keeps it.
let result: ArrayBuffer = new ArrayBuffer(0);

export function as_filter(
  tag: usize,
  tag_len: u32,
  time_sec: u32,
  time_nsec: u32,
  record: usize,
  record_len: u32,
): usize {
  const text = String.UTF8.decodeUnsafe(record, record_len);
  if (text.includes(DEBUG)) {
    return 0;
  }
  const body = text.trimEnd();
  let out: string;
  if (!body.endsWith("}")) {
    out = text; // not an object: unchanged
  } else {
    const inner = body.slice(0, body.length - 1).trimEnd();
    const sep = inner.endsWith("{") ? "" : ",";
    out = inner + sep + '"lang":"' + LANG + '"}';
  }
  result = String.UTF8.encode(out, true); // NUL-terminated
  return changetype<usize>(result);
}
