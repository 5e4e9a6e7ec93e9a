// A filter for the `wasm` filter plugin (Fluent Bit's ABI, `event_format json`), in Go
// without TinyGo: adds "lang":"go" to every record and drops the records whose top-level
// "level" is "debug".
//
// The host calls the exported function once per record:
//
//	go_filter(tag, tag_len, time_sec, time_nsec, record, record_len) -> result
//
// `record` points to the record as JSON text in this module's memory and `result` to the new
// record as NUL-terminated JSON text; an empty string drops the record. The host copies the
// inputs into memory it asks this module for with the exported malloc and gives back with
// free (as Fluent Bit does): Go's runtime owns the module's memory, so the host must not take
// pages of its own.
//
// Built as a WASI reactor (`-buildmode=c-shared`): the host calls `_initialize` once, then the
// exports.
package main

import (
	"bytes"
	"encoding/json"
	"unsafe"
)

// Buffers handed to the host, kept referenced (so the collector leaves them alone) until it
// frees them. Go's collector does not move objects.
var lent = map[uintptr][]byte{}

// The result buffer, reused from call to call; a package variable keeps it alive.
var out []byte

// The empty string that drops a record.
var empty = []byte{0}

//go:wasmexport malloc
func malloc(size uint32) unsafe.Pointer {
	if size == 0 {
		size = 1
	}
	b := make([]byte, size)
	p := unsafe.Pointer(unsafe.SliceData(b))
	lent[uintptr(p)] = b
	return p
}

//go:wasmexport free
func free(p unsafe.Pointer) {
	delete(lent, uintptr(p))
}

var lang = []byte(`"lang":"go"`)

//go:wasmexport go_filter
func goFilter(tag unsafe.Pointer, tagLen int32, timeSec uint32, timeNsec uint32,
	record unsafe.Pointer, recordLen int32) unsafe.Pointer {
	rec := unsafe.Slice((*byte)(record), recordLen)
	var fields struct {
		Level *string `json:"level"`
	}
	if err := json.Unmarshal(rec, &fields); err != nil {
		// Not a JSON object: passed on as it is.
		return record
	}
	if fields.Level != nil && *fields.Level == "debug" {
		return unsafe.Pointer(unsafe.SliceData(empty))
	}
	// Splice the field in before the closing brace, so the record keeps its key order.
	end := bytes.LastIndexByte(rec, '}')
	if end < 0 {
		return record
	}
	body := bytes.TrimRight(rec[:end], " \t\r\n")
	out = append(out[:0], body...)
	if !bytes.HasSuffix(body, []byte("{")) {
		out = append(out, ',')
	}
	out = append(out, lang...)
	out = append(out, '}', 0)
	return unsafe.Pointer(unsafe.SliceData(out))
}

func main() {}
