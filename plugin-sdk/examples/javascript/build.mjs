// Builds a weir:plugin/filter component from app.js with componentize-js's library API
// (its `jco componentize` front end cannot read WIT files here; see README.md).
//
//   node build.mjs SOURCE WIT_DIR OUT_FILE
//
// Run from a directory whose node_modules holds @bytecodealliance/componentize-js.
import { componentize } from '@bytecodealliance/componentize-js';
import { writeFile } from 'node:fs/promises';

const [sourcePath, witPath, outFile] = process.argv.slice(2);
if (!sourcePath || !witPath || !outFile) {
  console.error('usage: node build.mjs SOURCE WIT_DIR OUT_FILE');
  process.exit(2);
}

const { component } = await componentize({
  sourcePath,
  witPath,
  worldName: 'weir:plugin/filter@0.1.0',
  // A filter makes no HTTP requests: leave out fetch() and wasi:http/outgoing-handler.
  // (The component still imports wasi:http/types, which the host links.)
  disableFeatures: ['http'],
});
await writeFile(outFile, component);
