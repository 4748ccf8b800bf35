import { workerInfo as kitWorkerInfo } from 'astro-cluster-kit/events';

/** Which process rendered this page: shown in the footer so a reader sees the cluster at work. */
export interface WorkerInfo {
  instance: string;
  pid: number;
  build: string;
}

export function workerInfo(): WorkerInfo {
  const { instance, pid, build } = kitWorkerInfo();
  return { instance, pid, build };
}
