// {{name}}: a filter for Weir's `wasm` filter, the WebAssembly filter of Fluent Bit, whose ABI
// Weir runs unchanged (a core WebAssembly module, not a component).
//
// It adds "lang": "go" to every record and drops the records whose "level" is "debug".
//
// The host calls the exported function once per record (Function_Name go_filter) with the
// tag, the time and the record as JSON text (Event_Format json), and reads the new record as
// NUL-terminated JSON at the returned pointer; 0 drops the record. The host copies its inputs
// into memory it gets from the exported malloc, and gives it back with free.
package main

import (
	"bytes"
	"encoding/json"
	"unsafe"
)

const lang = "go"

// Buffers handed to the host, kept referenced until it frees them so that the garbage
// collector leaves them alone (it does not move memory).
var lent = map[uint32][]byte{}

//go:wasmexport malloc
func malloc(size uint32) uint32 {
	if size == 0 {
		size = 1
	}
	buf := make([]byte, size)
	p := uint32(uintptr(unsafe.Pointer(unsafe.SliceData(buf))))
	lent[p] = buf
	return p
}

//go:wasmexport free
func free(ptr uint32) {
	delete(lent, ptr)
}

// The last result, alive until the next call (the host copies it right after the call).
var result []byte

//go:wasmexport go_filter
func goFilter(tag uint32, tagLen uint32, timeSec uint32, timeNsec uint32, record uint32, recordLen uint32) uint32 {
	text := unsafe.Slice((*byte)(unsafe.Pointer(uintptr(record))), recordLen)

	// UseNumber keeps every number exactly as it came (no float64 round trip).
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	var rec map[string]any
	if err := dec.Decode(&rec); err != nil || rec == nil {
		// Not a JSON object: give it back unchanged (returning 0 would drop it).
		result = append(append(result[:0], text...), 0)
		return uint32(uintptr(unsafe.Pointer(&result[0])))
	}
	if level, ok := rec["level"].(string); ok && level == "debug" {
		return 0
	}
	rec["lang"] = lang
	out, err := json.Marshal(rec)
	if err != nil {
		return 0
	}
	result = append(out, 0)
	return uint32(uintptr(unsafe.Pointer(&result[0])))
}

// A c-shared wasip1 module is a reactor: the host calls _initialize, never main.
func main() {}
