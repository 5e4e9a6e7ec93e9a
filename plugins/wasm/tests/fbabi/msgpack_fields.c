/*
 * A filter for Fluent Bit's wasm filter with event_format msgpack: adds
 * "zero":0 and "nul":"a\0b" to every record. Both new values hold zero bytes,
 * so a host that measured the result with strlen would cut it short.
 *
 *   exported:  unsigned char *add_fields(char *tag, int tag_len,
 *                                        unsigned sec, unsigned nsec,
 *                                        unsigned char *record, int record_len)
 *
 * `record` is the record's map as MessagePack; the result is the new map in a
 * static buffer. No libc.
 */
#define OUT_CAP 65536

static unsigned char out_buf[OUT_CAP];
static const unsigned char extra[] = {
    0xa4, 'z', 'e', 'r', 'o', 0x00,
    0xa3, 'n', 'u', 'l', 0xa3, 'a', 0x00, 'b',
};

__attribute__((export_name("add_fields")))
unsigned char *add_fields(char *tag, int tag_len, unsigned sec, unsigned nsec,
                          unsigned char *record, int record_len)
{
    unsigned n;
    int head, i, o = 0;
    (void) tag; (void) tag_len; (void) sec; (void) nsec;

    if (record_len < 1) {
        return record;
    }
    if ((record[0] & 0xf0) == 0x80) {
        n = record[0] & 0x0f;
        head = 1;
    } else if (record[0] == 0xde && record_len >= 3) {
        n = ((unsigned) record[1] << 8) | record[2];
        head = 3;
    } else if (record[0] == 0xdf && record_len >= 5) {
        n = ((unsigned) record[1] << 24) | ((unsigned) record[2] << 16) |
            ((unsigned) record[3] << 8) | record[4];
        head = 5;
    } else {
        return record;                 /* not a map: pass as is */
    }
    if (record_len - head + 5 + (int) sizeof(extra) > OUT_CAP) {
        return record;
    }
    n += 2;
    out_buf[o++] = 0xdf;               /* map 32 */
    out_buf[o++] = (unsigned char) (n >> 24);
    out_buf[o++] = (unsigned char) (n >> 16);
    out_buf[o++] = (unsigned char) (n >> 8);
    out_buf[o++] = (unsigned char) n;
    for (i = head; i < record_len; i++) {
        out_buf[o++] = record[i];
    }
    for (i = 0; i < (int) sizeof(extra); i++) {
        out_buf[o++] = extra[i];
    }
    return out_buf;
}
