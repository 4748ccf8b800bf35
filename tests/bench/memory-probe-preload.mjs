// Loaded into a probed server (NODE_OPTIONS=--import=…, see memory-probe.ts):
// on SIGUSR2 it collects garbage fully and writes the process's memory to
// MEMORY_PROBE_DIR/<pid>.json; on SIGWINCH it writes a heap snapshot there.
import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');
const dir = process.env.MEMORY_PROBE_DIR;
let snapshots = 0;

if (dir) {
  process.on('SIGUSR2', () => {
    // Twice: weak references and finalizers found by the first pass are collected by the second.
    gc();
    gc();
    const memory = process.memoryUsage();
    const heap = v8.getHeapStatistics();
    const file = path.join(dir, `${process.pid}.json`);
    const young = v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space');
    writeFileSync(`${file}.tmp`, JSON.stringify({ ...memory, heapCommitted: heap.total_physical_size, mallocedMemory: heap.malloced_memory, youngCommitted: young?.physical_space_size ?? 0, at: Date.now() }));
    renameSync(`${file}.tmp`, file);
  });
  process.on('SIGWINCH', () => {
    v8.writeHeapSnapshot(path.join(dir, `${process.pid}-${++snapshots}.heapsnapshot`));
    writeFileSync(path.join(dir, `${process.pid}-${snapshots}.done`), '');
  });
}
