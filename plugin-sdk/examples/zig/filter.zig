//! Weir filter plugin in Zig: tags every record with `"lang": "zig"` and drops the records
//! whose `level` is `"debug"`.
//!
//! It is a WebAssembly component built on the C bindings of the `filter` world
//! (plugin-sdk/c/filter): Zig imports their header (through `zig translate-c`) and exports
//! the three functions the header declares; the generated C does the canonical-ABI lifting and lowering.
//!
//! Events arrive as JSON lines (`describe()` asks for them), one per event:
//! `{"time_ns": ..., "metadata": {...}, "record": {...}}`. They are parsed with std.json with
//! `parse_numbers = false`, so every number, `time_ns` included, goes back out exactly as it
//! came in.
//!
//! Ownership follows the bindings: the plugin owns the batch it is given and frees it; what it
//! returns must come from libc's malloc, because the generated post-return code `free`s it
//! once the host has copied it. `std.heap.c_allocator` is plain malloc/free for byte slices.

const std = @import("std");
/// The header of the C bindings, translated by `zig translate-c` at build time (build.sh).
const c = @import("weir_filter");

const name = "example_zig";
const lang = "zig";
const drop_level = "debug";

const gpa = std.heap.c_allocator;

/// A string the bindings only read during the call (import arguments): no copy.
fn borrowed(s: []const u8) c.weir_filter_string_t {
    return .{ .ptr = @constCast(s.ptr), .len = s.len };
}

/// A string the bindings free after the call (return values): a malloc'd copy.
fn owned(out: *c.weir_filter_string_t, s: []const u8) void {
    c.weir_filter_string_dup_n(out, s.ptr, s.len);
}

export fn exports_weir_plugin_plugin_describe(ret: *c.exports_weir_plugin_plugin_plugin_info_t) void {
    owned(&ret.name, name);
    ret.kind = @intCast(c.WEIR_PLUGIN_TYPES_PLUGIN_KIND_FILTER);
    owned(&ret.description, "Adds \"lang\":\"zig\" to every record and drops debug records");
    owned(&ret.version, "0.1.0");
    ret.event_format = @intCast(c.WEIR_PLUGIN_TYPES_EVENT_FORMAT_JSON);
    ret.params = .{ .ptr = null, .len = 0 };
}

export fn exports_weir_plugin_plugin_init(err: *c.weir_filter_string_t) bool {
    _ = err;
    var msg = borrowed(name ++ " ready: dropping level=" ++ drop_level ++ " records");
    c.weir_plugin_host_log(@intCast(c.WEIR_PLUGIN_TYPES_LEVEL_INFO), &msg);
    return true;
}

const Outcome = struct {
    /// The kept events, as JSON lines; empty if none was kept.
    events: []u8,
    kept: u32,
    dropped: u64,
};

const FilterError = error{ OutOfMemory, NotJson, NoRecord };

/// Filters the JSON lines of `input`. On `NotJson`/`NoRecord`, `bad_line` is the failing
/// line's number.
fn filterLines(input: []const u8, bad_line: *usize) FilterError!Outcome {
    var arena = std.heap.ArenaAllocator.init(gpa);
    defer arena.deinit();
    var out: std.Io.Writer.Allocating = .init(gpa);
    defer out.deinit();

    var kept: u32 = 0;
    var dropped: u64 = 0;
    var lines = std.mem.splitScalar(u8, input, '\n');
    var number: usize = 0;
    while (lines.next()) |line| {
        number += 1;
        bad_line.* = number;
        if (std.mem.trim(u8, line, " \t\r").len == 0) continue;
        _ = arena.reset(.retain_capacity);
        var event = std.json.parseFromSliceLeaky(std.json.Value, arena.allocator(), line, .{
            .parse_numbers = false,
        }) catch |e| switch (e) {
            error.OutOfMemory => return error.OutOfMemory,
            else => return error.NotJson,
        };
        if (event != .object) return error.NoRecord;
        const record = event.object.getPtr("record") orelse return error.NoRecord;
        if (record.* != .object) return error.NoRecord;
        if (record.object.get("level")) |level| {
            if (level == .string and std.mem.eql(u8, level.string, drop_level)) {
                dropped += 1;
                continue;
            }
        }
        // An existing "lang" keeps its place and gets the new value.
        try record.object.put(arena.allocator(), "lang", .{ .string = lang });
        std.json.Stringify.value(event, .{}, &out.writer) catch return error.OutOfMemory;
        out.writer.writeByte('\n') catch return error.OutOfMemory;
        kept += 1;
    }
    return .{ .events = try out.toOwnedSlice(), .kept = kept, .dropped = dropped };
}

export fn exports_weir_filter_filter(
    events: *c.weir_filter_batch_t,
    ret: *c.weir_filter_list_batch_t,
    err: *c.weir_filter_string_t,
) bool {
    const input: []const u8 = if (events.events.len == 0) "" else events.events.ptr[0..events.events.len];
    var bad_line: usize = 0;
    const result = filterLines(input, &bad_line);
    c.weir_filter_list_u8_free(&events.events);

    const outcome = result catch |e| {
        c.weir_filter_string_free(&events.tag);
        var buf: [96]u8 = undefined;
        const msg = switch (e) {
            error.OutOfMemory => "out of memory",
            error.NotJson => std.fmt.bufPrint(&buf, "event {d} is not JSON", .{bad_line}) catch "bad event",
            error.NoRecord => std.fmt.bufPrint(&buf, "event {d} has no record object", .{bad_line}) catch "bad event",
        };
        owned(err, msg);
        return false;
    };

    if (outcome.dropped > 0) {
        var counter = borrowed("dropped");
        c.weir_plugin_host_counter_add(&counter, outcome.dropped);
    }
    if (outcome.kept == 0) {
        gpa.free(outcome.events);
        c.weir_filter_string_free(&events.tag);
        ret.* = .{ .ptr = null, .len = 0 };
        return true;
    }
    const batch = gpa.create(c.weir_filter_batch_t) catch {
        gpa.free(outcome.events);
        c.weir_filter_string_free(&events.tag);
        owned(err, "out of memory");
        return false;
    };
    batch.* = .{
        .tag = events.tag, // handed on: freed after the call with the rest of `ret`
        .events = .{ .ptr = outcome.events.ptr, .len = outcome.events.len },
        .count = outcome.kept,
    };
    ret.* = .{ .ptr = batch, .len = 1 };
    return true;
}
