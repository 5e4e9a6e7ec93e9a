// Weir filter plugin in C: tags every record with "lang": "c" and drops the records whose
// "level" is "debug".
//
// It asks for MessagePack events (Weir's own encoding, no conversion on the way in or out):
// the batch is a run of `[[time, metadata], record]` arrays, the record a map. The plugin
// copies each kept event's header untouched and rewrites only the record's map: the same
// entries (less any old "lang") plus "lang": "c". No MessagePack library is needed for that:
// the walker below only has to know how long each value is.
//
// Ownership follows the bindings (plugin-sdk/c/filter/weir_filter.h): the plugin owns the
// batch it is given and frees it; what it returns must come from malloc, because the
// generated post-return code frees it once the host has copied it.

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weir_filter.h"

#define NAME "example_c"
#define LANG "c"
#define DROP_LEVEL "debug"

// --- A growable output buffer ------------------------------------------------------------

typedef struct {
    uint8_t *ptr;
    size_t len;
    size_t cap;
    bool failed; // an allocation failed; the contents are not to be used
} buf_t;

static void buf_reserve(buf_t *b, size_t more) {
    if (b->failed || b->cap - b->len >= more) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < more) {
        if (cap > SIZE_MAX / 2) {
            b->failed = true;
            return;
        }
        cap *= 2;
    }
    uint8_t *p = realloc(b->ptr, cap);
    if (!p) {
        b->failed = true;
        return;
    }
    b->ptr = p;
    b->cap = cap;
}

static void buf_put(buf_t *b, const void *data, size_t n) {
    buf_reserve(b, n);
    if (b->failed) return;
    memcpy(b->ptr + b->len, data, n);
    b->len += n;
}

static void buf_byte(buf_t *b, uint8_t v) { buf_put(b, &v, 1); }

static void buf_be(buf_t *b, uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; i--) buf_byte(b, (uint8_t)(v >> (8 * i)));
}

// --- Just enough MessagePack -------------------------------------------------------------

static uint64_t be(const uint8_t *p, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v = (v << 8) | p[i];
    return v;
}

// Reads the header of the value at `p`. Sets `*children` to the number of values nested
// right inside it (2 per map entry) and returns the start of those (or of the next value), or
// NULL if the input ends early or the byte is not MessagePack.
static const uint8_t *mp_head(const uint8_t *p, const uint8_t *end, uint64_t *children) {
    *children = 0;
    if (p >= end) return NULL;
    uint8_t t = *p;
    size_t avail = (size_t)(end - p);
    uint64_t payload = 0; // bytes after the header
    size_t head = 1;
    if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3) {
        // fixint, nil, bool
    } else if (t >= 0x80 && t <= 0x8f) {
        *children = 2 * (uint64_t)(t & 0x0f);
    } else if (t >= 0x90 && t <= 0x9f) {
        *children = t & 0x0f;
    } else if (t >= 0xa0 && t <= 0xbf) {
        payload = t & 0x1f;
    } else {
        switch (t) {
        case 0xcc: case 0xd0: payload = 1; break;
        case 0xcd: case 0xd1: payload = 2; break;
        case 0xce: case 0xd2: case 0xca: payload = 4; break;
        case 0xcf: case 0xd3: case 0xcb: payload = 8; break;
        case 0xd4: payload = 2; break; // fixext: type byte + data
        case 0xd5: payload = 3; break;
        case 0xd6: payload = 5; break;
        case 0xd7: payload = 9; break;
        case 0xd8: payload = 17; break;
        case 0xc4: case 0xd9: head = 2; break; // bin8, str8
        case 0xc5: case 0xda: head = 3; break;
        case 0xc6: case 0xdb: head = 5; break;
        case 0xc7: head = 2; break; // ext8/16/32: length, then type byte + data
        case 0xc8: head = 3; break;
        case 0xc9: head = 5; break;
        case 0xdc: case 0xde: head = 3; break; // array16, map16
        case 0xdd: case 0xdf: head = 5; break;
        default: return NULL; // 0xc1 is never used
        }
        if (avail < head) return NULL;
        uint64_t n = be(p + 1, (int)head - 1);
        switch (t) {
        case 0xc4: case 0xc5: case 0xc6: case 0xd9: case 0xda: case 0xdb: payload = n; break;
        case 0xc7: case 0xc8: case 0xc9: payload = n + 1; break;
        case 0xdc: case 0xdd: *children = n; break;
        case 0xde: case 0xdf: *children = 2 * n; break;
        default: break;
        }
    }
    if (avail < head || avail - head < payload) return NULL;
    return p + head + payload;
}

// Skips one whole value, however deeply nested, without recursion.
static const uint8_t *mp_skip(const uint8_t *p, const uint8_t *end) {
    uint64_t pending = 1;
    while (pending > 0) {
        uint64_t children;
        p = mp_head(p, end, &children);
        if (!p) return NULL;
        // Every value still to come needs at least one byte: more of them than bytes left
        // is malformed, and checking it keeps `pending` from overflowing.
        uint64_t left = (uint64_t)(end - p);
        if (children > left) return NULL;
        pending = pending - 1 + children;
        if (pending > left) return NULL;
    }
    return p;
}

// If the value at `p` is a string, points `*s`/`*n` at its bytes.
static bool mp_str(const uint8_t *p, const uint8_t *end, const uint8_t **s, size_t *n) {
    uint64_t children;
    const uint8_t *next = mp_head(p, end, &children);
    if (!next) return false;
    uint8_t t = *p;
    size_t head;
    if (t >= 0xa0 && t <= 0xbf) head = 1;
    else if (t == 0xd9) head = 2;
    else if (t == 0xda) head = 3;
    else if (t == 0xdb) head = 5;
    else return false;
    *s = p + head;
    *n = (size_t)(next - p) - head;
    return true;
}

static bool mp_str_is(const uint8_t *p, const uint8_t *end, const char *want) {
    const uint8_t *s;
    size_t n;
    return mp_str(p, end, &s, &n) && n == strlen(want) && memcmp(s, want, n) == 0;
}

// The number of entries of the map at `p`, and where they start; NULL if it is not a map.
static const uint8_t *mp_map(const uint8_t *p, const uint8_t *end, uint64_t *entries) {
    if (p >= end) return NULL;
    uint8_t t = *p;
    if (!((t >= 0x80 && t <= 0x8f) || t == 0xde || t == 0xdf)) return NULL;
    uint64_t children;
    const uint8_t *body = mp_head(p, end, &children);
    *entries = children / 2;
    return body;
}

static void mp_put_map_header(buf_t *b, uint64_t entries) {
    if (entries < 16) {
        buf_byte(b, (uint8_t)(0x80 | entries));
    } else if (entries <= 0xffff) {
        buf_byte(b, 0xde);
        buf_be(b, entries, 2);
    } else {
        buf_byte(b, 0xdf);
        buf_be(b, entries, 4);
    }
}

static void mp_put_str(buf_t *b, const char *s) {
    size_t n = strlen(s); // only short constants here
    buf_byte(b, (uint8_t)(0xa0 | n));
    buf_put(b, s, n);
}

// --- The plugin ----------------------------------------------------------------------------

void exports_weir_plugin_plugin_describe(exports_weir_plugin_plugin_plugin_info_t *ret) {
    weir_filter_string_dup(&ret->name, NAME);
    ret->kind = WEIR_PLUGIN_TYPES_PLUGIN_KIND_FILTER;
    weir_filter_string_dup(&ret->description,
                           "Adds \"lang\":\"c\" to every record and drops debug records");
    weir_filter_string_dup(&ret->version, "0.1.0");
    ret->event_format = WEIR_PLUGIN_TYPES_EVENT_FORMAT_MSGPACK;
    ret->params.ptr = NULL;
    ret->params.len = 0;
}

bool exports_weir_plugin_plugin_init(weir_filter_string_t *err) {
    (void)err;
    weir_filter_string_t msg;
    weir_filter_string_set(&msg, NAME " ready: dropping level=" DROP_LEVEL " records");
    weir_plugin_host_log(WEIR_PLUGIN_TYPES_LEVEL_INFO, &msg);
    return true;
}

// Copies one event to `out` with "lang" set, or leaves `out` as it was if the event is to be
// dropped. Returns the end of the event, or NULL with `*why` set if it is malformed.
static const uint8_t *filter_event(const uint8_t *p, const uint8_t *end, buf_t *out,
                                   bool *dropped, const char **why) {
    *dropped = false;
    // [header, record]: a 2-array (fixarray 0x92).
    if (p >= end || *p != 0x92) {
        *why = "is not a [header, record] array";
        return NULL;
    }
    const uint8_t *header = p + 1;
    const uint8_t *record = mp_skip(header, end);
    if (!record) {
        *why = "has a malformed header";
        return NULL;
    }
    uint64_t entries;
    const uint8_t *entry = mp_map(record, end, &entries);
    if (!entry) {
        *why = "has a record that is not a map";
        return NULL;
    }

    // First pass: find the level, and whether "lang" is already there.
    uint64_t kept_entries = entries;
    const uint8_t *q = entry;
    for (uint64_t i = 0; i < entries; i++) {
        const uint8_t *value = mp_skip(q, end);
        const uint8_t *next = value ? mp_skip(value, end) : NULL;
        if (!next) {
            *why = "has a malformed record";
            return NULL;
        }
        if (mp_str_is(q, end, "level") && mp_str_is(value, end, DROP_LEVEL)) {
            *dropped = true;
        }
        if (mp_str_is(q, end, "lang")) kept_entries--;
        q = next;
    }
    if (*dropped) return q;

    // Second pass: the header verbatim, then the record less its old "lang", plus ours.
    buf_byte(out, 0x92);
    buf_put(out, header, (size_t)(record - header));
    mp_put_map_header(out, kept_entries + 1);
    q = entry;
    for (uint64_t i = 0; i < entries; i++) {
        const uint8_t *next = mp_skip(mp_skip(q, end), end); // checked in the first pass
        if (!mp_str_is(q, end, "lang")) buf_put(out, q, (size_t)(next - q));
        q = next;
    }
    mp_put_str(out, "lang");
    mp_put_str(out, LANG);
    return q;
}

bool exports_weir_filter_filter(weir_filter_batch_t *events, weir_filter_list_batch_t *ret,
                                weir_filter_string_t *err) {
    buf_t out = {0};
    uint32_t kept = 0;
    uint64_t dropped = 0;
    const uint8_t *p = events->events.ptr;
    const uint8_t *end = p + events->events.len;
    char msg[96];
    bool ok = true;

    for (uint64_t n = 1; p < end; n++) {
        bool drop;
        const char *why = "";
        p = filter_event(p, end, &out, &drop, &why);
        if (!p) {
            snprintf(msg, sizeof msg, "event %llu %s", (unsigned long long)n, why);
            ok = false;
            break;
        }
        if (drop) dropped++;
        else kept++;
    }
    if (ok && out.failed) {
        snprintf(msg, sizeof msg, "out of memory");
        ok = false;
    }
    weir_filter_list_u8_free(&events->events);

    if (!ok) {
        free(out.ptr);
        weir_filter_string_free(&events->tag);
        weir_filter_string_dup(err, msg);
        return false;
    }
    if (dropped > 0) {
        weir_filter_string_t name;
        weir_filter_string_set(&name, "dropped");
        weir_plugin_host_counter_add(&name, dropped);
    }
    if (kept == 0) {
        free(out.ptr);
        weir_filter_string_free(&events->tag);
        ret->ptr = NULL;
        ret->len = 0;
        return true;
    }
    weir_filter_batch_t *batch = malloc(sizeof *batch);
    if (!batch) {
        free(out.ptr);
        weir_filter_string_free(&events->tag);
        weir_filter_string_dup(err, "out of memory");
        return false;
    }
    batch->tag = events->tag; // handed on: freed after the call with the rest of `ret`
    batch->events.ptr = out.ptr;
    batch->events.len = out.len;
    batch->count = kept;
    ret->ptr = batch;
    ret->len = 1;
    return true;
}
