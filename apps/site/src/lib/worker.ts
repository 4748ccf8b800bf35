/** Which process rendered this page: shown in the footer so a reader sees the cluster at work. */
export interface WorkerInfo {
  instance: string;
  pid: number;
  build: string;
}

export function workerInfo(): WorkerInfo {
  return {
    // PM2 numbers cluster workers 0..N-1; a process started by hand has none.
    instance: process.env.NODE_APP_INSTANCE ?? 'standalone',
    pid: process.pid,
    build: import.meta.env.BUILD_ID,
  };
}
